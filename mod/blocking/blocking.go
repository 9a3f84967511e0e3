// Package blocking implements XEP-0191: Blocking Command. A user keeps a
// list of blocked JIDs; the server refuses what the user sends to them
// (not-acceptable with <blocked/>), refuses or drops what they send to the
// user so that the user appears offline to them, and never lets the user's
// presence reach them.
//
// Blocklists are kept in the Map named MapName: the owner is the user's
// bare JID, the key a blocked JID in normalised form, the value empty.
// Every stanza a local session sends and every stanza addressed to a local
// account is checked against a blocklist, so blocklists are cached in
// memory (Config.CacheSize users); the cache is written through by block
// and unblock commands, never read from storage per stanza.
//
// JIDs match as XEP-0191 §5 (and XEP-0016) says: an item user@domain/res
// matches only that full JID, user@domain matches it and all its full
// JIDs, domain/res only that JID, and domain the domain and every JID at
// it. Communication between the resources of one account is never blocked.
package blocking

import (
	"context"
	"sync"

	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces of XEP-0191.
const (
	// NS is the blocking command namespace and disco feature.
	NS = "urn:xmpp:blocking"
	// NSErrors qualifies the <blocked/> application error condition.
	NSErrors = "urn:xmpp:blocking:errors"
)

// MapName is the Map holding the blocklists.
const MapName = "blocking"

// Config is the [blocking] section.
type Config struct {
	// MaxItems bounds the number of JIDs one user may block (default
	// 1000; 0 or less: no limit). A block command that would go beyond it
	// is refused with <not-allowed/> and changes nothing.
	MaxItems int `toml:"max_items"`
	// CacheSize is the number of users whose blocklist is kept in memory
	// (default 10000; at least 1). Beyond it, arbitrary cached lists are
	// evicted and read again from storage when next needed.
	CacheSize int `toml:"cache_size"`
}

// Defaults of Config.
const (
	DefaultMaxItems  = 1000
	DefaultCacheSize = 10000
)

// Module serves the blocklist, block and unblock commands on every
// account, advertises urn:xmpp:blocking on the server (XEP-0191 §3.1:
// clients ask their server) and enforces the blocklists on the inbound and
// deliver hooks (module/order.go runs it before archiving and carbons).
var Module = module.New("blocking", Config{
	MaxItems:  DefaultMaxItems,
	CacheSize: DefaultCacheSize,
}, start).WithSection("blocking").WithRequires("roster")

func start(h *module.Host, cfg Config) error {
	if cfg.CacheSize < 1 {
		cfg.CacheSize = 1
	}
	b := newBlocker(h, cfg)
	register(h, b)
	h.AddFeature(module.ServerTarget, NS)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "blocklist"), b.get)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "block"), b.block)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "unblock"), b.unblock)
	h.OnInbound(b.inbound)
	h.OnDeliver(b.deliver)
	return nil
}

// blocker is the module on one virtual host.
type blocker struct {
	h     *module.Host
	cfg   Config
	m     storage.Map
	cache *cache
	locks ownerLocks

	// exempt holds the unavailable presence stanzas a block command sends
	// to the newly blocked contacts (XEP-0191 §3.3) while they are routed:
	// they are the one thing from the user that must still reach them.
	exempt sync.Map // *stanza.Element -> struct{}
}

func newBlocker(h *module.Host, cfg Config) *blocker {
	return &blocker{h: h, cfg: cfg, m: h.Map(MapName), cache: newCache(cfg.CacheSize)}
}

// hostKey identifies one virtual host of one server. The deliver hook runs
// on the addressee's host, but a stanza the server generates for a user of
// another local host is checked against that user's blocklist, kept by
// the blocker of the user's host: blockers find each other by hostKey.
type hostKey struct {
	store  storage.Store
	domain string
}

// blockers maps a hostKey to the *blocker started on that host.
var blockers sync.Map

// register records b as the blocker of h's virtual host until the server
// stops.
func register(h *module.Host, b *blocker) {
	k := hostKey{h.Store(), h.Domain()}
	blockers.Store(k, b)
	h.Go(func(ctx context.Context) {
		<-ctx.Done()
		// A newer start on the same host (reload) replaced b: leave it.
		blockers.CompareAndDelete(k, b)
	})
}

// blockerFor returns the blocker of the local domain, or nil when the
// module does not run there.
func (b *blocker) blockerFor(domain string) *blocker {
	if domain == b.h.Domain() {
		return b
	}
	if o, ok := blockers.Load(hostKey{b.h.Store(), domain}); ok {
		return o.(*blocker)
	}
	return nil
}

// Package roster implements RFC 6121 §2: roster management, with roster
// versioning (RFC 6121 §2.6, formerly XEP-0237) and the storage side of
// subscription pre-approval (RFC 6121 §3.4).
//
// The roster of an account is kept in the Map named MapName: the owner is
// the account's bare JID, the key the contact's JID, the value a compact
// JSON record of the item (name, groups, subscription, pending out, pending
// in with the subscribe stanza to redeliver, pre-approval). The roster
// version lives in the Map named VersionMapName.
//
// Besides answering roster gets and sets, the package exports what
// hearth/mod/presence needs to run the subscription state machine: Get,
// Items and Update. Update serialises changes per owner, so concurrent
// updates from several resources and from inbound subscription stanzas
// never lose writes, and pushes every visible change to the owner's
// interested resources (RFC 6121 §2.1.6).
//
// An item that only records an inbound subscription request (state "None +
// Pending In" of an entity the user never added) is hidden: RFC 6121 §3.1.3
// keeps it out of roster results and pushes until the user adds the contact
// or approves the request.
package roster

import (
	"context"
	"sync"

	"hearth/jid"
	"hearth/mod/internal/online"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces of the roster protocol and of its stream features.
const (
	// NS is the roster namespace (RFC 6121 §2).
	NS = "jabber:iq:roster"
	// NSVersioning is the stream feature of roster versioning (RFC 6121 §2.6.1).
	NSVersioning = "urn:xmpp:features:rosterver"
	// NSPreApproval is the stream feature of subscription pre-approval
	// (RFC 6121 §3.4.1).
	NSPreApproval = "urn:xmpp:features:pre-approval"
)

// Storage names.
const (
	// MapName is the Map holding roster items.
	MapName = "roster"
	// VersionMapName is the Map holding each roster's version under the key
	// versionKey.
	VersionMapName = "roster.version"
	versionKey     = "ver"
)

// Config is the [roster] section.
type Config struct {
	// MaxItems bounds the number of items a roster holds, hidden pending
	// requests included (default 1000; 0 or less: no limit). A roster set
	// adding an item beyond it fails with <not-allowed/>, and an inbound
	// subscription request from a new contact is refused with
	// <resource-constraint/>.
	MaxItems int `toml:"max_items"`
	// MaxNameLength bounds the 'name' of an item in bytes (default 1023);
	// a longer name is refused with <not-acceptable/> (RFC 6121 §2.3.3).
	MaxNameLength int `toml:"max_name_length"`
	// MaxGroupLength bounds the name of a group in bytes (default 1023);
	// a longer one is refused with <not-acceptable/> (RFC 6121 §2.3.3).
	MaxGroupLength int `toml:"max_group_length"`
}

// Defaults of Config.
const (
	DefaultMaxItems       = 1000
	DefaultMaxNameLength  = 1023
	DefaultMaxGroupLength = 1023
)

// Module serves roster gets and sets on every account, advertises roster
// versioning and pre-approval as stream features, and offers the item API
// used by hearth/mod/presence.
var Module = module.New("roster", Config{
	MaxItems:       DefaultMaxItems,
	MaxNameLength:  DefaultMaxNameLength,
	MaxGroupLength: DefaultMaxGroupLength,
}, start)

func start(h *module.Host, cfg Config) error {
	register(h, cfg)
	h.AddStreamFeature(stanza.New(NSVersioning, "ver"))
	h.AddStreamFeature(stanza.New(NSPreApproval, "sub"))
	r := &rosterIQ{h: h, cfg: cfg}
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "query"), r.get)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "query"), r.set)
	return nil
}

// hostKey identifies one virtual host of one server: the exported
// functions receive another module's *module.Host, so the roster's settings
// are found by what both hosts share.
type hostKey struct {
	store  storage.Store
	domain string
}

// hostState is what the module keeps for one virtual host: its settings
// and the cache of its online accounts' rosters.
type hostState struct {
	cfg   Config
	cache *cache
}

// hosts maps a hostKey to the *hostState of the module started on it.
var hosts sync.Map

// register records cfg for h's virtual host until h's context ends (the
// server stops), so that Update called through presence's Host applies the
// same limits and shares the cache.
func register(h *module.Host, cfg Config) {
	k := hostKey{h.Store(), h.Domain()}
	st := &hostState{cfg: cfg, cache: online.New[[]Item](h)}
	hosts.Store(k, st)
	h.Go(func(ctx context.Context) {
		<-ctx.Done()
		// A newer start on the same host (reload) replaced st: leave it.
		hosts.CompareAndDelete(k, st)
	})
}

func stateOf(h *module.Host) *hostState {
	if st, ok := hosts.Load(hostKey{h.Store(), h.Domain()}); ok {
		return st.(*hostState)
	}
	return nil
}

// configFor returns the Config of h's virtual host, or the defaults when
// the roster module does not run there.
func configFor(h *module.Host) Config {
	if st := stateOf(h); st != nil {
		return st.cfg
	}
	return Config{MaxItems: DefaultMaxItems, MaxNameLength: DefaultMaxNameLength, MaxGroupLength: DefaultMaxGroupLength}
}

// invalidate empties the cached roster of owner after a change.
func invalidate(h *module.Host, owner jid.JID) {
	if st := stateOf(h); st != nil {
		st.cache.Invalidate(owner)
	}
}

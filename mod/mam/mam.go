// Package mam implements XEP-0313: Message Archive Management for user
// archives (urn:xmpp:mam:2 and urn:xmpp:mam:2#extended), with XEP-0359
// stanza IDs, XEP-0059 result set paging, results forwarded as XEP-0297
// says with XEP-0203 delay stamps, the XEP-0441 archiving preferences and
// the storage hints of XEP-0334.
//
// Every 1:1 message a local account sends or receives is archived once in
// that account's archive (the Archive named ArchiveName, owner the
// account's bare JID) when shouldArchive says it holds conversation
// content and the account's preferences allow it. Item.With is the peer
// as the stanza names it (the 'from' of an incoming message, the 'to' of
// an outgoing one: a full JID when it has a resource), so that a query
// 'with' a bare JID matches every resource of it (storage.Query.WithPrefix)
// and one 'with' a full JID matches that resource only. Item.Data is the
// stanza as stanza.Element.String encodes it (in jabber:client), without
// the <stanza-id/> this module adds; Item.Time is when it was archived.
//
// docs/design/003-mam.md explains the choices: what is archived, where the
// <stanza-id/> goes, and what paging promises.
package mam

import (
	"context"
	"fmt"
	"sync"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// Namespaces.
const (
	// NS is the MAM namespace (XEP-0313), also that of the XEP-0441
	// preferences.
	NS = "urn:xmpp:mam:2"
	// NSExtended is the disco feature of before-id, after-id, ids, flipped
	// pages and the metadata query (XEP-0313 §7).
	NSExtended = "urn:xmpp:mam:2#extended"
	// NSGroupchatField is the disco feature saying that the query form
	// understands 'include-groupchat' (XEP-0313 §7). User archives here
	// never hold groupchat messages, so the field changes nothing.
	NSGroupchatField = "urn:xmpp:mam:2#groupchat-field"
	// NSStanzaID is the XEP-0359 namespace of <stanza-id/>.
	NSStanzaID = "urn:xmpp:sid:0"
	// NSRSM is the XEP-0059 result set management namespace.
	NSRSM = "http://jabber.org/protocol/rsm"
	// NSForward is the XEP-0297 namespace of <forwarded/>.
	NSForward = "urn:xmpp:forward:0"
	// NSDelay is the XEP-0203 namespace of <delay/>.
	NSDelay = "urn:xmpp:delay"
	// NSHints is the XEP-0334 namespace of processing hints.
	NSHints = "urn:xmpp:hints"
	// NSValidate is the XEP-0122 namespace of data form validation, used
	// to mark the 'ids' field as open.
	NSValidate = "http://jabber.org/protocol/xdata-validate"
)

// Storage names.
const (
	// ArchiveName is the Archive holding every user archive.
	ArchiveName = "mam"
	// PrefsMapName is the Map holding each account's preferences under
	// the key prefsKey.
	PrefsMapName = "mam.prefs"
	prefsKey     = "prefs"
)

// Archiving policies: the 'default' of XEP-0441 preferences.
const (
	PolicyAlways = "always"
	PolicyRoster = "roster"
	PolicyNever  = "never"
)

// Config is the [mam] section.
type Config struct {
	// Default is the archiving policy of accounts that never set
	// preferences: "always" (the default), "roster" or "never".
	Default string `toml:"default"`
	// DefaultPage is the page size of a query without RSM <max/> (default 50).
	DefaultPage int `toml:"default_page"`
	// MaxPage bounds the page size (default 250): a larger <max/> is
	// lowered to it. It also bounds the number of ids a query may list.
	MaxPage int `toml:"max_page"`
	// MaxPageBytes bounds the encoded size of the result messages of one
	// page (default 256 KiB), so that a page of large messages cannot
	// overflow the session's output queue (stream max_queue_bytes, 1 MiB
	// by default): the page is cut short, marked incomplete, and the
	// client asks for the rest. A page always holds at least one item.
	MaxPageBytes int `toml:"max_page_bytes"`
	// RetentionDays is how long items are kept (default 0: forever).
	RetentionDays int `toml:"retention_days"`
	// CleanupInterval is the number of seconds between two removals of
	// expired items when RetentionDays is set (default 3600).
	CleanupInterval int `toml:"cleanup_interval"`
	// MaxPrefsJIDs bounds the JIDs of one account's <always/> and <never/>
	// lists together (default 1000; 0 or less: no limit); a larger set is
	// refused with <policy-violation/>.
	MaxPrefsJIDs int `toml:"max_prefs_jids"`
	// MaxCount bounds the XEP-0059 <count/> of a query (default 10000; 0
	// or less: no bound). Counting is linear in the archive on every
	// backend; above the bound the result carries no <count/> (and no
	// index), which XEP-0059 allows, and costs at most MaxCount rows.
	MaxCount int `toml:"max_count"`
}

// Defaults of Config.
const (
	DefaultPage            = 50
	DefaultMaxPage         = 250
	DefaultMaxPageBytes    = 256 << 10
	DefaultCleanupInterval = 3600
	DefaultMaxPrefsJIDs    = 1000
	DefaultMaxCount        = 10000
)

// Module archives the messages of every account of the host and answers
// MAM queries, preference and metadata requests on each account's bare JID.
var Module = module.New("mam", Config{
	Default:         PolicyAlways,
	DefaultPage:     DefaultPage,
	MaxPage:         DefaultMaxPage,
	MaxPageBytes:    DefaultMaxPageBytes,
	CleanupInterval: DefaultCleanupInterval,
	MaxPrefsJIDs:    DefaultMaxPrefsJIDs,
	MaxCount:        DefaultMaxCount,
}, start).WithSection("mam").WithRequires("roster")

func (c Config) validate() error {
	switch {
	case !validPolicy(c.Default):
		return fmt.Errorf("[mam] default: %q is not %q, %q or %q", c.Default, PolicyAlways, PolicyRoster, PolicyNever)
	case c.MaxPage < 1:
		return fmt.Errorf("[mam] max_page: %d is less than 1", c.MaxPage)
	case c.DefaultPage < 1 || c.DefaultPage > c.MaxPage:
		return fmt.Errorf("[mam] default_page: %d is not between 1 and max_page (%d)", c.DefaultPage, c.MaxPage)
	case c.MaxPageBytes < 1:
		return fmt.Errorf("[mam] max_page_bytes: %d is less than 1", c.MaxPageBytes)
	case c.RetentionDays < 0:
		return fmt.Errorf("[mam] retention_days: %d is negative (0 keeps items forever)", c.RetentionDays)
	case c.CleanupInterval < 1:
		return fmt.Errorf("[mam] cleanup_interval: %d is less than 1 second", c.CleanupInterval)
	}
	return nil
}

func validPolicy(p string) bool {
	return p == PolicyAlways || p == PolicyRoster || p == PolicyNever
}

// mam holds what the hooks and handlers of one host share.
type mam struct {
	h          *module.Host
	cfg        Config
	w          *writer
	prefsCache prefsCache
	senders    senderIDs
}

// prefsCache holds the archiving preferences read so far by bare JID. It
// is typed, not a sync.Map, so that the lookup made for every message
// boxes no JID into an interface (an allocation per message).
type prefsCache struct {
	mu sync.RWMutex
	m  map[jid.JID]prefs
}

func (c *prefsCache) Load(owner jid.JID) (prefs, bool) {
	c.mu.RLock()
	p, ok := c.m[owner]
	c.mu.RUnlock()
	return p, ok
}

func (c *prefsCache) Store(owner jid.JID, p prefs) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[jid.JID]prefs)
	}
	c.m[owner] = p
	c.mu.Unlock()
}

func (c *prefsCache) Delete(owner jid.JID) {
	c.mu.Lock()
	delete(c.m, owner)
	c.mu.Unlock()
}

func start(h *module.Host, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	m := &mam{h: h, cfg: cfg, w: newWriter(h)}
	h.OnDeliver(m.incoming)
	h.OnUndelivered(m.bounced)
	h.OnUserDeleted(func(_ context.Context, user jid.JID) { m.prefsCache.Delete(user.Bare()) })
	h.OnInbound(m.outgoing)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "query"), m.query)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "query"), m.queryForm)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "metadata"), m.metadata)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "prefs"), m.getPrefs)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "prefs"), m.setPrefs)
	h.AddFeature(module.AccountTarget, NS, NSExtended, NSGroupchatField, NSStanzaID)
	if cfg.RetentionDays > 0 {
		h.Go(m.cleaner)
	}
	return nil
}

// ownArchive checks that req comes from the archive's owner: a user's
// archive is theirs alone (XEP-0313 §8.1 says forbidden otherwise).
func ownArchive(req module.IQRequest) error {
	if req.From.Bare() != req.To {
		return &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only the account may use its archive"}
	}
	return nil
}

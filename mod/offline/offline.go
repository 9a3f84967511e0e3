// Package offline implements XEP-0160: Best Practices for Handling Offline
// Messages. A message of type normal or chat that reaches an existing
// account with no available session of non-negative priority is stored,
// with a XEP-0203 <delay/> saying when the server received it, and
// delivered to the next session that sends initial presence with a
// non-negative priority, in the order the messages arrived. A message is
// deleted once that session's client has it — acknowledged it with
// XEP-0198 stream management, or, without, once it was written to the
// connection — and delivery is paced below the session's output queue
// limit (deliver.go).
//
// What is stored follows XEP-0160 §3 and the XEP-0334 processing hints
// (see classify): <no-store/> messages are refused, messages carrying only
// XEP-0085 chat states are dropped silently, <store/> keeps a message that
// would otherwise be dropped. <no-permanent-store/> does not prevent offline
// storage, which is temporary by nature (XEP-0334 §3: the sender "may be
// happy for it to be stored temporarily [...] if the recipient is offline").
//
// Storage: the Archive named ArchiveName, owner = the account's bare JID,
// one item per message, Data = the message as serialised XML (with the
// <delay/> already added), With = the sender's JID.
package offline

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/storage"
)

// Namespaces and features used by the module.
const (
	// Feature is the disco#info feature of a server that stores offline
	// messages (XEP-0160 §4).
	Feature = "msgoffline"
	// NSDelay is the XEP-0203 Delayed Delivery namespace.
	NSDelay = "urn:xmpp:delay"
	// NSHints is the XEP-0334 Message Processing Hints namespace.
	NSHints = "urn:xmpp:hints"
	// NSChatStates is the XEP-0085 Chat State Notifications namespace.
	NSChatStates = "http://jabber.org/protocol/chatstates"
	// NSStanzaID is the XEP-0359 namespace (<stanza-id/>, <origin-id/>).
	NSStanzaID = "urn:xmpp:sid:0"
)

// ArchiveName is the Archive holding stored messages.
const ArchiveName = "offline"

// Config is the [offline] section.
type Config struct {
	// MaxMessages bounds the messages stored for one account (default
	// 1000). When an account holds that many, a further message is not
	// stored and its sender gets <service-unavailable/> (XEP-0160 §2,
	// step 3). 0 disables storage: messages to offline users are bounced
	// as if the module were absent and msgoffline is not advertised, but
	// messages stored earlier are still delivered. A negative value is a
	// startup error.
	MaxMessages int `toml:"max_messages"`
}

// DefaultMaxMessages is the default of Config.MaxMessages.
const DefaultMaxMessages = 1000

// Module stores messages for offline accounts and delivers them at initial
// presence. It reads the [offline] section.
var Module = module.New("offline", Config{MaxMessages: DefaultMaxMessages}, start).WithSection("offline")

// now is the clock of delay stamps; tests replace it.
var now = time.Now

func start(h *module.Host, cfg Config) error {
	if cfg.MaxMessages < 0 {
		return fmt.Errorf("offline.max_messages: %d is negative (0 disables offline storage)", cfg.MaxMessages)
	}
	o := &offline{
		h:       h,
		archive: h.Archive(ArchiveName),
		seed:    maphash.MakeSeed(),
		window:  h.Settings().MaxQueueBytes / 4,
		active:  map[module.Session]*delivery{},
		claimed: map[jid.JID]map[string]*delivery{},
		empty:   map[jid.JID]struct{}{},
	}
	if o.window <= 0 {
		o.window = defaultWindow
	}
	o.max.Store(int64(cfg.MaxMessages))
	enabled := cfg.MaxMessages > 0
	if enabled {
		h.AddFeature(module.ServerTarget, Feature)
		h.OnUndelivered(o.undelivered)
	}
	// max_messages changes live, except between 0 (disabled) and a
	// positive value, which changes what is advertised and hooked.
	module.OnReload(h, func(cfg Config) error {
		switch {
		case cfg.MaxMessages < 0:
			return fmt.Errorf("offline.max_messages: %d is negative", cfg.MaxMessages)
		case (cfg.MaxMessages > 0) != enabled:
			return fmt.Errorf("offline.max_messages: enabling or disabling offline storage: %w", module.ErrNeedsRestart)
		}
		o.max.Store(int64(cfg.MaxMessages))
		return nil
	})
	// Registered even when storage is disabled, so that messages stored
	// under an earlier configuration are still delivered.
	h.OnSessionAvailable(o.sessionAvailable)
	return nil
}

// lockStripes is the number of owner locks; owners share them by hash, so
// memory stays fixed however many accounts there are.
const lockStripes = 64

type offline struct {
	h       *module.Host
	archive storage.Archive
	max     atomic.Int64 // max_messages; changed by a reload
	seed    maphash.Seed

	// window is how many bytes of stored messages a delivery lets wait
	// for confirmation (deliver.go).
	window int

	// locks serialise, per owner, the count-then-append of a store, so
	// that the limit is exact. A lock is held across storage calls, with
	// no other lock held (docs/locking.md).
	locks [lockStripes]sync.Mutex

	// mu guards the running deliveries and their claims (deliver.go); it
	// is never held across a storage call or a send.
	mu      sync.Mutex
	active  map[module.Session]*delivery
	claimed map[jid.JID]map[string]*delivery // owner -> stored message ID -> delivery holding it

	// empty holds the accounts known to have no stored messages, so that
	// their logins skip the storage read: a delivery that read nothing
	// from the start adds its owner, unless a message was stored since it
	// began (stores counts them), and every store removes its owner after
	// its append. Only this module stores offline messages while the
	// server runs (an import into a running server's database is
	// delivered after the next message stored through it, or a restart).
	emptyMu sync.Mutex
	empty   map[jid.JID]struct{}
	stores  uint64
}

// storesSoFar returns the number of messages stored so far, which a
// delivery reads before it queries.
func (o *offline) storesSoFar() uint64 {
	o.emptyMu.Lock()
	defer o.emptyMu.Unlock()
	return o.stores
}

// markEmpty records that owner has no stored messages, read when stores
// was at gen, unless a message was stored since.
func (o *offline) markEmpty(owner jid.JID, gen uint64) {
	o.emptyMu.Lock()
	defer o.emptyMu.Unlock()
	if o.stores == gen {
		o.empty[owner] = struct{}{}
	}
}

// stored notes a message appended for owner.
func (o *offline) stored(owner jid.JID) {
	o.emptyMu.Lock()
	defer o.emptyMu.Unlock()
	o.stores++
	delete(o.empty, owner)
}

// knownEmpty reports whether owner is known to have no stored messages.
func (o *offline) knownEmpty(owner jid.JID) bool {
	o.emptyMu.Lock()
	defer o.emptyMu.Unlock()
	_, ok := o.empty[owner]
	return ok
}

// lock locks owner's stripe and returns its unlock function.
func (o *offline) lock(owner jid.JID) func() {
	mu := &o.locks[maphash.String(o.seed, owner.String())%lockStripes]
	mu.Lock()
	return mu.Unlock
}

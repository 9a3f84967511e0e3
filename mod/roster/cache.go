package roster

import (
	"context"
	"sync"

	"hearth/jid"
	"hearth/module"
)

// The rosters of online accounts are kept in memory. A login reads its
// roster three times (the roster get, the initial presence broadcast and
// the unavailable broadcast when the session ends), and every presence
// probe, subscription stanza and PEP notification of a contact reads an
// item; with the cache, a session's roster is read from storage once.
//
// Every change made through this package (Update, roster sets) goes
// through the owner's lock and invalidates the owner's entry after it is
// stored, and a load that started before an invalidation does not fill
// the entry (the generation counter), so the cache never serves what
// storage no longer holds. Writes that bypass this package while the
// account is online (hearth deluser on the database of the running
// server) are seen by the account's next login: an entry is emptied when
// its first session binds.
//
// An entry lives while the account has bound sessions: the roster's
// session hooks run before presence's first read of a new session and
// after its unavailable broadcast (module/order.go).
type cache struct {
	mu      sync.Mutex
	entries map[jid.JID]*entry
}

type entry struct {
	sessions int    // bound sessions of the owner
	gen      uint64 // incremented by every invalidation
	loaded   bool
	items    []Item
}

func newCache() *cache { return &cache{entries: map[jid.JID]*entry{}} }

// start hooks the cache to h's sessions and account deletions.
func (c *cache) start(h *module.Host) {
	h.OnSessionBound(func(_ context.Context, s module.Session) { c.bound(s.JID().Bare()) })
	h.OnSessionClosed(func(_ context.Context, s module.Session) { c.closed(s.JID().Bare()) })
	h.OnUserDeleted(func(_ context.Context, user jid.JID) { c.invalidate(user.Bare()) })
}

func (c *cache) bound(owner jid.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[owner]
	if e == nil {
		e = &entry{} // empty: the first session reads storage
		c.entries[owner] = e
	}
	e.sessions++
}

func (c *cache) closed(owner jid.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[owner]
	if e == nil {
		return
	}
	if e.sessions--; e.sessions <= 0 {
		delete(c.entries, owner)
	}
}

// invalidate empties owner's entry; a load under way does not fill it.
func (c *cache) invalidate(owner jid.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[owner]; e != nil {
		e.drop()
	}
}

func (e *entry) drop() {
	e.gen++
	e.loaded, e.items = false, nil
}

// items returns owner's items through the cache: load reads them from
// storage when the entry holds none. Owners without an entry (offline
// accounts) are read every time.
func (c *cache) items(owner jid.JID, load func() ([]Item, error)) ([]Item, error) {
	c.mu.Lock()
	e := c.entries[owner]
	if e == nil {
		c.mu.Unlock()
		return load()
	}
	if e.loaded {
		out := cloneItems(e.items)
		c.mu.Unlock()
		return out, nil
	}
	gen := e.gen
	c.mu.Unlock()
	items, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries[owner] == e && e.gen == gen {
		e.loaded, e.items = true, cloneItems(items)
	}
	c.mu.Unlock()
	return items, nil
}

// item returns owner's item for contact from a loaded entry; ok is false
// when the entry holds no items (the caller reads storage).
func (c *cache) item(owner, contact jid.JID) (it Item, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[owner]
	if e == nil || !e.loaded {
		return Item{}, false
	}
	for i := range e.items {
		if e.items[i].JID == contact {
			return deepClone(e.items[i]), true
		}
	}
	// Not stored: what load returns for an absent item.
	return Item{JID: contact, Hidden: true}, true
}

// cloneItems copies items so that neither the cache nor its callers see
// the other's changes.
func cloneItems(items []Item) []Item {
	out := make([]Item, len(items))
	for i := range items {
		out[i] = deepClone(items[i])
	}
	return out
}

func deepClone(it Item) Item {
	it = it.clone()
	if it.PendingIn != nil {
		it.PendingIn = it.PendingIn.Copy()
	}
	return it
}

// Package online keeps a value per account while the account has bound
// sessions: what the modules read from storage for every stanza or login
// of an online account (its roster, its avatar hash) is read once.
//
// A Cache is correct only if every change of the value goes through the
// module that owns it, which calls Invalidate after the change is stored:
// a load that started before an invalidation does not fill the entry (a
// generation counter), so the cache never serves what storage no longer
// holds. Writes that bypass the server while the account is online (hearth
// deluser on the database of the running server) are seen at its next
// login: an entry starts empty when the account's first session binds and
// goes when the last one closes. The session hooks' order table
// (module/order.go) places a module using a Cache before the other
// modules on session-bound and after them on session-closed, so that
// their reads during a login and a logout find the entry.
package online

import (
	"context"
	"sync"

	"hearth/jid"
	"hearth/module"
)

// Cache holds a V per online account. The zero value is not usable: use
// New.
type Cache[V any] struct {
	mu      sync.Mutex
	entries map[jid.JID]*entry[V]
}

type entry[V any] struct {
	sessions int    // bound sessions of the account
	gen      uint64 // incremented by every invalidation
	loaded   bool
	v        V
}

// New returns an empty Cache hooked to h's session and account-deletion
// hooks.
func New[V any](h *module.Host) *Cache[V] {
	c := &Cache[V]{entries: map[jid.JID]*entry[V]{}}
	h.OnSessionBound(func(_ context.Context, s module.Session) { c.bound(s.JID().Bare()) })
	h.OnSessionClosed(func(_ context.Context, s module.Session) { c.closed(s.JID().Bare()) })
	h.OnUserDeleted(func(_ context.Context, user jid.JID) { c.Invalidate(user.Bare()) })
	return c
}

func (c *Cache[V]) bound(owner jid.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[owner]
	if e == nil {
		e = &entry[V]{} // empty: the first read goes to storage
		c.entries[owner] = e
	}
	e.sessions++
}

func (c *Cache[V]) closed(owner jid.JID) {
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

// Invalidate empties owner's entry after a change of its value was
// stored; a load under way does not fill it.
func (c *Cache[V]) Invalidate(owner jid.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[owner]; e != nil {
		var zero V
		e.gen++
		e.loaded, e.v = false, zero
	}
}

// Get returns owner's value: the cached one, or what load returns, which
// fills the entry of an online account. Accounts without sessions are
// loaded every time. Callers must not modify a cached V (or what it points
// to); a V that callers change must be copied by them.
func (c *Cache[V]) Get(owner jid.JID, load func() (V, error)) (V, error) {
	c.mu.Lock()
	e := c.entries[owner]
	if e == nil {
		c.mu.Unlock()
		return load()
	}
	if e.loaded {
		v := e.v
		c.mu.Unlock()
		return v, nil
	}
	gen := e.gen
	c.mu.Unlock()
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.entries[owner] == e && e.gen == gen {
		e.loaded, e.v = true, v
	}
	c.mu.Unlock()
	return v, nil
}

// Peek returns owner's cached value, if there is one.
func (c *Cache[V]) Peek(owner jid.JID) (v V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[owner]; e != nil && e.loaded {
		return e.v, true
	}
	return v, false
}

package module

import (
	"sync"

	"hearth/jid"
	"hearth/stanza"
)

// Session is a client's bound session as modules see it. Its methods are
// safe for concurrent use.
type Session interface {
	// JID returns the full JID the session is bound to.
	JID() jid.JID
	// Send queues st for delivery to the client and never blocks. st must
	// already carry its final 'from' and 'to'; it must not be changed after.
	Send(st *stanza.Element)
	// Presence returns the last available presence the client broadcast, or
	// nil while the session is not available (before initial presence or
	// after unavailable).
	Presence() *stanza.Element
	// SetPresence records the client's broadcast presence (nil: unavailable).
	SetPresence(p *stanza.Element)
	// Priority returns the priority of the current presence (0 when absent,
	// and meaningless while unavailable).
	Priority() int
	// Values holds per-session data of modules (see Key).
	Values() *Values
	// Close ends the session's stream with a stream error (nil for a plain close).
	Close(err error)
}

// Hibernating is implemented by sessions that can be without a
// connection (XEP-0198 stream management): it reports whether the session
// is waiting to be resumed, so that stanzas sent to it only wait in its
// queue. Find it with a type assertion.
type Hibernating interface {
	Hibernating() bool
}

// Tracker is implemented by sessions that can tell when their client
// has a stanza (find it with a type assertion), so that a module can keep
// its own copy until then (offline storage deletes a message only once its
// client has it).
type Tracker interface {
	// SendTracked sends st like Send — at once, even to a client that said
	// it is inactive (XEP-0352) — and calls done exactly once, never with
	// a lock of the session held: done(true) once the client acknowledged
	// st (XEP-0198) or, without stream management, once st was written to
	// the connection; done(false) when the session ended before. A stanza
	// whose done got false is not redelivered by the session (the caller
	// still has it). One exception, for clients that read the archive:
	// see UsesArchive. done must not block.
	SendTracked(st *stanza.Element, done func(ok bool))
	// AskAck asks a client using stream management to acknowledge what it
	// was sent (<r/>), so that pending done calls need not wait for the
	// next request; it does nothing otherwise.
	AskAck()
}

// Inactive is implemented by sessions whose client can say it is not in
// use (XEP-0352 Client State Indication). Find it with a type assertion.
type Inactive interface {
	// Inactive reports whether the client said <inactive/> last.
	Inactive() bool
}

// UsesArchive is set (true) on a session whose client queried its
// account's message archive (XEP-0313); mod/mam sets it. When such a
// session ends with messages it did not acknowledge, those that carry
// the account's own <stanza-id/> (they are in the archive, where this
// client looks for what it missed) are neither redelivered to offline
// storage nor reported undelivered: a tracked one gets done(true)
// (XEP-0198 §4 leaves the handling of unacknowledged stanzas to the
// server; docs/design/004-stream-management.md has the policy).
var UsesArchive = NewKey[bool]("uses-archive")

// Values is a small map of per-session module data, keyed by *Key.
//
// It is a list, not a Go map: a session holds a handful of values, which
// a linear search finds as fast, and a map of one entry costs over 300
// bytes per session (with 10 000 idle sessions, 3 MB).
type Values struct {
	mu sync.Mutex
	kv []keyValue
}

// keyValue is one entry of Values: key is the *Key[T], value a T.
type keyValue struct{ key, value any }

// find returns the index of key in v.kv, or -1. Caller holds v.mu.
func (v *Values) find(key any) int {
	for i := range v.kv {
		if v.kv[i].key == key {
			return i
		}
	}
	return -1
}

// set stores value for key. Caller holds v.mu.
func (v *Values) set(key, value any) {
	if i := v.find(key); i >= 0 {
		v.kv[i].value = value
		return
	}
	v.kv = append(v.kv, keyValue{key, value})
}

// Key is a typed per-session value slot. Create keys once, at package level.
type Key[T any] struct{ name string }

// NewKey returns a new key; name is for debugging only.
func NewKey[T any](name string) *Key[T] { return &Key[T]{name: name} }

// Get returns the value stored in s for k, and whether there was one.
func (k *Key[T]) Get(s Session) (T, bool) {
	v := s.Values()
	v.mu.Lock()
	defer v.mu.Unlock()
	i := v.find(k)
	if i < 0 {
		var zero T
		return zero, false
	}
	return v.kv[i].value.(T), true
}

// Set stores val in s for k.
func (k *Key[T]) Set(s Session, val T) {
	v := s.Values()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.set(k, val)
}

// Update replaces the value of k in s by fn(old, present) atomically with
// respect to other Get/Set/Update calls on s, and returns the new value.
func (k *Key[T]) Update(s Session, fn func(old T, present bool) T) T {
	v := s.Values()
	v.mu.Lock()
	defer v.mu.Unlock()
	var o T
	i := v.find(k)
	if i >= 0 {
		o = v.kv[i].value.(T)
	}
	n := fn(o, i >= 0)
	v.set(k, n)
	return n
}

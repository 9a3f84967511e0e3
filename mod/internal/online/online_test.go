package online

import (
	"errors"
	"testing"

	"hearth/jid"
)

func newTestCache() *Cache[int] { return &Cache[int]{entries: map[jid.JID]*entry[int]{}} }

// entries returns the number of accounts with an entry, loaded or not.
func entries(c *Cache[int]) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func TestCacheLifetime(t *testing.T) {
	c := newTestCache()
	alice := jid.MustParse("alice@example.com")
	loads := 0
	load := func(v int) func() (int, error) { return func() (int, error) { loads++; return v, nil } }

	// Offline: read every time, nothing kept.
	for range 2 {
		if v, _ := c.Get(alice, load(1)); v != 1 {
			t.Fatalf("Get = %d", v)
		}
	}
	if loads != 2 || entries(c) != 0 {
		t.Fatalf("offline: %d loads, %d entries; want 2 loads, no entry", loads, entries(c))
	}

	// Online: read once.
	c.bound(alice)
	c.bound(alice)
	loads = 0
	for range 3 {
		if v, _ := c.Get(alice, load(2)); v != 2 {
			t.Fatalf("Get = %d, want 2", v)
		}
	}
	if loads != 1 {
		t.Errorf("online: %d loads, want 1", loads)
	}
	if v, ok := c.Peek(alice); !ok || v != 2 {
		t.Errorf("Peek = %d, %v", v, ok)
	}

	// A change invalidates.
	c.Invalidate(alice)
	if _, ok := c.Peek(alice); ok {
		t.Error("Peek after Invalidate found a value")
	}
	if v, _ := c.Get(alice, load(3)); v != 3 || loads != 2 {
		t.Errorf("Get after Invalidate = %d (%d loads), want 3 read again", v, loads)
	}

	// A failed load fills nothing.
	c.Invalidate(alice)
	if _, err := c.Get(alice, func() (int, error) { return 0, errors.New("disk") }); err == nil {
		t.Error("the load's error was lost")
	}
	if _, ok := c.Peek(alice); ok {
		t.Error("a failed load filled the entry")
	}

	// The entry goes with the last session.
	c.closed(alice)
	if entries(c) != 1 {
		t.Fatalf("%d entries after one of two sessions closed", entries(c))
	}
	c.closed(alice)
	c.closed(alice) // an extra close is harmless
	if entries(c) != 0 {
		t.Errorf("%d entries after every session closed", entries(c))
	}
}

// TestCacheLoadRacingChange: a load that started before an invalidation
// returns what it read but does not fill the entry.
func TestCacheLoadRacingChange(t *testing.T) {
	c := newTestCache()
	bob := jid.MustParse("bob@example.com")
	c.bound(bob)
	v, _ := c.Get(bob, func() (int, error) {
		c.Invalidate(bob) // the change lands while the old value is read
		return 1, nil
	})
	if v != 1 {
		t.Fatalf("Get = %d", v)
	}
	if got, ok := c.Peek(bob); ok {
		t.Errorf("the stale load filled the entry with %d", got)
	}
	if v, _ := c.Get(bob, func() (int, error) { return 2, nil }); v != 2 {
		t.Errorf("Get = %d, want the new value", v)
	}
	if got, ok := c.Peek(bob); !ok || got != 2 {
		t.Errorf("Peek = %d, %v; want 2", got, ok)
	}
}

package storage

import (
	"testing"
	"time"
)

func TestNewItemIDOrderedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		id := NewItemID()
		if len(id) != 26 {
			t.Fatalf("id %q has %d characters", id, len(id))
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if i%100 == 0 {
			// A later microsecond sorts after: the index grows at its end.
			time.Sleep(2 * time.Microsecond)
			if prev != "" && id <= prev {
				t.Fatalf("id %q does not sort after the earlier %q", id, prev)
			}
			prev = id
		}
	}
}

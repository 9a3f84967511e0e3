package keylock

import (
	"sync"
	"testing"
)

func TestLocks(t *testing.T) {
	var l Locks
	var wg sync.WaitGroup
	var counts [2]int // counts[i] is guarded by the lock of keys[i]
	keys := []string{"a", "b"}
	for i := range 200 {
		wg.Go(func() {
			unlock := l.Lock(keys[i%2])
			counts[i%2]++ // a lost update without mutual exclusion
			unlock()
		})
	}
	wg.Wait()
	if counts[0] != 100 || counts[1] != 100 {
		t.Errorf("counts %v", counts)
	}
	if n := l.Len(); n != 0 {
		t.Errorf("%d entries left after every unlock", n)
	}
	unlock := l.Lock("x")
	if l.Len() != 1 {
		t.Errorf("Len while held = %d", l.Len())
	}
	unlock()
}

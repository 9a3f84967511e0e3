package register

import (
	"sync"
	"time"
)

// throttle bounds the registrations from one address in a sliding window.
// Its methods are safe for concurrent use.
type throttle struct {
	limit  int // per address and window; 0: no limit
	window time.Duration

	mu   sync.Mutex
	seen map[string][]time.Time // address → times of its registrations in the window, oldest first
}

func newThrottle(limit int, window time.Duration) *throttle {
	return &throttle{limit: limit, window: window, seen: map[string][]time.Time{}}
}

// reserve takes one registration of addr at t, or reports false when addr
// has used up its limit. Calling release gives the registration back (it
// failed); release may be called once.
func (th *throttle) reserve(addr string, t time.Time) (release func(), ok bool) {
	if th.limit == 0 {
		return func() {}, true
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	th.expire(t)
	if len(th.seen[addr]) >= th.limit {
		return nil, false
	}
	th.seen[addr] = append(th.seen[addr], t)
	return func() { th.release(addr, t) }, true
}

func (th *throttle) release(addr string, t time.Time) {
	th.mu.Lock()
	defer th.mu.Unlock()
	ts := th.seen[addr]
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(t) {
			ts = append(ts[:i], ts[i+1:]...)
			break
		}
	}
	if len(ts) == 0 {
		delete(th.seen, addr)
		return
	}
	th.seen[addr] = ts
}

// expire forgets registrations older than the window. It looks at every
// address, which is cheap: there are at most as many as registrations in
// one window. Caller holds th.mu.
func (th *throttle) expire(t time.Time) {
	cutoff := t.Add(-th.window)
	for addr, ts := range th.seen {
		i := 0
		for i < len(ts) && !ts[i].After(cutoff) {
			i++
		}
		switch {
		case i == len(ts):
			delete(th.seen, addr)
		case i > 0:
			th.seen[addr] = append(ts[:0], ts[i:]...)
		}
	}
}

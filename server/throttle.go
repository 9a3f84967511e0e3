package server

import (
	"sync"
	"time"
)

// authThrottle limits failed logins per IP address and per account over a
// sliding window: after max failures from one address (or against one
// account) within window, further attempts are refused until the window
// has passed since the last failure.
type authThrottle struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	byIP  map[string]*failures // by "ip:ADDR" and "user:LOCAL@DOMAIN"
	sweep time.Time
}

type failures struct {
	count int
	last  time.Time
}

func newAuthThrottle(max int, window time.Duration) *authThrottle {
	return &authThrottle{max: max, window: window, byIP: map[string]*failures{}}
}

// Allow implements stream.Throttle. An empty ip or user is not checked.
func (t *authThrottle) Allow(ip, user string) bool {
	return (ip == "" || t.allow("ip:"+ip)) && (user == "" || t.allow("user:"+user))
}

func (t *authThrottle) allow(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.byIP[key]
	if f == nil {
		return true
	}
	if time.Since(f.last) > t.window {
		delete(t.byIP, key)
		return true
	}
	return f.count < t.max
}

// Failed implements stream.Throttle.
func (t *authThrottle) Failed(ip, user string) {
	if ip != "" {
		t.failed("ip:" + ip)
	}
	if user != "" {
		t.failed("user:" + user)
	}
}

func (t *authThrottle) failed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if now.Sub(t.sweep) > t.window {
		// Forget old entries so the map stays bounded by recent offenders.
		for k, f := range t.byIP {
			if now.Sub(f.last) > t.window {
				delete(t.byIP, k)
			}
		}
		t.sweep = now
	}
	f := t.byIP[key]
	if f == nil {
		f = &failures{}
		t.byIP[key] = f
	}
	f.count++
	f.last = now
}

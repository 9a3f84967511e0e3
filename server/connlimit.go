package server

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"hearth/config"
)

// connLimiter bounds what one IP address may hold of the client
// listeners ([limits] connections_per_ip, new_connections_per_ip): how
// many connections at once, and how many new ones per minute (a token
// bucket, so a client reconnecting a few times in a row is fine). A
// connection over either limit is closed at once, before any byte is read
// or a TLS handshake is made, so a flood from one address costs a socket
// accept and nothing else. Zero turns a limit off.
type connLimiter struct {
	mu      sync.Mutex
	maxOpen int
	perMin  float64
	exempt  []netip.Prefix
	byIP    map[string]*ipConns
	sweep   time.Time // next removal of idle entries
	now     func() time.Time
}

type ipConns struct {
	open   int
	tokens float64
	last   time.Time
}

func newConnLimiter(lim config.Limits) *connLimiter {
	l := &connLimiter{byIP: map[string]*ipConns{}, now: time.Now}
	l.set(lim)
	return l
}

// set changes the limits (Reload); connections already open stay.
func (l *connLimiter) set(lim config.Limits) {
	var exempt []netip.Prefix
	for _, n := range lim.ExemptNetworks {
		if p, err := netip.ParsePrefix(n); err == nil { // checked by config
			exempt = append(exempt, p)
		}
	}
	l.mu.Lock()
	l.maxOpen, l.perMin, l.exempt = lim.ConnectionsPerIP, float64(lim.NewConnsPerIP), exempt
	l.mu.Unlock()
}

// admit reports whether a new connection from addr may proceed; when it
// does, release must be called once the connection ends.
func (l *connLimiter) admit(addr net.Addr) (release func(), ok bool) {
	ip := hostOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, err := netip.ParseAddr(ip); err == nil {
		for _, p := range l.exempt {
			if p.Contains(a.Unmap()) {
				return func() {}, true
			}
		}
	}
	now := l.now()
	if now.After(l.sweep) {
		// Addresses with nothing open whose bucket has refilled since.
		for k, e := range l.byIP {
			if e.open == 0 && now.Sub(e.last) > time.Minute {
				delete(l.byIP, k)
			}
		}
		l.sweep = now.Add(time.Minute)
	}
	c := l.byIP[ip]
	if c == nil {
		c = &ipConns{tokens: l.perMin, last: now}
		l.byIP[ip] = c
	}
	if l.perMin > 0 {
		c.tokens = min(l.perMin, c.tokens+now.Sub(c.last).Minutes()*l.perMin)
		c.last = now
		if c.tokens < 1 {
			l.forget(ip, c)
			return nil, false
		}
	}
	if l.maxOpen > 0 && c.open >= l.maxOpen {
		return nil, false
	}
	if l.perMin > 0 {
		c.tokens--
	}
	c.open++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			c.open--
			l.forget(ip, c)
			l.mu.Unlock()
		})
	}, true
}

// forget drops the entry of an address with nothing open and a full
// bucket, so the table holds only addresses that matter. Caller holds mu.
func (l *connLimiter) forget(ip string, c *ipConns) {
	if c.open == 0 && (l.perMin == 0 || c.tokens >= l.perMin-1) {
		delete(l.byIP, ip)
	}
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

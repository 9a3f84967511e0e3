package s2s

import (
	"net"
	"sync"
	"time"

	"hearth/internal/rate"
)

// InboundLimits bound what other servers may hold of this one, so that
// one hostile or broken peer cannot flood it or starve the others
// ([s2s] keys, docs/design/007-federation.md). Zero turns a limit off.
type InboundLimits struct {
	// StreamsPerIP bounds the inbound streams open at once from one IP
	// address, counted from the TCP accept (before the peer said who it
	// is); more are closed at once.
	StreamsPerIP int
	// StreamsPerDomain bounds the inbound streams authenticated at once
	// for one remote domain; a stream over it ends with policy-violation
	// (SASL EXTERNAL) or gets a dialback error (resource-constraint).
	StreamsPerDomain int
	// BytesPerSecond and StanzasPerSecond are token buckets per remote
	// domain, shared by all its streams (bursts BurstBytes and
	// BurstStanzas, at least a second's worth): past them hearth stops
	// reading that domain's streams until the bucket refills, which slows
	// the peer through TCP without touching the other domains.
	BytesPerSecond, BurstBytes     int
	StanzasPerSecond, BurstStanzas int
}

// limiter applies InboundLimits. Lock order: it takes only its own mu.
type limiter struct {
	mu      sync.Mutex
	cfg     InboundLimits
	byIP    map[string]int
	domains map[string]*domainUse
	sweep   time.Time // next removal of forgotten domains
	now     func() time.Time
}

// domainUse is what one remote domain holds: its authenticated inbound
// streams and its buckets. An entry without streams is kept until its
// buckets are full again, so that reconnecting refills nothing.
type domainUse struct {
	streams        int
	bytes, stanzas rate.Bucket
}

func newLimiter(cfg InboundLimits) *limiter {
	return &limiter{cfg: cfg, byIP: map[string]int{}, domains: map[string]*domainUse{}, now: time.Now}
}

// set changes the limits (reload). Streams already open stay; buckets
// take the new rates as domains are next seen without streams.
func (l *limiter) set(cfg InboundLimits) {
	l.mu.Lock()
	l.cfg = cfg
	for d, u := range l.domains {
		u.bytes = rate.NewBucket(cfg.BytesPerSecond, cfg.BurstBytes)
		u.stanzas = rate.NewBucket(cfg.StanzasPerSecond, cfg.BurstStanzas)
		if u.streams == 0 {
			delete(l.domains, d)
		}
	}
	l.mu.Unlock()
}

// admitIP reports whether a new connection from addr may proceed; when
// it may, release must be called once it ends.
func (l *limiter) admitIP(addr net.Addr) (release func(), ok bool) {
	ip := addr.String()
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.StreamsPerIP > 0 && l.byIP[ip] >= l.cfg.StreamsPerIP {
		return nil, false
	}
	l.byIP[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			if l.byIP[ip]--; l.byIP[ip] <= 0 {
				delete(l.byIP, ip)
			}
			l.mu.Unlock()
		})
	}, true
}

// use returns domain's entry, creating it; l.mu is held.
func (l *limiter) use(domain string) *domainUse {
	u := l.domains[domain]
	if u == nil {
		now := l.now()
		if now.After(l.sweep) {
			for d, o := range l.domains {
				if o.streams == 0 && o.bytes.Full(now) && o.stanzas.Full(now) {
					delete(l.domains, d)
				}
			}
			l.sweep = now.Add(time.Minute)
		}
		u = &domainUse{
			bytes:   rate.NewBucket(l.cfg.BytesPerSecond, l.cfg.BurstBytes),
			stanzas: rate.NewBucket(l.cfg.StanzasPerSecond, l.cfg.BurstStanzas),
		}
		l.domains[domain] = u
	}
	return u
}

// addStream counts a stream newly authenticated for domain; false when
// domain already has StreamsPerDomain of them (nothing is counted then).
func (l *limiter) addStream(domain string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.use(domain)
	if l.cfg.StreamsPerDomain > 0 && u.streams >= l.cfg.StreamsPerDomain {
		return false
	}
	u.streams++
	return true
}

// removeStream undoes addStream when the stream ends.
func (l *limiter) removeStream(domain string) {
	l.mu.Lock()
	if u := l.domains[domain]; u != nil && u.streams > 0 {
		u.streams--
	}
	l.mu.Unlock()
}

// charge takes a stanza of n bytes from domain's buckets and returns how
// long its stream should stop reading.
func (l *limiter) charge(domain string, n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.use(domain)
	now := l.now()
	return max(u.bytes.Take(float64(n), now), u.stanzas.Take(1, now))
}

package proxy65

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"hearth/stanza"
)

// copyBufferSize is what one direction of a bytestream reads at a time.
const copyBufferSize = 32 << 10

// acceptRetry is the pause after a failed Accept that is not the
// listener's closing (out of file descriptors), so the loop does not spin.
const acceptRetry = 50 * time.Millisecond

// limits are the relay's bounds, from Config.
type limits struct {
	maxStreams     int // pending and active bytestreams; connections: twice that
	maxPerUser     int // active bytestreams of one requester (bare JID); 0: none
	maxPerIP       int // open connections from one address; 0: none
	pairTimeout    time.Duration
	idleTimeout    time.Duration // 0: none
	bytesPerSecond int64         // per bytestream, both directions; 0: none
	maxBytes       int64         // per bytestream, both directions; 0: none
}

// relay is the SOCKS5 side of the proxy. There is one per server, shared
// by the services of every virtual host: the hash of a bytestream names
// both JIDs, so one table serves all hosts. It accepts connections,
// pairs the two that name the same hash and, once the requester activates
// the pair over XMPP, copies bytes both ways until both directions end.
type relay struct {
	lim  limits
	lns  []net.Listener
	log  *slog.Logger
	done chan struct{} // closed at shutdown

	mu      sync.Mutex
	closed  bool
	conns   map[*conn]struct{} // every open connection
	perIP   map[string]int     // open connections by remote address
	pending map[string]*pair   // by hash: not activated yet
	active  int                // activated pairs
	perUser map[string]int     // activated pairs by requester bare JID

	wg sync.WaitGroup // accept loops, handshakes and pipes
}

// pair is one bytestream: the connections that named its hash (the target
// first, usually), then the bytes relayed.
type pair struct {
	hash  string
	conns []*conn
	timer *time.Timer // pair_timeout, stopped by activation

	limit *bucket      // nil: no bandwidth limit
	bytes atomic.Int64 // relayed, both directions
	last  atomic.Int64 // unix nanoseconds of the last byte moved
}

// conn is an accepted connection, counted while open.
type conn struct {
	net.Conn
	r    *relay
	ip   string
	once sync.Once
}

// Close closes the connection and stops counting it; it may be called
// more than once.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		delete(c.r.conns, c)
		if c.r.perIP[c.ip]--; c.r.perIP[c.ip] <= 0 {
			delete(c.r.perIP, c.ip)
		}
	})
	return err
}

// closeWrite ends the direction towards c (TCP half-close), so that its
// peer reads EOF while the other direction goes on.
func (c *conn) closeWrite() {
	if tc, ok := c.Conn.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
		return
	}
	c.Close()
}

// newRelay opens the listeners of addrs; it listens but accepts nothing
// before serve.
func newRelay(addrs []string, lim limits, log *slog.Logger) (*relay, error) {
	r := &relay{
		lim: lim, log: log, done: make(chan struct{}),
		conns: map[*conn]struct{}{}, perIP: map[string]int{},
		pending: map[string]*pair{}, perUser: map[string]int{},
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range r.lns {
				l.Close()
			}
			return nil, fmt.Errorf("proxy65.listen: cannot listen on %s: %w", a, err)
		}
		r.lns = append(r.lns, ln)
	}
	return r, nil
}

// addrs returns the bound addresses of the listeners.
func (r *relay) addrs() []*net.TCPAddr {
	var out []*net.TCPAddr
	for _, ln := range r.lns {
		out = append(out, ln.Addr().(*net.TCPAddr))
	}
	return out
}

// serve accepts connections until ctx ends, then closes the listeners and
// every connection and returns when all goroutines of the relay are done.
func (r *relay) serve(ctx context.Context) {
	for _, ln := range r.lns {
		r.wg.Add(1)
		go r.accept(ln)
	}
	<-ctx.Done()
	r.mu.Lock()
	r.closed = true
	close(r.done)
	conns := slices.Collect(maps.Keys(r.conns))
	for _, p := range r.pending {
		p.timer.Stop()
	}
	r.mu.Unlock()
	for _, ln := range r.lns {
		ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	r.wg.Wait()
}

func (r *relay) accept(ln net.Listener) {
	defer r.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("proxy65 accept failed", "err", err)
			time.Sleep(acceptRetry)
			continue
		}
		c := r.admit(nc)
		if c == nil {
			nc.Close()
			continue
		}
		r.wg.Add(1) // this loop is counted, so the group is not at zero
		go r.handshake(c)
	}
}

// admit counts nc among the open connections, or returns nil when the
// relay is closing or full, or the address has too many open.
func (r *relay) admit(nc net.Conn) *conn {
	ip := nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || len(r.conns) >= 2*r.lim.maxStreams || r.lim.maxPerIP > 0 && r.perIP[ip] >= r.lim.maxPerIP {
		return nil
	}
	c := &conn{Conn: nc, r: r, ip: ip}
	r.conns[c] = struct{}{}
	r.perIP[ip]++
	return c
}

// handshake runs the SOCKS5 negotiation of c and puts it in the pair of
// its hash. It must be done within pair_timeout of the connection.
func (r *relay) handshake(c *conn) {
	defer r.wg.Done()
	c.SetDeadline(time.Now().Add(r.lim.pairTimeout))
	hash, err := negotiate(c)
	if err != nil {
		r.log.Debug("proxy65 connection refused", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	code := r.join(hash, c)
	if err := writeReply(c, hash, code); err != nil || code != replySucceeded {
		r.leave(hash, c)
		c.Close()
	}
}

// join adds c to the pair of hash and returns the SOCKS5 reply code: a
// hash has at most two connections, and a new hash needs room in the table.
func (r *relay) join(hash string, c *conn) byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return replyFailure
	}
	p := r.pending[hash]
	switch {
	case p == nil && len(r.pending)+r.active >= r.lim.maxStreams:
		return replyFailure
	case p == nil:
		p = &pair{hash: hash}
		p.timer = time.AfterFunc(r.lim.pairTimeout, func() { r.expire(p) })
		r.pending[hash] = p
	case len(p.conns) == 2:
		return replyNotAllowed
	}
	p.conns = append(p.conns, c)
	return replySucceeded
}

// leave takes c out of the pair of hash (its reply could not be written).
func (r *relay) leave(hash string, c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[hash]
	if p == nil {
		return
	}
	p.conns = slices.DeleteFunc(p.conns, func(x *conn) bool { return x == c })
	if len(p.conns) == 0 {
		p.timer.Stop()
		delete(r.pending, hash)
	}
}

// expire closes a pair that was not activated within pair_timeout.
func (r *relay) expire(p *pair) {
	r.mu.Lock()
	if r.pending[p.hash] != p {
		r.mu.Unlock()
		return
	}
	delete(r.pending, p.hash)
	conns := p.conns
	r.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	r.log.Debug("proxy65 bytestream not activated in time", "connections", len(conns))
}

// activate starts relaying the pair of hash for the requester user (a bare
// JID, for the per-user limit). The errors are those of XEP-0065 §6.3.5:
// item-not-found for a hash no connection named (the 'from' of the
// activation is part of the hash, so a wrong requester lands here too),
// not-allowed while only one party is connected.
func (r *relay) activate(hash, user string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[hash]
	switch {
	case r.closed:
		return &stanza.Error{Type: stanza.Wait, Condition: "service-unavailable", Text: "the proxy is shutting down"}
	case p == nil:
		return &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no connection for this bytestream"}
	case len(p.conns) < 2:
		return &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "only one party is connected"}
	case r.lim.maxPerUser > 0 && r.perUser[user] >= r.lim.maxPerUser:
		return &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint",
			Text: fmt.Sprintf("at most %d bytestreams at a time", r.lim.maxPerUser)}
	}
	if !p.timer.Stop() {
		// It expires right now; expire removes it.
		return &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "the bytestream timed out"}
	}
	delete(r.pending, hash)
	r.active++
	r.perUser[user]++
	if r.lim.bytesPerSecond > 0 {
		p.limit = newBucket(r.lim.bytesPerSecond)
	}
	r.wg.Add(1) // under r.mu, before serve can see closed and Wait
	go r.pipe(p, user)
	return nil
}

// pipe copies the two connections of an activated pair into each other.
// A direction that ends (EOF) half-closes the other connection; an error,
// the idle timeout or max_bytes closes both.
func (r *relay) pipe(p *pair, user string) {
	defer r.wg.Done()
	a, b := p.conns[0], p.conns[1]
	a.SetDeadline(time.Time{})
	b.SetDeadline(time.Time{})
	p.touch()
	var other sync.WaitGroup
	other.Go(func() { r.copyHalf(p, b, a) })
	r.copyHalf(p, a, b)
	other.Wait()
	a.Close()
	b.Close()
	r.mu.Lock()
	r.active--
	if r.perUser[user]--; r.perUser[user] <= 0 {
		delete(r.perUser, user)
	}
	r.mu.Unlock()
	r.log.Debug("proxy65 bytestream closed", "requester", user, "bytes", p.bytes.Load())
}

// copyHalf copies src to dst until src ends or something fails.
func (r *relay) copyHalf(p *pair, dst, src *conn) {
	fail := func() {
		src.Close()
		dst.Close()
	}
	buf := make([]byte, copyBufferSize)
	if p.limit != nil && int64(len(buf)) > p.limit.burst {
		buf = buf[:p.limit.burst]
	}
	idle := r.lim.idleTimeout
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			p.touch()
			chunk := buf[:n]
			over := false
			if limit := r.lim.maxBytes; limit > 0 {
				if total := p.bytes.Add(int64(n)); total > limit {
					chunk, over = chunk[:max(0, int64(n)-(total-limit))], true
				}
			} else {
				p.bytes.Add(int64(n))
			}
			if p.limit != nil && !p.limit.wait(len(chunk), r.done) {
				fail()
				return
			}
			if idle > 0 {
				dst.SetWriteDeadline(time.Now().Add(idle))
			}
			if _, werr := dst.Write(chunk); werr != nil || over {
				fail()
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			dst.closeWrite()
			return
		case idle > 0 && isTimeout(err) && p.idle() < idle:
			// The other direction is moving: a one-way transfer.
		default:
			fail()
			return
		}
	}
}

func (p *pair) touch() { p.last.Store(time.Now().UnixNano()) }

// idle returns how long no byte moved in either direction.
func (p *pair) idle() time.Duration { return time.Since(time.Unix(0, p.last.Load())) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bucket is a token bucket of bytes shared by both directions of a
// bytestream, holding at most one second's worth.
type bucket struct {
	rate  int64 // bytes per second
	burst int64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(rate int64) *bucket {
	return &bucket{rate: rate, burst: rate, tokens: float64(rate), last: time.Now()}
}

// wait takes n bytes (n <= burst) from the bucket, sleeping while it is in
// debt; it returns false when done closes first.
func (b *bucket) wait(n int, done <-chan struct{}) bool {
	b.mu.Lock()
	now := time.Now()
	b.tokens = min(float64(b.burst), b.tokens+now.Sub(b.last).Seconds()*float64(b.rate))
	b.last = now
	b.tokens -= float64(n)
	debt := -b.tokens
	b.mu.Unlock()
	if debt <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(debt / float64(b.rate) * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

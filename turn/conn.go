package turn

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Timeouts of TCP and TLS client connections.
const (
	// handshakeTimeout bounds a TLS handshake.
	handshakeTimeout = 10 * time.Second
	// idleTimeout closes a connection that sent nothing for this long. A
	// client refreshes its allocation before the default lifetime of
	// 10 minutes ends (RFC 8656 §7.2), so a silent connection holds none.
	idleTimeout = 10 * time.Minute
	// writeTimeout bounds one write to a client that does not read.
	writeTimeout = 10 * time.Second
)

// connCount bounds the TCP and TLS connections open at once, over every
// listener.
type connCount struct {
	max int
	mu  sync.Mutex
	n   int
}

func (c *connCount) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.max {
		return false
	}
	c.n++
	return true
}

func (c *connCount) release() {
	c.mu.Lock()
	c.n--
	c.mu.Unlock()
}

// limitListener accepts connections up to the shared bound (closing the
// others at once), wraps them in TLS when tlsConfig is set, applies the
// timeouts above and closes every connection still open at shutdown: pion
// closes its listeners but not the connections they accepted.
type limitListener struct {
	net.Listener
	count     *connCount
	tlsConfig *tls.Config

	mu     sync.Mutex
	conns  map[*clientConn]struct{}
	closed bool
}

func newLimitListener(ln net.Listener, count *connCount, tlsConfig *tls.Config) *limitListener {
	return &limitListener{Listener: ln, count: count, tlsConfig: tlsConfig, conns: map[*clientConn]struct{}{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.count.acquire() {
			nc.Close()
			continue
		}
		c := &clientConn{Conn: nc, raw: nc, l: l}
		if l.tlsConfig != nil {
			c.tls = tls.Server(nc, l.tlsConfig)
			c.Conn = c.tls
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return nil, net.ErrClosed
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		return c, nil
	}
}

func (l *limitListener) closeConns() {
	l.mu.Lock()
	l.closed = true
	conns := make([]*clientConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// clientConn is one client connection. pion reads it from one goroutine
// and writes it from others.
type clientConn struct {
	net.Conn
	raw       net.Conn
	tls       *tls.Conn // nil on plain TCP
	l         *limitListener
	handshook bool // read goroutine only
	closeOnce sync.Once
}

func (c *clientConn) Read(b []byte) (int, error) {
	if c.tls != nil && !c.handshook {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := c.tls.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return 0, err
		}
		c.handshook = true
	}
	c.raw.SetReadDeadline(time.Now().Add(idleTimeout))
	return c.Conn.Read(b)
}

func (c *clientConn) Write(b []byte) (int, error) {
	c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.Conn.Write(b)
}

func (c *clientConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		c.l.count.release()
	})
	return err
}

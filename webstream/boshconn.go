package webstream

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// boshConn is one BOSH session seen as the net.Conn of a TCP-style XML
// stream. Requests feed what they carry into its input (Read); what the
// stream writes is split into elements that wait in its output until a
// request takes them.
type boshConn struct {
	remote   net.Addr
	maxQueue int

	mu sync.Mutex
	// Input: translated client bytes not yet read.
	in           []byte
	inEOF        bool // the client terminated the session
	readDeadline time.Time
	inWake       chan struct{} // closed and replaced when input changes
	// Output: complete elements the client has not received.
	out       [][]byte
	outBytes  int
	partial   []byte
	streamID  string // from the stream header the server wrote
	header    bool   // a stream header was written since the last take
	ended     bool   // the server closed the stream
	closed    bool   // Close was called
	outWake   chan struct{}
	closeOnce sync.Once
	onClose   func()
}

func newBOSHConn(remote net.Addr, maxQueue int, onClose func()) *boshConn {
	return &boshConn{remote: remote, maxQueue: maxQueue, onClose: onClose,
		inWake: make(chan struct{}), outWake: make(chan struct{})}
}

var _ net.Conn = (*boshConn)(nil)

// wake closes *ch and replaces it. Caller holds c.mu.
func wake(ch *chan struct{}) {
	close(*ch)
	*ch = make(chan struct{})
}

// feed appends client input. It reports false once the session ended.
func (c *boshConn) feed(b []byte, eof bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.inEOF {
		return false
	}
	c.in = append(c.in, b...)
	c.inEOF = eof
	wake(&c.inWake)
	return true
}

func (c *boshConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.in) > 0 {
			n := copy(p, c.in)
			c.in = c.in[n:]
			c.mu.Unlock()
			return n, nil
		}
		if c.inEOF || c.closed {
			c.mu.Unlock()
			return 0, io.EOF
		}
		var timeout <-chan time.Time
		if !c.readDeadline.IsZero() {
			d := time.Until(c.readDeadline)
			if d <= 0 {
				c.mu.Unlock()
				return 0, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		ch := c.inWake
		c.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
		}
	}
}

// errQueueFull ends a session whose client stopped fetching.
var errQueueFull = errors.New("webstream: BOSH output queue full")

// Write splits p into elements and queues them for the next request.
func (c *boshConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	buf := append(c.partial, p...)
	n, err := outbound(buf, func(msg []byte) error {
		switch {
		case isOpen(msg):
			c.streamID = attrOf(msg, "id")
			c.header = true
		case isClose(msg):
			c.ended = true
		default:
			if c.outBytes+len(msg) > c.maxQueue {
				return errQueueFull
			}
			c.out = append(c.out, msg)
			c.outBytes += len(msg)
		}
		return nil
	})
	c.partial = append([]byte(nil), buf[n:]...)
	wake(&c.outWake)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// take removes and returns the queued output, whether a stream header
// was written since the last take (the stream restarted), and whether the
// server ended the stream. ready is closed when there is more.
func (c *boshConn) take() (out [][]byte, header, ended bool, ready <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, c.out, c.outBytes = c.out, nil, 0
	header, c.header = c.header, false
	return out, header, c.ended || c.closed, c.outWake
}

func (c *boshConn) id() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamID
}

// Close ends the session: reads return EOF, and requests get a terminate
// body once the output is taken.
func (c *boshConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		wake(&c.inWake)
		wake(&c.outWake)
		c.mu.Unlock()
		if c.onClose != nil {
			c.onClose()
		}
	})
	return nil
}

func (c *boshConn) LocalAddr() net.Addr  { return addr("bosh") }
func (c *boshConn) RemoteAddr() net.Addr { return c.remote }

func (c *boshConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *boshConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	wake(&c.inWake)
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline does nothing: writes only queue.
func (c *boshConn) SetWriteDeadline(time.Time) error { return nil }

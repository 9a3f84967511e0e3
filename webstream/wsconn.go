package webstream

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"time"

	ws "github.com/coder/websocket"
)

// conn presents a WebSocket carrying RFC 7395 framing as the net.Conn of a
// TCP-style XML stream, so that the stream package serves it unchanged.
// Reads return the translated client messages (see inbound); writes are
// split into one message per top-level element (see outbound).
//
// Deadlines follow net.Conn, except that an expired deadline interrupting
// a read or write closes the WebSocket (the library has no other way to
// abandon a frame half read); the stream package only lets deadlines
// expire on streams it is ending.
type conn struct {
	ws     *ws.Conn
	local  net.Addr
	remote net.Addr

	readCtx     context.Context
	readCancel  context.CancelFunc
	readTimer   *time.Timer
	writeCtx    context.Context
	writeCancel context.CancelFunc
	writeTimer  *time.Timer

	rmu     sync.Mutex // guards pending; held by the one reader
	pending []byte     // translated input not yet read

	wmu sync.Mutex // serializes writes; guards partial
	// partial is output cut inside an element, kept for the next Write.
	partial []byte

	closeOnce sync.Once
}

func newConn(c *ws.Conn, local, remote net.Addr) *conn {
	nc := &conn{ws: c, local: local, remote: remote}
	nc.readCtx, nc.readCancel = context.WithCancel(context.Background())
	nc.writeCtx, nc.writeCancel = context.WithCancel(context.Background())
	nc.readTimer = stoppedTimer(nc.readCancel)
	nc.writeTimer = stoppedTimer(nc.writeCancel)
	return nc
}

func stoppedTimer(fn func()) *time.Timer {
	t := time.AfterFunc(math.MaxInt64, fn)
	t.Stop()
	return t
}

var _ net.Conn = (*conn)(nil)

// Read returns translated client input, reading the next text message
// when none is pending.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.pending) == 0 {
		if err := c.readCtx.Err(); err != nil {
			return 0, os.ErrDeadlineExceeded
		}
		typ, msg, err := c.ws.Read(c.readCtx)
		if err != nil {
			if c.readCtx.Err() != nil {
				return 0, os.ErrDeadlineExceeded
			}
			switch ws.CloseStatus(err) {
			case ws.StatusNormalClosure, ws.StatusGoingAway:
				return 0, io.EOF
			}
			return 0, err
		}
		if typ != ws.MessageText {
			// RFC 7395 §3.2: XMPP is carried in text messages only.
			c.ws.Close(ws.StatusUnsupportedData, "XMPP is sent in text messages")
			return 0, errors.New("webstream: binary message")
		}
		c.pending = inbound(msg)
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Write sends every complete top-level element of p (and of what earlier
// writes left cut) as one text message each. It reports all of p written
// once its complete elements are sent.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writeCtx.Err(); err != nil {
		return 0, os.ErrDeadlineExceeded
	}
	buf := p
	if len(c.partial) > 0 {
		buf = append(c.partial, p...)
	}
	n, err := outbound(buf, func(msg []byte) error {
		return c.ws.Write(c.writeCtx, ws.MessageText, msg)
	})
	if err != nil {
		if c.writeCtx.Err() != nil {
			return 0, os.ErrDeadlineExceeded
		}
		return 0, err
	}
	c.partial = append(c.partial[:0], buf[n:]...)
	return len(p), nil
}

// Close ends the WebSocket with a normal closure (waiting briefly for the
// peer's close frame). It is idempotent.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.readTimer.Stop()
		c.writeTimer.Stop()
		c.ws.Close(ws.StatusNormalClosure, "")
		c.readCancel()
		c.writeCancel()
	})
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	setTimer(c.readTimer, t)
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	setTimer(c.writeTimer, t)
	return nil
}

func setTimer(tm *time.Timer, t time.Time) {
	if t.IsZero() {
		tm.Stop()
		return
	}
	tm.Reset(max(time.Until(t), time.Nanosecond))
}

// addr is a net.Addr from an HTTP request's address string.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

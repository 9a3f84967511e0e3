// Package stream runs XML streams (RFC 6120 §4): one connection's read
// loop, its bounded output queue and write loop, and the negotiation of
// client streams (STARTTLS, SASL in the RFC 6120 and XEP-0388 profiles,
// resource binding, XEP-0386 Bind 2). It knows nothing of
// routing: after binding it hands every stanza to the SessionHandler the
// Binder returned.
package stream

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// ErrQueueFull is the reason a connection is closed when its peer reads
// more slowly than stanzas arrive for it.
var ErrQueueFull = errors.New("stream: output queue full")

// Conn is one XML stream over a network connection. Before binding only its
// negotiation goroutine uses it; after binding Send may be called from any
// goroutine.
type Conn struct {
	nc     net.Conn
	wc     *waitConn // the TCP connection under nc, nil if nc is not one (idle.go)
	dec    *stanza.Decoder
	ns     string // default namespace of the stream (jabber:client)
	domain string
	id     string
	lang   string
	// peerLang is the xml:lang of the client's stream header ("" if none).
	peerLang string
	secure   bool
	addr     string

	jid   jid.JID
	login *Login // SASL2 only; set before binding

	// Set before the stream is bound, then read-only.
	metrics Metrics      // nil: not counted
	trace   *slog.Logger // nil: not traced

	// Output side, guarded by mu. Lock order: mu is a leaf lock.
	//
	// No goroutine writes while the queue is empty: the first stanza
	// queued starts a writer, which returns once it has drained the
	// queue, so an idle session holds no write goroutine and no stack.
	mu          sync.Mutex
	queue       [][]byte
	queuedBytes int
	maxQueue    int
	started     bool          // writers may run (after negotiation)
	writing     bool          // a writer goroutine is running
	closing     bool          // no more Send accepted
	broken      bool          // a write failed: nothing more is written
	drained     chan struct{} // closed once closing and nothing is left to write
	drainOnce   sync.Once
	closeOnce   sync.Once
	writeTimout time.Duration
	// Written-notifications (SendTracked): queued counts the entries ever
	// queued, written those the write loop wrote; a note fires once
	// written passes its entry.
	queued  uint64
	written uint64
	notes   []writeNote
}

// writeNote is a SendTracked callback waiting for entry at to be written.
type writeNote struct {
	at uint64
	fn func(ok bool)
}

func newConn(nc net.Conn, lim stanza.Limits, maxQueue int, writeTimeout time.Duration) *Conn {
	return &Conn{
		nc:          nc,
		dec:         stanza.NewDecoder(nc, lim),
		ns:          stanza.NSClient,
		addr:        hostOf(nc.RemoteAddr()),
		maxQueue:    maxQueue,
		drained:     make(chan struct{}),
		writeTimout: writeTimeout,
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

// JID returns the bound full JID (zero before binding).
func (c *Conn) JID() jid.JID { return c.jid }

// Domain returns the virtual host the stream was opened to.
func (c *Conn) Domain() string { return c.domain }

// RemoteAddr returns the peer's IP address as a string.
func (c *Conn) RemoteAddr() string { return c.addr }

// Secure reports whether the stream is encrypted with TLS.
func (c *Conn) Secure() bool { return c.secure }

// ID returns the stream id the server chose.
func (c *Conn) ID() string { return c.id }

// Send encodes st and queues it for the write loop. It never blocks. When
// the queue would exceed its byte limit the stream is closed with a
// policy-violation error and Send reports false, as it does once the
// stream is closing.
func (c *Conn) Send(st *stanza.Element) bool {
	return c.SendBytes(encode(st, c.ns))
}

// encodeBufs holds scratch buffers for encode.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2<<10); return &b }}

// encode returns st encoded in a slice of its own, allocated once at its
// final size: appending to a nil slice grew it six or seven times for a
// chat message, a quarter of the allocations of routing one.
func encode(st *stanza.Element, ns string) []byte {
	bp := encodeBufs.Get().(*[]byte)
	buf := stanza.Append((*bp)[:0], st, ns)
	out := bytes.Clone(buf)
	if cap(buf) <= 64<<10 { // a rare large stanza does not pin its buffer
		*bp = buf[:0]
		encodeBufs.Put(bp)
	}
	return out
}

// SendBytes queues already encoded bytes (shared, never modified) like Send.
func (c *Conn) SendBytes(b []byte) bool { return c.sendBytes(b, nil) }

// SendTracked is Send, and calls written(true) once st was written to the
// network connection (which says nothing of the peer having read it), or
// written(false) if the stream ended before. It is not called at all when
// SendTracked reports false. written runs on the write loop's goroutine,
// with no lock held, and must not block.
func (c *Conn) SendTracked(st *stanza.Element, written func(ok bool)) bool {
	return c.sendBytes(encode(st, c.ns), written)
}

func (c *Conn) sendBytes(b []byte, written func(bool)) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if c.maxQueue > 0 && c.queuedBytes+len(b) > c.maxQueue {
		c.mu.Unlock()
		c.Close(&stanza.StreamError{Condition: "policy-violation", Text: "output queue full"})
		return false
	}
	c.queue = append(c.queue, b)
	c.queuedBytes += len(b)
	c.queued++
	if written != nil {
		c.notes = append(c.notes, writeNote{at: c.queued, fn: written})
	}
	kind := c.countOut(b) // before a writer can deliver b
	c.startWriterLocked()
	c.mu.Unlock()
	c.traceOut(kind, b)
	return true
}

// startWriters lets writers run: before it (during negotiation) the
// negotiation goroutine writes itself and queued stanzas wait.
func (c *Conn) startWriters() {
	c.mu.Lock()
	c.started = true
	c.startWriterLocked()
	c.mu.Unlock()
}

// startWriterLocked starts a writer when there is something to write and
// none runs. Caller holds c.mu.
func (c *Conn) startWriterLocked() {
	if !c.started || c.writing {
		return
	}
	if c.broken || len(c.queue) == 0 {
		if c.closing {
			c.drainOnce.Do(func() { close(c.drained) })
		}
		return
	}
	c.writing = true
	go c.writeLoop()
}

// writeLoop drains the queue, writing each batch with one Write call
// from a pooled buffer, so that an idle session holds no write buffer. It
// returns when the queue is empty (a later Send starts another) or on a
// write error, after which nothing more is written.
func (c *Conn) writeLoop() {
	var batch [][]byte
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.broken {
			c.writing = false
			if c.closing {
				c.drainOnce.Do(func() { close(c.drained) })
			}
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		queuedBytes := c.queuedBytes
		c.queuedBytes = 0
		c.mu.Unlock()
		if c.metrics != nil {
			c.metrics.QueueBytes(queuedBytes)
		}
		if err := c.writeBatch(batch); err != nil {
			// Nothing more can be written: later sends fail, and what
			// waits for its write never gets it.
			c.nc.Close()
			c.mu.Lock()
			c.broken, c.closing = true, true
			c.queue, c.queuedBytes = nil, 0
			c.mu.Unlock()
			c.fireNotes(false)
			continue // ends the loop
		}
		c.mu.Lock()
		c.written += uint64(len(batch))
		c.mu.Unlock()
		c.fireNotes(true)
		clear(batch)
		if cap(batch) > 64 {
			batch = nil // a burst's slice is not kept for the next one
		}
	}
}

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func (c *Conn) writeBatch(batch [][]byte) error {
	if c.writeTimout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.writeTimout))
	}
	if len(batch) == 1 {
		_, err := c.nc.Write(batch[0])
		return err
	}
	bp := writeBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, b := range batch {
		buf = append(buf, b...)
	}
	_, err := c.nc.Write(buf)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		writeBufs.Put(bp)
	}
	return err
}

// fireNotes calls the written-notifications of the entries written so
// far with ok, or, when ok is false (the write loop is ending), all that
// are left.
func (c *Conn) fireNotes(ok bool) {
	c.mu.Lock()
	n := len(c.notes)
	if ok {
		n = 0
		for n < len(c.notes) && c.notes[n].at <= c.written {
			n++
		}
	}
	if n == 0 {
		c.mu.Unlock()
		return
	}
	fire := c.notes[:n:n]
	c.notes = c.notes[n:]
	if len(c.notes) == 0 {
		c.notes = nil
	}
	c.mu.Unlock()
	for _, w := range fire {
		w.fn(ok)
	}
}

// Close ends the stream: it queues err's <stream:error/> (when err is a
// *stanza.StreamError) and the closing tag, lets the write loop drain, and
// then closes the connection after a short grace period for the peer's own
// closing tag. Close is idempotent and never blocks on the peer.
func (c *Conn) Close(err error) {
	c.closeOnce.Do(func() {
		var tail []byte
		var se *stanza.StreamError
		if errors.As(err, &se) {
			tail = stanza.Append(tail, se.Element(), c.ns)
		}
		tail = append(tail, "</stream:stream>"...)
		c.mu.Lock()
		c.queue = append(c.queue, tail)
		c.queued++
		c.closing = true
		c.startWriterLocked() // once writers may run: see startWriters
		c.mu.Unlock()
		go func() {
			select {
			case <-c.drained:
			case <-time.After(closeGrace):
			}
			// Give the peer a moment to send its closing tag, then cut.
			c.nc.SetReadDeadline(time.Now().Add(closeGrace))
			time.AfterFunc(closeGrace, func() { c.nc.Close() })
		}()
	})
}

// closeGrace bounds how long a closing stream waits for the write loop to
// drain and for the peer's closing tag.
const closeGrace = 2 * time.Second

package s2s

import (
	"bytes"
	"encoding/xml"
	"net"
	"sync"
	"time"

	"hearth/stanza"
)

// wire is one s2s connection: a decoder, synchronous writes while the
// stream is negotiated, then (outbound streams) a bounded queue drained by
// a write loop, so that senders never wait for the peer.
type wire struct {
	nc  net.Conn // guarded by wmu when replaced (setConn)
	dec *stanza.Decoder
	ns  string // the stream's default namespace: jabber:server, or jabber:component:accept

	wmu sync.Mutex // serializes writes to nc

	mu       sync.Mutex // guards the queue; a leaf lock
	queue    [][]byte
	queued   int
	maxQueue int
	closing  bool
	wake     chan struct{}
	done     chan struct{} // closed when the write loop or close ends
	once     sync.Once
	looping  bool
}

// writeTimeout bounds one write to a peer; closeGrace how long a closing
// stream waits for its queue to drain and for the peer's closing tag.
const (
	writeTimeout = 30 * time.Second
	closeGrace   = 2 * time.Second
)

func newWire(nc net.Conn, lim stanza.Limits, maxQueue int) *wire {
	return &wire{
		nc:       nc,
		dec:      stanza.NewDecoder(nc, lim),
		ns:       stanza.NSServer,
		maxQueue: maxQueue,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// write writes b now (negotiation, dialback answers).
func (w *wire) write(b []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := w.nc.Write(b)
	return err
}

// conn returns the connection, which a TLS upgrade replaces (setConn).
func (w *wire) conn() net.Conn {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.nc
}

// setConn replaces the connection after a TLS upgrade; the decoder is
// reset to read from it.
func (w *wire) setConn(nc net.Conn) {
	w.wmu.Lock()
	w.nc = nc
	w.wmu.Unlock()
	w.dec.Reset(nc)
}

// writeElement writes el now, in the stream's namespace.
func (w *wire) writeElement(el *stanza.Element) error {
	if el.Name.Space == NSDialback {
		return w.write(appendDialback(nil, el))
	}
	return w.write(stanza.Append(nil, el, w.ns))
}

// appendDialback encodes a dialback element with the db: prefix our
// stream header declares. COMPAT: ejabberd (23.01) matches the literal
// name "db:result", and ignores <result xmlns='jabber:server:dialback'/>.
func appendDialback(buf []byte, el *stanza.Element) []byte {
	var esc bytes.Buffer
	escape := func(s string) {
		esc.Reset()
		xml.EscapeText(&esc, []byte(s))
		buf = append(buf, esc.Bytes()...)
	}
	buf = append(buf, "<db:"...)
	buf = append(buf, el.Name.Local...)
	for _, a := range el.Attr {
		if a.Name.Space != "" {
			continue
		}
		buf = append(buf, ' ')
		buf = append(buf, a.Name.Local...)
		buf = append(buf, `="`...)
		escape(a.Value)
		buf = append(buf, '"')
	}
	if len(el.Children) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, c := range el.Children {
		switch c := c.(type) {
		case stanza.CharData:
			escape(string(c))
		case *stanza.Element:
			buf = stanza.Append(buf, c, stanza.NSServer)
		}
	}
	buf = append(buf, "</db:"...)
	buf = append(buf, el.Name.Local...)
	return append(buf, '>')
}

// startWriter starts the write loop; send may be used from then on.
func (w *wire) startWriter(track func() bool, done func()) bool {
	if !track() {
		return false
	}
	w.looping = true
	go func() {
		defer done()
		w.writeLoop()
	}()
	return true
}

// send queues el without blocking. It reports false when the stream is
// closing or its queue is full (the stream is then closed).
func (w *wire) send(el *stanza.Element) bool {
	b := stanza.Append(nil, el, w.ns)
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return false
	}
	if w.queued+len(b) > w.maxQueue {
		w.mu.Unlock()
		w.close(&stanza.StreamError{Condition: "policy-violation", Text: "output queue full"})
		return false
	}
	w.queue = append(w.queue, b)
	w.queued += len(b)
	w.mu.Unlock()
	w.poke()
	return true
}

func (w *wire) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *wire) writeLoop() {
	defer close(w.done)
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue, w.queued = nil, 0
		closing := w.closing
		w.mu.Unlock()
		if len(batch) > 0 {
			var buf []byte
			for _, b := range batch {
				buf = append(buf, b...)
			}
			if err := w.write(buf); err != nil {
				w.nc.Close()
				return
			}
			continue
		}
		if closing {
			return
		}
		<-w.wake
	}
}

// close ends the stream: se's <stream:error/> (if not nil) and the
// closing tag are written after what is queued, then the
// connection is cut after a grace period. It never blocks on the peer and
// may be called more than once.
func (w *wire) close(se *stanza.StreamError) {
	w.once.Do(func() {
		var tail []byte
		if se != nil {
			tail = stanza.Append(tail, se.Element(), w.ns)
		}
		tail = append(tail, "</stream:stream>"...)
		w.mu.Lock()
		w.closing = true
		looping := w.looping
		if looping {
			w.queue = append(w.queue, tail)
		}
		w.mu.Unlock()
		if looping {
			w.poke()
		} else {
			go func() {
				w.write(tail)
				close(w.done)
			}()
		}
		go func() {
			select {
			case <-w.done:
			case <-time.After(closeGrace):
			}
			nc := w.conn()
			nc.SetReadDeadline(time.Now().Add(closeGrace))
			time.AfterFunc(closeGrace, func() { nc.Close() })
		}()
	})
}

// next reads the next element, waiting at most until deadline.
func (w *wire) next(deadline time.Time) (*stanza.Element, error) {
	w.nc.SetReadDeadline(deadline)
	return w.dec.Next()
}

// header returns an s2s stream header from 'from' to 'to' announcing
// dialback support (XEP-0220 §2.1: the xmlns:db declaration).
func header(from, to, id string) []byte {
	return stanza.AppendStreamHeader(nil, stanza.StreamHeader{
		From: from, To: to, ID: id, Version: "1.0", DefaultNS: stanza.NSServer,
		Attr: map[string]string{"xmlns:db": NSDialback},
	}, true)
}

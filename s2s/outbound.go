package s2s

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"hearth/stanza"
)

// outbound is the stream from one local domain to one remote domain:
// connecting (w is nil, stanzas wait in pending), then ready (stanzas go
// straight to w's queue), then dead (removed from the Pool; a new stanza
// opens a new stream).
type outbound struct {
	p   *Pool
	key pair

	mu      sync.Mutex
	w       *wire
	pending []*stanza.Element // jabber:client namespace, for bouncing
	dead    bool
	last    time.Time // when the last stanza was queued
}

type enqueueResult int

const (
	queued    enqueueResult = iota
	queueFull               // too many stanzas wait for the stream
	gone                    // the stream died; use a new one
)

// newOutbound creates, records and starts the stream for key.
// Caller holds p.mu and has checked that p is not closed.
func (p *Pool) newOutbound(key pair) *outbound {
	o := &outbound{p: p, key: key}
	p.out[key] = o
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		o.run()
	}()
	return o
}

// enqueue hands st (jabber:client namespace) to the stream.
func (o *outbound) enqueue(st *stanza.Element) enqueueResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.dead:
		return gone
	case o.w != nil:
		if !o.w.send(toNS(st, stanza.NSClient, stanza.NSServer)) {
			o.dead = true
			return gone
		}
		o.last = time.Now()
		return queued
	case len(o.pending) >= o.p.cfg.QueueLimit:
		return queueFull
	}
	o.pending = append(o.pending, st)
	return queued
}

// run connects, flushes the stanzas that waited, then reads the stream
// until it ends or has been idle for IdleTimeout.
func (o *outbound) run() {
	p := o.p
	log := p.cfg.Log.With("local", o.key.local, "remote", o.key.remote)
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.ConnectTimeout)
	w, err := p.connect(ctx, o.key.local, o.key.remote, false)
	cancel()
	if err == nil {
		p.wg.Add(1) // inside a counted goroutine: always allowed
		w.startWriter(func() bool { return true }, p.wg.Done)
	}
	o.mu.Lock()
	if err == nil && o.dead { // shut down while connecting
		err = errors.New("s2s: shutting down")
	}
	if err != nil {
		o.dead = true
		pending := o.pending
		o.pending = nil
		o.mu.Unlock()
		p.forget(o.key, o)
		if w != nil {
			w.close(&stanza.StreamError{Condition: "system-shutdown"})
		}
		log.Info("cannot reach remote server", "err", err)
		cond := &stanza.Error{Type: stanza.Cancel, Condition: "remote-server-not-found"}
		if isTimeout(err) {
			cond = &stanza.Error{Type: stanza.Wait, Condition: "remote-server-timeout"}
		}
		for _, st := range pending {
			p.bounce(st, cond)
		}
		return
	}
	log.Debug("outbound stream ready")
	o.w = w
	o.last = time.Now()
	for _, st := range o.pending {
		w.send(toNS(st, stanza.NSClient, stanza.NSServer))
	}
	o.pending = nil
	o.mu.Unlock()

	err = o.readLoop()
	o.mu.Lock()
	o.dead = true
	o.mu.Unlock()
	p.forget(o.key, o)
	log.Debug("outbound stream closed", "err", err)
	var se *stanza.StreamError
	if !errors.As(err, &se) {
		se = stanza.StreamErrorFor(err)
	}
	w.close(se)
	<-w.done
}

// errIdle ends a stream that carried nothing for IdleTimeout.
var errIdle = errors.New("s2s: idle")

// readLoop reads what the receiving server sends on our stream (stream
// errors, its closing tag) until the stream ends or idles out.
func (o *outbound) readLoop() error {
	for {
		o.mu.Lock()
		deadline := o.last.Add(o.p.cfg.IdleTimeout)
		dead := o.dead
		o.mu.Unlock()
		if dead {
			return nil
		}
		if !time.Now().Before(deadline) {
			return errIdle
		}
		el, err := o.w.next(deadline)
		if err != nil {
			if isTimeout(err) {
				continue // the deadline may have moved
			}
			if errors.Is(err, stanza.ErrStreamEnd) {
				return nil
			}
			return err
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			return streamErrorFrom(el)
		}
		// Anything else (bidirectional use was never negotiated) is
		// ignored.
	}
}

// shutdown ends the stream for a closing Pool.
func (o *outbound) shutdown() {
	o.mu.Lock()
	o.dead = true
	w := o.w
	o.mu.Unlock()
	if w != nil {
		w.close(nil)
		w.nc.SetReadDeadline(time.Now()) // wake the read loop
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// peerStreamError is a <stream:error/> the peer sent.
type peerStreamError struct{ condition, text string }

func (e *peerStreamError) Error() string {
	s := "peer sent stream error " + e.condition
	if e.text != "" {
		s += ": " + e.text
	}
	return s
}

func streamErrorFrom(el *stanza.Element) error {
	e := &peerStreamError{condition: "undefined-condition"}
	for _, c := range el.Elements() {
		if c.Name.Space == stanza.NSStreams {
			if c.Name.Local == "text" {
				e.text = c.Text()
			} else {
				e.condition = c.Name.Local
			}
		}
	}
	return e
}

// toNS returns el with every element in namespace from moved to
// namespace to (jabber:client inside the server, jabber:server on the
// wire). el is not modified; it is returned as is when nothing changes.
func toNS(el *stanza.Element, from, to string) *stanza.Element {
	if !usesNS(el, from) {
		return el
	}
	c := el.DeepCopy()
	renameNS(c, from, to)
	return c
}

func usesNS(el *stanza.Element, ns string) bool {
	if el.Name.Space == ns {
		return true
	}
	for _, c := range el.Elements() {
		if usesNS(c, ns) {
			return true
		}
	}
	return false
}

func renameNS(el *stanza.Element, from, to string) {
	if el.Name.Space == from {
		el.Name.Space = to
	}
	for _, c := range el.Elements() {
		renameNS(c, from, to)
	}
}

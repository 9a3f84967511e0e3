package s2s

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// NSComponent is the namespace of XEP-0114 component streams.
const NSComponent = "jabber:component:accept"

// component is an external component's domain and, while it is
// connected, its stream.
type component struct {
	domain, secret string

	mu sync.Mutex // a leaf
	w  *wire      // nil while disconnected
}

// Component declares the external component domain (XEP-0114: Jabber
// Component Protocol), which authenticates with secret on a listener
// served by ServeComponents, and returns the handler that delivers
// stanzas to it (the router's service handler for domain). Stanzas for a
// component that is not connected bounce with service-unavailable.
// domain must be a valid domain (config checks it). Call it before
// streams are served.
func (p *Pool) Component(domain, secret string) func(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	domain = normalizeDomain(domain)
	c := &component{domain: domain, secret: secret}
	p.mu.Lock()
	if p.components == nil {
		p.components = map[string]*component{}
	}
	p.components[domain] = c
	p.mu.Unlock()
	return func(_ context.Context, st *stanza.Element, _, _ jid.JID) {
		c.mu.Lock()
		w := c.w
		c.mu.Unlock()
		if w == nil || !w.send(toNS(st, stanza.NSClient, NSComponent)) {
			p.bounce(st, &stanza.Error{Type: stanza.Cancel, Condition: "service-unavailable", Text: "the component is not connected"})
		}
	}
}

// ServeComponents accepts component connections on ln until ln is
// closed.
func (p *Pool) ServeComponents(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.cfg.Log.Warn("component accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !p.track() {
			nc.Close()
			return
		}
		if p.cfg.Metrics != nil {
			p.cfg.Metrics.Accepted("component")
		}
		go func() {
			defer p.wg.Done()
			p.serveComponent(nc)
		}()
	}
}

func (p *Pool) serveComponent(nc net.Conn) {
	w := newWire(nc, p.cfg.Limits, p.cfg.MaxQueueBytes)
	w.ns = NSComponent
	log := p.cfg.Log.With("remote_addr", nc.RemoteAddr().String())
	nc.SetDeadline(time.Now().Add(p.cfg.ConnectTimeout))
	c, err := p.componentHandshake(w)
	if err != nil {
		log.Info("component refused", "err", err)
		var se *stanza.StreamError
		errors.As(err, &se)
		w.close(se)
		<-w.done
		return
	}
	nc.SetDeadline(time.Time{})
	p.wg.Add(1) // inside a counted goroutine: always allowed
	w.startWriter(func() bool { return true }, p.wg.Done)
	log = log.With("component", c.domain)
	log.Info("component connected")
	err = p.componentLoop(w, c)
	c.mu.Lock()
	if c.w == w {
		c.w = nil
	}
	c.mu.Unlock()
	log.Info("component disconnected", "err", err)
	var se *stanza.StreamError
	if !errors.As(err, &se) {
		se = stanza.StreamErrorFor(err)
	}
	w.close(se)
	<-w.done
}

// componentHandshake runs XEP-0114 §3: the component names its domain in
// its stream header and proves the secret with
// hex(SHA1(stream id + secret)). A second connection for a connected
// component is refused with conflict.
func (p *Pool) componentHandshake(w *wire) (*component, error) {
	h, err := w.dec.StreamStart()
	if err != nil {
		return nil, err
	}
	domain := normalizeDomain(h.To)
	id := stanza.NewID()
	if err := w.write(stanza.AppendStreamHeader(nil, stanza.StreamHeader{From: domain, ID: id, DefaultNS: NSComponent}, true)); err != nil {
		return nil, err
	}
	if h.StreamNS != stanza.NSStream || h.Local != "stream" || h.DefaultNS != NSComponent {
		return nil, &stanza.StreamError{Condition: "invalid-namespace"}
	}
	p.mu.Lock()
	c := p.components[domain]
	p.mu.Unlock()
	if c == nil {
		return nil, &stanza.StreamError{Condition: "host-unknown"}
	}
	el, err := w.dec.Next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space != NSComponent || el.Name.Local != "handshake" {
		return nil, &stanza.StreamError{Condition: "not-authorized", Text: "handshake expected"}
	}
	sum := sha1.Sum([]byte(id + c.secret))
	want := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(strings.TrimSpace(el.Text()))), []byte(want)) != 1 {
		return nil, &stanza.StreamError{Condition: "not-authorized"}
	}
	c.mu.Lock()
	if c.w != nil {
		c.mu.Unlock()
		return nil, &stanza.StreamError{Condition: "conflict", Text: "the component is already connected"}
	}
	c.w = w
	c.mu.Unlock()
	if err := w.writeElement(stanza.New(NSComponent, "handshake")); err != nil {
		c.mu.Lock()
		c.w = nil
		c.mu.Unlock()
		return nil, err
	}
	return c, nil
}

// componentLoop routes the component's stanzas: each needs a 'to' and a
// 'from' at the component's domain.
func (p *Pool) componentLoop(w *wire, c *component) error {
	for {
		el, err := w.dec.Next()
		if err != nil {
			if errors.Is(err, stanza.ErrStreamEnd) {
				return nil
			}
			return err
		}
		if el.Name.Space != NSComponent {
			return &stanza.StreamError{Condition: "unsupported-stanza-type"}
		}
		switch el.Name.Local {
		case "message", "presence", "iq":
		default:
			return &stanza.StreamError{Condition: "unsupported-stanza-type"}
		}
		if el.Get("from") == "" || el.Get("to") == "" {
			return &stanza.StreamError{Condition: "improper-addressing"}
		}
		from, err := jid.Parse(el.Get("from"))
		if err != nil || from.Domain() != c.domain {
			return &stanza.StreamError{Condition: "invalid-from"}
		}
		if _, err := jid.Parse(el.Get("to")); err != nil {
			return &stanza.StreamError{Condition: "improper-addressing", Text: "malformed 'to'"}
		}
		if err := p.cfg.Router.Route(p.ctx, toNS(el, NSComponent, stanza.NSClient)); err != nil {
			p.cfg.Log.Debug("component stanza not routed", "err", err)
		}
	}
}

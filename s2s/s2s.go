// Package s2s implements server-to-server federation (RFC 6120 §13): the
// outbound streams that carry local stanzas to remote domains, found with
// SRV records (RFC 6120 §3.2, XEP-0368) and authenticated with SASL
// EXTERNAL (XEP-0178) or Server Dialback (XEP-0220), and the inbound
// streams remote servers open to deliver theirs. It also accepts
// XEP-0114 external components, the other kind of server-side stream.
//
// A Pool is the whole of it: it implements the remote router the router
// package asks for (RouteRemote) and serves the s2s listeners (Serve). It
// knows the rest of the server only through the small Router interface.
package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// Namespaces of federation.
const (
	NSDialback        = "jabber:server:dialback"     // XEP-0220 elements
	NSDialbackFeature = "urn:xmpp:features:dialback" // XEP-0220 stream feature
	NSTLS             = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL            = "urn:ietf:params:xml:ns:xmpp-sasl"
)

// Router is what federation needs from the rest of the server: where
// inbound stanzas go and which domains are served here. Route must not
// block on the network.
type Router interface {
	// Route delivers st as the server would route a stanza from its
	// 'from' to its 'to'; inbound stanzas arrive in the jabber:client
	// namespace, as if a local client had sent them.
	Route(ctx context.Context, st *stanza.Element) error
	// IsLocal reports whether domain is a virtual host of this server.
	IsLocal(domain string) bool
	// IsService reports whether domain is served by a module (muc.,
	// upload.).
	IsService(domain string) bool
}

// Config configures a Pool. Router, ServerTLS and Certificate are
// required; the zero value of every other field is a usable default.
type Config struct {
	Router Router
	// ServerTLS is the TLS configuration of inbound streams (certificates
	// by SNI). The Pool requests, but does not verify, client certificates
	// on it: it checks them itself against the domain the peer claims.
	ServerTLS *tls.Config
	// Certificate returns the certificate presented for a local (or
	// service) domain on outbound streams, or nil.
	Certificate func(domain string) *tls.Certificate
	// Roots are the trust anchors for peer certificates (nil: the
	// system's).
	Roots *x509.CertPool
	// RequireValidCerts refuses peers whose certificate does not validate
	// for their domain. When false, such peers are authenticated with
	// dialback, still over TLS.
	RequireValidCerts bool
	// Resolver looks up SRV and address records (default
	// net.DefaultResolver, which honours /etc/resolv.conf).
	Resolver Resolver
	// Static pins domains to "host:port" addresses of their s2s listener
	// (STARTTLS), bypassing DNS. Pin adds more at run time.
	Static map[string]string
	// ConnectTimeout bounds resolving, connecting, TLS and authentication
	// of one outbound stream, all targets together (default 30s). Stanzas
	// waiting for it bounce with remote-server-timeout when it passes.
	ConnectTimeout time.Duration
	// IdleTimeout closes streams, both ways, that carried no stanza for
	// that long (default 10 minutes).
	IdleTimeout time.Duration
	// QueueLimit is the number of stanzas held for one domain pair while
	// its stream is being set up (default 1000); more bounce with
	// resource-constraint.
	QueueLimit int
	// MaxQueueBytes bounds the encoded output waiting on one outbound
	// stream (default 1 MiB); past it the stream is closed.
	MaxQueueBytes int
	// Limits bound incoming stanzas.
	Limits stanza.Limits
	// Inbound bounds the streams and traffic of remote servers, per IP
	// and per domain (SetInboundLimits changes them).
	Inbound InboundLimits
	// DialbackSecret keys the dialback keys this server issues (XEP-0185).
	// It must be the same on every node serving the same domains.
	DialbackSecret []byte
	Log            *slog.Logger
	// Metrics, when not nil, counts accepted connections and bounces.
	Metrics Metrics
}

// Metrics receives what a Pool counts. Its methods must be safe for
// concurrent use and must not block.
type Metrics interface {
	// Accepted counts a connection accepted on a listener: "s2s",
	// "s2s_tls" or "component".
	Accepted(listener string)
	// Bounced counts a stanza the Pool bounced, by error condition.
	Bounced(condition string)
}

func (c *Config) defaults() {
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.QueueLimit == 0 {
		c.QueueLimit = 1000
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = 1 << 20
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Pool holds every federation stream of a server. It is safe for
// concurrent use. Lock order: Pool.mu before outbound.mu.
type Pool struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the Pool started

	lim *limiter

	mu     sync.Mutex
	static map[string]string
	out    map[pair]*outbound
	in     map[*inbound]struct{}
	// components are the XEP-0114 domains, declared before serving.
	components map[string]*component
	closed     bool
}

// pair is the (local domain, remote domain) of an outbound stream.
type pair struct{ local, remote string }

// New returns a Pool; it opens no connection until a stanza needs one.
func New(cfg Config) *Pool {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{cfg: cfg, ctx: ctx, cancel: cancel, static: map[string]string{}, out: map[pair]*outbound{}, in: map[*inbound]struct{}{},
		lim: newLimiter(cfg.Inbound)}
	for d, a := range cfg.Static {
		p.static[normalizeDomain(d)] = a
	}
	return p
}

// SetInboundLimits changes the limits on remote servers' streams;
// streams already open stay open.
func (p *Pool) SetInboundLimits(l InboundLimits) { p.lim.set(l) }

// Pin makes domain resolve to addr ("host:port" of its STARTTLS s2s
// listener) from now on, bypassing DNS, as the Static setting does.
func (p *Pool) Pin(domain, addr string) {
	p.mu.Lock()
	p.static[normalizeDomain(domain)] = addr
	p.mu.Unlock()
}

// RouteRemote implements router.RemoteRouter: it queues st on the stream
// from from's domain to to's domain, opening that stream if needed, and
// returns without waiting for the network. A stanza that cannot be
// delivered bounces back through Router.Route with remote-server-not-found
// or remote-server-timeout.
func (p *Pool) RouteRemote(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	key := pair{from.Domain(), to.Domain()}
	for range 2 { // a stream that just died is replaced once
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			p.bounce(st, &stanza.Error{Type: stanza.Cancel, Condition: "remote-server-not-found", Text: "server shutting down"})
			return
		}
		o := p.out[key]
		if o == nil {
			o = p.newOutbound(key)
		}
		p.mu.Unlock()
		switch o.enqueue(st) {
		case queued:
			return
		case queueFull:
			p.bounce(st, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many stanzas waiting for " + key.remote})
			return
		}
		p.forget(key, o)
	}
	p.bounce(st, &stanza.Error{Type: stanza.Cancel, Condition: "remote-server-not-found"})
}

// forget removes o from the table, if it is still there.
func (p *Pool) forget(key pair, o *outbound) {
	p.mu.Lock()
	if p.out[key] == o {
		delete(p.out, key)
	}
	p.mu.Unlock()
}

// bounce answers st (jabber:client namespace, as it came from the router)
// with err, unless it is an error itself.
func (p *Pool) bounce(st *stanza.Element, err *stanza.Error) {
	if st.Get("type") == stanza.ErrorType || st.Get("from") == "" {
		return
	}
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Bounced(err.Condition)
	}
	if rerr := p.cfg.Router.Route(p.ctx, stanza.ErrorReply(st, err)); rerr != nil {
		p.cfg.Log.Debug("bounce not routed", "err", rerr)
	}
}

// served reports whether domain is a host or service of this server.
func (p *Pool) served(domain string) bool {
	return p.cfg.Router.IsLocal(domain) || p.cfg.Router.IsService(domain)
}

// Serve accepts inbound s2s connections on ln until ln is closed;
// directTLS means XEP-0368 TLS from the first byte.
func (p *Pool) Serve(ln net.Listener, directTLS bool) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.cfg.Log.Warn("s2s accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		release, ok := p.lim.admitIP(nc.RemoteAddr())
		if !ok {
			p.cfg.Log.Debug("s2s connection refused: too many streams from its address", "remote_addr", nc.RemoteAddr().String())
			nc.Close()
			continue
		}
		if !p.track() {
			release()
			nc.Close()
			return
		}
		if p.cfg.Metrics != nil {
			listener := "s2s"
			if directTLS {
				listener = "s2s_tls"
			}
			p.cfg.Metrics.Accepted(listener)
		}
		go func() {
			defer p.wg.Done()
			defer release()
			p.serveInbound(nc, directTLS)
		}()
	}
}

// track counts a new goroutine, unless the Pool is closed.
func (p *Pool) track() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	return true
}

// Streams returns the number of inbound streams authenticated for at
// least one domain and of outbound streams ready to carry stanzas.
func (p *Pool) Streams() (inbound, outbound int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for in := range p.in {
		if in.authenticated() {
			inbound++
		}
	}
	for _, o := range p.out {
		o.mu.Lock()
		if o.w != nil && !o.dead {
			outbound++
		}
		o.mu.Unlock()
	}
	return inbound, outbound
}

// Close ends every stream (system-shutdown on inbound ones), bounces what
// is still queued and waits for the Pool's goroutines. Stanzas routed
// afterwards bounce.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	outs := make([]*outbound, 0, len(p.out))
	for _, o := range p.out {
		outs = append(outs, o)
	}
	ins := make([]*inbound, 0, len(p.in))
	for in := range p.in {
		ins = append(ins, in)
	}
	var comps []*wire
	for _, c := range p.components {
		c.mu.Lock()
		if c.w != nil {
			comps = append(comps, c.w)
		}
		c.mu.Unlock()
	}
	p.mu.Unlock()
	p.cancel()
	for _, o := range outs {
		o.shutdown()
	}
	for _, in := range ins {
		in.w.close(&stanza.StreamError{Condition: "system-shutdown"})
	}
	for _, w := range comps {
		w.close(&stanza.StreamError{Condition: "system-shutdown"})
	}
	p.wg.Wait()
}

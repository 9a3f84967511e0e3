package stream

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
)

// Namespaces of stream negotiation.
const (
	NSTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession = "urn:ietf:params:xml:ns:xmpp-session"
	NSSASLCB  = "urn:xmpp:sasl-cb:0" // XEP-0440
)

// VHost is what a client stream needs from the virtual host it is opened to.
type VHost interface {
	// Credentials looks up SASL credentials of a username on this host.
	Credentials(ctx context.Context, username string) (sasl.Credentials, error)
	// PreAuthFeatures are extra stream features offered with SASL.
	PreAuthFeatures() []*stanza.Element
	// StreamFeatures are extra stream features offered with resource binding.
	StreamFeatures() []*stanza.Element
	// PreAuthIQ answers an IQ sent before authentication, or returns nil
	// when no handler exists (the stream then fails with not-authorized).
	PreAuthIQ(ctx context.Context, c *Conn, iq *stanza.Element) *stanza.Element
	// Bind binds a resource for bare and returns the session's handler and
	// full JID. A non-nil error is a *stanza.Error for the bind reply.
	Bind(ctx context.Context, c *Conn, bare jid.JID, resource string) (SessionHandler, jid.JID, error)
	// Resume resumes the XEP-0198 session previd of bare on c, the client
	// having handled h stanzas of it. It returns the session's handler, its
	// full JID and the number of stanzas the server handled; a non-nil
	// error (*stanza.Error) is reported in <failed/>.
	Resume(ctx context.Context, c *Conn, bare jid.JID, previd string, h uint32) (SessionHandler, jid.JID, uint32, error)
}

// SessionHandler receives what a bound stream reads.
type SessionHandler interface {
	// HandleStanza processes one stanza: 'from' is already the session's
	// full JID and to is the parsed 'to' (zero when absent). Stanzas are
	// handed over one at a time, in order.
	HandleStanza(st *stanza.Element, to jid.JID)
	// StanzaReceived is called for every stanza the client sent, including
	// those the stream answered itself (XEP-0198 counts them all).
	StanzaReceived()
	// Closed is called once when the stream has ended, err saying why (nil
	// for a clean close by either side).
	Closed(err error)
}

// NonzaHandler is implemented by session handlers that take the
// stream-level elements of XEP-0198 (<enable/>, <r/>, <a/>) and XEP-0352
// (<active/>, <inactive/>) after binding.
// A non-nil error is a *stanza.StreamError that ends the stream.
type NonzaHandler interface {
	HandleNonza(el *stanza.Element) error
}

// Namespaces of the stream-level elements handed to a NonzaHandler.
const (
	NSSM  = "urn:xmpp:sm:3"  // XEP-0198 Stream Management
	NSCSI = "urn:xmpp:csi:0" // XEP-0352 Client State Indication
)

// Throttle limits authentication attempts. Implementations are safe for
// concurrent use.
type Throttle interface {
	// Allow reports whether an attempt from ip (for user, "" when unknown
	// yet) may proceed now.
	Allow(ip, user string) bool
	// Failed records a failed attempt.
	Failed(ip, user string)
}

// C2SConfig configures client streams.
type C2SConfig struct {
	// Host returns the virtual host for a stream's 'to', or nil when the
	// domain is not served.
	Host func(domain string) VHost
	// TLS is the server TLS configuration (certificates by SNI); nil means
	// no TLS at all, which is only acceptable in tests of plaintext paths.
	TLS *tls.Config
	// DirectTLS means connections are TLS from the first byte (XEP-0368).
	DirectTLS bool
	// RequireTLS forbids authentication before STARTTLS (the default for
	// every listener of the server).
	RequireTLS bool
	// Limits bound incoming stanzas.
	Limits stanza.Limits
	// MaxQueueBytes bounds a session's output queue (default 1 MiB).
	MaxQueueBytes int
	// NegotiationTimeout bounds the time from connect to bound resource
	// (default 60s).
	NegotiationTimeout time.Duration
	// WriteTimeout bounds one flush to the peer (default 30s).
	WriteTimeout time.Duration
	// Liveness watches bound streams: idle pings, stalled elements,
	// per-connection rates. The zero value watches nothing.
	Liveness Liveness
	// MaxAuthAttempts is the number of failed SASL attempts allowed on one
	// stream before it is closed (default 3).
	MaxAuthAttempts int
	Throttle        Throttle
	// SCRAMIterations and FakeSecret make unknown users indistinguishable
	// from real ones (see sasl.Config).
	SCRAMIterations int
	FakeSecret      []byte
	Log             *slog.Logger
	// Metrics, when not nil, counts stanzas, authentications and output
	// queue sizes.
	Metrics Metrics
	// Trace, when not nil, selects the accounts whose stanzas are logged
	// in full ([log] trace): it is called once per stream, before binding.
	Trace TraceFunc
}

func (cfg *C2SConfig) defaults() {
	if cfg.MaxQueueBytes == 0 {
		cfg.MaxQueueBytes = 1 << 20
	}
	if cfg.NegotiationTimeout == 0 {
		cfg.NegotiationTimeout = 60 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.MaxAuthAttempts == 0 {
		cfg.MaxAuthAttempts = 3
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
}

// ServeC2S runs a client stream on nc until it ends. It returns when the
// stream is closed and the connection released.
func ServeC2S(ctx context.Context, nc net.Conn, cfg C2SConfig) {
	nc, wc := waitConnOf(nc)
	var c *Conn
	var h SessionHandler
	var r *reader
	// Over a waitConn this goroutine will wait for the bound stream's
	// input: the deep stacks of negotiation (TLS, SASL) and of the
	// session's end (storage, presence broadcast) grow on a worker's
	// instead (idle.go).
	deep := func(f func()) { f() }
	if wc != nil {
		done := make(chan struct{}, 1)
		deep = func(f func()) { runApart(f, done) }
	}
	deep(func() { c, h, r = startC2S(ctx, nc, wc, &cfg) })
	if c == nil {
		return // negotiation failed; the connection is closed
	}
	err := c.serveInput(func() error { return readLoop(c, r, h) })
	deep(func() { h.Closed(err) })
	c.Close(err)
	<-c.drained
	nc.Close()
}

// startC2S negotiates the stream up to its bound resource and prepares
// reading. It returns a nil Conn when the stream failed and was closed.
func startC2S(ctx context.Context, nc net.Conn, wc *waitConn, cfg *C2SConfig) (*Conn, SessionHandler, *reader) {
	cfg.defaults()
	c := newConn(nc, cfg.Limits, cfg.MaxQueueBytes, cfg.WriteTimeout)
	c.wc = wc
	c.metrics = cfg.Metrics
	n := &negotiation{cfg: cfg, c: c, log: cfg.Log.With("remote", c.addr)}
	if cfg.DirectTLS {
		c.secure = true
		n.tlsConn, _ = nc.(*tls.Conn)
	}
	nc.SetDeadline(time.Now().Add(cfg.NegotiationTimeout))
	// A server shutting down cuts streams that are still negotiating.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	h, err := n.run(ctx)
	if !stop() {
		// The server is shutting down: whatever the cut read returned
		// (a timeout, or nothing yet), the peer is told why.
		if err == nil {
			h.Closed(nil)
		}
		err = &stanza.StreamError{Condition: "system-shutdown"}
	}
	if err != nil {
		n.fail(err)
		return nil, nil, nil
	}
	nc.SetDeadline(time.Time{})
	c.startWriters()
	return c, h, newReader(c, cfg.Liveness)
}

// readLoop hands stanzas to h until the stream ends; it returns nil for a
// clean close.
func readLoop(c *Conn, r *reader, h SessionHandler) error {
	for {
		el, err := r.next()
		if err != nil {
			if err == errWouldBlock {
				return err // the burst ends; serveInput waits for more
			}
			if errors.Is(err, stanza.ErrStreamEnd) {
				return nil
			}
			if se := stanza.StreamErrorFor(err); se != nil {
				return se
			}
			return err
		}
		if el.Name.Space == NSSM || el.Name.Space == NSCSI {
			nh, ok := h.(NonzaHandler)
			if !ok {
				return &stanza.StreamError{Condition: "unsupported-stanza-type"}
			}
			if err := nh.HandleNonza(el); err != nil {
				return err
			}
			continue
		}
		to, serr := checkClientStanza(c, el)
		c.received(el)
		var se *stanza.StreamError
		if !errors.As(serr, &se) {
			h.StanzaReceived()
		}
		if serr == errDrop {
			continue
		}
		if serr != nil {
			var stErr *stanza.Error
			if errors.As(serr, &stErr) {
				c.Send(stanza.ErrorReply(el, stErr))
				continue
			}
			return serr
		}
		if isSessionIQ(el, to, c.domain) {
			// The session feature is offered as optional, so clients
			// may send the IQ at any time after binding too.
			c.Send(stanza.ResultReply(el, nil))
			continue
		}
		h.HandleStanza(el, to)
	}
}

// isSessionIQ reports whether el is a legacy session establishment request
// (RFC 3921 §3) addressed to no one or to the stream's domain. Since
// draft-cridland-xmpp-session it is a no-op that must be answered with a
// result wherever a client sends it.
func isSessionIQ(el *stanza.Element, to jid.JID, domain string) bool {
	if el.Name.Local != "iq" || el.Get("type") != stanza.Set {
		return false
	}
	if !to.IsZero() && (to.Local() != "" || to.Resource() != "" || to.Domain() != domain) {
		return false
	}
	p := el.FirstElement()
	return p != nil && p.Name.Space == NSSession && p.Name.Local == "session"
}

// supportedVersion reports whether a stream header's version can be
// answered with our 1.0: any major version from 1 on (RFC 6120 §4.7.5: a
// newer peer gets our lower version); a missing version means a
// pre-RFC 3920 peer, which hearth does not serve.
func supportedVersion(v string) bool {
	major, _, ok := strings.Cut(v, ".")
	if !ok || major == "" {
		return false
	}
	n, err := strconv.Atoi(major)
	return err == nil && n >= 1
}

// errDrop tells readLoop to drop a stanza silently.
var errDrop = errors.New("stream: stanza dropped")

// checkClientStanza validates a stanza from a bound client and stamps its
// 'from' (RFC 6120 §8.1.2.1). It returns a *stanza.Error for a stanza-level
// problem and a *stanza.StreamError for one that ends the stream.
func checkClientStanza(c *Conn, el *stanza.Element) (jid.JID, error) {
	if el.Name.Space != c.ns {
		return jid.JID{}, &stanza.StreamError{Condition: "unsupported-stanza-type"}
	}
	switch el.Name.Local {
	case "message", "presence", "iq":
	default:
		return jid.JID{}, &stanza.StreamError{Condition: "unsupported-stanza-type"}
	}
	if f := el.Get("from"); f != "" {
		fj, err := jid.Parse(f)
		if err != nil || (fj != c.jid && fj != c.jid.Bare()) {
			return jid.JID{}, &stanza.StreamError{Condition: "invalid-from"}
		}
	}
	el.Set("from", c.jid.String())
	if c.peerLang != "" && el.Lang() == "" {
		// RFC 6120 §4.7.4: a stanza without xml:lang is in the language the
		// client declared for its stream; say so when it leaves the stream.
		el.Attr = append(el.Attr, xml.Attr{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: c.peerLang})
	}
	var to jid.JID
	if t := el.Get("to"); t != "" {
		var err error
		to, err = jid.Parse(t)
		if err != nil {
			if el.Get("type") == stanza.ErrorType {
				// Never answer an error with an error; and it must not be
				// routed as if it had no 'to' (to the sender's account).
				return jid.JID{}, errDrop
			}
			return jid.JID{}, stanza.NewError("jid-malformed")
		}
	}
	return to, nil
}

// negotiation is the state of a client stream before its resource is
// bound: one method per step of RFC 6120 §4-§7.
type negotiation struct {
	cfg     *C2SConfig
	c       *Conn
	log     *slog.Logger
	host    VHost
	tlsConn *tls.Conn
	header  bool // our stream header has been sent (or is pending)
	// pending is our stream header while it waits to go out with the
	// stream features, in one write.
	pending  []byte
	bare     jid.JID
	failures int
	// noRestart: SASL2 succeeded without binding, and the features
	// follow without a stream restart (XEP-0388 §2.6.1).
	noRestart bool
	// peerFrom is the 'from' of the client's stream header, "" if none.
	peerFrom string
}

func (n *negotiation) run(ctx context.Context) (SessionHandler, error) {
	for {
		if n.noRestart {
			n.noRestart = false
		} else if err := n.open(); err != nil {
			return nil, err
		}
		switch {
		case !n.c.secure && n.cfg.TLS != nil:
			if err := n.offerTLS(ctx); err != nil {
				return nil, err
			}
		case n.bare.IsZero():
			if h, err := n.authenticate(ctx); err != nil || h != nil {
				return h, err
			}
		default:
			return n.bind(ctx)
		}
	}
}

// open reads the client's stream header and answers with ours.
func (n *negotiation) open() error {
	h, err := n.c.dec.StreamStart()
	if err != nil {
		if se := stanza.StreamErrorFor(err); se != nil {
			return se
		}
		return err
	}
	n.c.id = stanza.NewID()
	n.peerFrom = h.From
	n.c.lang = h.Lang
	n.c.peerLang = h.Lang
	if n.c.lang == "" {
		n.c.lang = "en"
	}
	domain := strings.ToLower(strings.TrimSuffix(h.To, "."))
	if d, err := jid.New("", domain, ""); err == nil {
		domain = d.Domain()
	}
	if n.c.domain == "" {
		n.c.domain = domain
	}
	reply := stanza.StreamHeader{From: n.c.domain, ID: n.c.id, Version: "1.0", Lang: n.c.lang, DefaultNS: stanza.NSClient}
	if h.From != "" {
		if fj, err := jid.Parse(h.From); err == nil {
			reply.To = fj.String()
		}
	}
	if n.c.domain == "" {
		reply.From = ""
	}
	// The header goes out with the features that follow it, in one
	// write (one TLS record, one segment): next flushes it before any read.
	n.pending = stanza.AppendStreamHeader(n.pending[:0], reply, true)
	n.header = true
	switch {
	case h.StreamNS != stanza.NSStream || h.Local != "stream":
		return &stanza.StreamError{Condition: "invalid-namespace"}
	case h.DefaultNS != stanza.NSClient:
		return &stanza.StreamError{Condition: "invalid-namespace"}
	case h.To == "":
		return &stanza.StreamError{Condition: "host-unknown", Text: "the stream has no 'to' address"}
	case domain != n.c.domain:
		return &stanza.StreamError{Condition: "host-unknown", Text: "the domain changed on stream restart"}
	}
	if !supportedVersion(h.Version) {
		return &stanza.StreamError{Condition: "unsupported-version"}
	}
	if n.host == nil {
		n.host = n.cfg.Host(domain)
		if n.host == nil {
			return &stanza.StreamError{Condition: "host-unknown"}
		}
	}
	return nil
}

// write writes b, after our stream header when that is still pending.
func (n *negotiation) write(b []byte) error {
	if len(n.pending) > 0 {
		b = append(n.pending, b...)
		n.pending = nil
	}
	_, err := n.c.nc.Write(b)
	return err
}

// flush writes the pending stream header, if any.
func (n *negotiation) flush() error {
	if len(n.pending) == 0 {
		return nil
	}
	return n.write(nil)
}

func (n *negotiation) send(el *stanza.Element) error {
	return n.write(stanza.Append(nil, el, stanza.NSClient))
}

// fail ends a stream that never reached the bound state.
func (n *negotiation) fail(err error) {
	var se *stanza.StreamError
	var out []byte
	if errors.As(err, &se) {
		if !n.header {
			out = stanza.AppendStreamHeader(out, stanza.StreamHeader{From: n.c.domain, ID: stanza.NewID(), Version: "1.0", DefaultNS: stanza.NSClient}, true)
		}
		out = append(n.pending, out...)
		n.pending = nil
		out = stanza.Append(out, se.Element(), stanza.NSClient)
		out = append(out, "</stream:stream>"...)
		n.c.nc.SetWriteDeadline(time.Now().Add(closeGrace))
		n.c.nc.Write(out)
		n.log.Debug("stream failed", "condition", se.Condition, "text", se.Text)
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		n.log.Debug("stream failed", "err", err)
	}
	n.c.nc.Close()
}

// next reads the next top-level element during negotiation. A closing
// stream tag from the peer ends negotiation.
func (n *negotiation) next() (*stanza.Element, error) {
	if err := n.flush(); err != nil {
		return nil, err
	}
	el, err := n.c.dec.Next()
	if err != nil {
		if errors.Is(err, stanza.ErrStreamEnd) {
			n.write([]byte("</stream:stream>"))
			return nil, io.EOF
		}
		if se := stanza.StreamErrorFor(err); se != nil {
			return nil, se
		}
		return nil, err
	}
	return el, nil
}

func features(children ...*stanza.Element) *stanza.Element {
	f := stanza.New(stanza.NSStream, "features")
	for _, c := range children {
		if c != nil {
			f.Append(c)
		}
	}
	return f
}

// offerTLS offers STARTTLS (required) and upgrades the connection.
func (n *negotiation) offerTLS(ctx context.Context) error {
	st := stanza.New(NSTLS, "starttls")
	if n.cfg.RequireTLS {
		st.Append(stanza.New(NSTLS, "required"))
	}
	if err := n.send(features(st)); err != nil {
		return err
	}
	for {
		el, err := n.next()
		if err != nil {
			return err
		}
		if el.Name.Space == NSTLS && el.Name.Local == "starttls" {
			break
		}
		if el.Name.Space == stanza.NSClient && el.Name.Local == "iq" {
			if n.preAuthIQ(ctx, el) {
				continue
			}
		}
		return &stanza.StreamError{Condition: "policy-violation", Text: "STARTTLS is required"}
	}
	if err := n.send(stanza.New(NSTLS, "proceed")); err != nil {
		return err
	}
	tc := tls.Server(n.c.nc, n.cfg.TLS)
	// The connection's negotiation deadline bounds the handshake, and
	// a server shutting down cuts it (startC2S): a context with a
	// timeout of its own would add a timer per login that, stopped,
	// stays in the timer heap until it would have fired.
	if err := tc.Handshake(); err != nil {
		n.log.Debug("tls handshake failed", "err", err)
		return io.EOF // nothing more can be said on this connection
	}
	n.tlsConn = tc
	n.c.nc = tc
	n.c.secure = true
	n.c.dec.Reset(tc)
	n.header = false
	return nil
}

// preAuthIQ answers an IQ before authentication (in-band registration);
// it reports false when no handler exists.
func (n *negotiation) preAuthIQ(ctx context.Context, iq *stanza.Element) bool {
	reply := n.host.PreAuthIQ(ctx, n.c, iq)
	if reply == nil {
		return false
	}
	n.send(reply)
	return true
}

// bind offers resource binding and binds the requested resource.
func (n *negotiation) bind(ctx context.Context) (SessionHandler, error) {
	f := features(stanza.New(NSBind, "bind"),
		stanza.New(NSSession, "session").Append(stanza.New(NSSession, "optional")))
	for _, extra := range n.host.StreamFeatures() {
		f.Append(extra)
	}
	if err := n.send(f); err != nil {
		return nil, err
	}
	for {
		el, err := n.next()
		if err != nil {
			return nil, err
		}
		if el.Name.Space == NSSM {
			if h, ok, err := n.resume(ctx, el); ok || err != nil {
				return h, err
			}
			continue
		}
		if el.Name.Space != stanza.NSClient || el.Name.Local != "iq" {
			return nil, &stanza.StreamError{Condition: "not-authorized", Text: "bind a resource first"}
		}
		payload := el.FirstElement()
		if el.Get("type") != stanza.Set || payload == nil {
			n.send(stanza.ErrorReply(el, stanza.NewError("not-allowed")))
			continue
		}
		switch {
		case payload.Name.Space == NSSession && payload.Name.Local == "session":
			n.send(stanza.ResultReply(el, nil))
			continue
		case payload.Name.Space != NSBind || payload.Name.Local != "bind":
			n.send(stanza.ErrorReply(el, stanza.NewError("not-allowed")))
			continue
		}
		n.startTrace(n.bare)
		h, full, err := n.host.Bind(ctx, n.c, n.bare, payload.ChildText(NSBind, "resource"))
		if err != nil {
			var se *stanza.Error
			if !errors.As(err, &se) {
				se = stanza.NewError("internal-server-error")
			}
			n.send(stanza.ErrorReply(el, se))
			continue
		}
		n.c.jid = full
		res := stanza.New(NSBind, "bind").Append(stanza.New(NSBind, "jid").AppendText(full.String()))
		reply := stanza.ResultReply(el, res)
		reply.Set("to", full.String())
		reply.Set("from", "")
		if err := n.send(reply); err != nil {
			h.Closed(err)
			return nil, err
		}
		return h, nil
	}
}

// startTrace sets up tracing of bare's stanzas when configured. It must
// run before binding: once bound, other goroutines send to the stream.
func (n *negotiation) startTrace(bare jid.JID) {
	if n.cfg.Trace != nil && n.c.trace == nil {
		if l := n.cfg.Trace(bare); l != nil {
			n.c.trace = l.With("stream", n.c.id)
		}
	}
}

// resume handles a XEP-0198 element sent instead of binding: <resume/>
// takes over a hibernated session (ok is true), anything else (an early
// <enable/>) is answered with <failed/>.
func (n *negotiation) resume(ctx context.Context, el *stanza.Element) (SessionHandler, bool, error) {
	failed := func(condition string) {
		n.send(stanza.New(NSSM, "failed").Append(stanza.New(stanza.NSStanzas, condition)))
	}
	if el.Name.Local != "resume" {
		failed("unexpected-request")
		return nil, false, nil
	}
	h, err := strconv.ParseUint(el.Get("h"), 10, 32)
	if err != nil || el.Get("previd") == "" {
		failed("bad-request")
		return nil, false, nil
	}
	sh, full, handled, err := n.host.Resume(ctx, n.c, n.bare, el.Get("previd"), uint32(h))
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			se = stanza.NewError("internal-server-error")
		}
		failed(se.Condition)
		return nil, false, nil
	}
	n.c.jid = full
	resumed := stanza.New(NSSM, "resumed", "previd", el.Get("previd"), "h", strconv.FormatUint(uint64(handled), 10))
	if err := n.send(resumed); err != nil {
		sh.Closed(err)
		return nil, false, err
	}
	return sh, true, nil
}

// decodeSASL decodes the base64 text of a SASL element; "=" is an empty
// response and no text at all means no response.
func decodeSASL(el *stanza.Element) ([]byte, error) {
	t := strings.TrimSpace(el.Text())
	if t == "" || t == "=" {
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		return nil, &sasl.Failure{Condition: "incorrect-encoding"}
	}
	return b, nil
}

func encodeSASL(name string, data []byte) *stanza.Element {
	el := stanza.New(NSSASL, name)
	if len(data) > 0 {
		el.AppendText(base64.StdEncoding.EncodeToString(data))
	}
	return el
}

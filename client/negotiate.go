package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// Namespaces used during negotiation.
const (
	NSTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession  = "urn:ietf:params:xml:ns:xmpp-session"
	NSRegister = "jabber:iq:register"
	// NSRegisterFeature is the stream feature of XEP-0077.
	NSRegisterFeature = "http://jabber.org/features/iq-register"
)

// negotiation is the state of one stream being set up, from TCP connect
// to bound resource. Each step is one method.
type negotiation struct {
	cfg      Config
	conn     net.Conn
	dec      *stanza.Decoder
	features *stanza.Element
	// preAuth is the feature set offered after TLS and before SASL.
	preAuth *stanza.Element
	bound   jid.JID
	buf     []byte
	// resume, when set, resumes a stream management session instead of
	// binding a resource (Resume).
	resume *resumeRequest
}

// negotiate runs the steps of Dial, or of Register when registerOnly, or
// of Resume when resume is set. On error the connection is closed.
func negotiate(ctx context.Context, cfg Config, registerOnly bool, resume *resumeRequest) (_ *negotiation, err error) {
	if cfg.Addr == "" || cfg.JID.Domain() == "" {
		return nil, errors.New("client: Config needs Addr and JID")
	}
	if !registerOnly && cfg.JID.Local() == "" {
		return nil, errors.New("client: Config.JID has no localpart to log in with")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	n := &negotiation{cfg: cfg, resume: resume}
	if err := n.dial(ctx); err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	n.conn.SetDeadline(deadline)
	// Cancellation of ctx interrupts blocked reads and writes.
	stop := context.AfterFunc(ctx, func() { n.conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		stopped := stop()
		if err == nil && !stopped {
			err = ctx.Err() // the deadline was poisoned just as we finished
		}
		if err != nil {
			if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
			n.conn.Close()
			return
		}
		n.conn.SetDeadline(time.Time{})
	}()

	if cfg.Security == DirectTLS {
		if err := n.handshake(ctx, "xmpp-client"); err != nil {
			return nil, err
		}
	}
	if err := n.open(); err != nil {
		return nil, err
	}
	if cfg.Security == StartTLS {
		if err := n.startTLS(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Register || registerOnly {
		err := n.register()
		var se *stanza.Error
		switch {
		case registerOnly:
			n.conn.SetDeadline(time.Now().Add(closeTimeout))
			n.conn.Write([]byte("</stream:stream>"))
			n.conn.Close()
			return nil, err
		case errors.As(err, &se) && se.Condition == "conflict":
			// The account exists; log in to it.
		case err != nil:
			return nil, err
		}
	}
	n.preAuth = n.features
	if err := n.authenticate(); err != nil {
		return nil, err
	}
	if n.resume != nil {
		if err := n.resumeSM(); err != nil {
			return nil, err
		}
		return n, nil
	}
	if err := n.bind(); err != nil {
		return nil, err
	}
	return n, nil
}

// dial opens the TCP connection.
func (n *negotiation) dial(ctx context.Context) error {
	d := net.Dialer{}
	if n.cfg.LocalAddr != nil {
		d.LocalAddr = &net.TCPAddr{IP: n.cfg.LocalAddr}
	}
	c, err := d.DialContext(ctx, "tcp", n.cfg.Addr)
	if err != nil {
		return err
	}
	n.conn = c
	n.dec = stanza.NewDecoder(c, n.cfg.Limits)
	return nil
}

// tlsConfig returns the client TLS configuration.
func (n *negotiation) tlsConfig(alpn string) *tls.Config {
	var tc *tls.Config
	if n.cfg.TLSConfig != nil {
		tc = n.cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = n.cfg.JID.Domain()
	}
	if n.cfg.Insecure {
		tc.InsecureSkipVerify = true
	}
	if alpn != "" && tc.NextProtos == nil {
		tc.NextProtos = []string{alpn}
	}
	return tc
}

// handshake runs the TLS client handshake on the connection and resets
// the decoder onto the TLS layer.
func (n *negotiation) handshake(ctx context.Context, alpn string) error {
	tc := tls.Client(n.conn, n.tlsConfig(alpn))
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("client: TLS handshake: %w", err)
	}
	n.conn = tc
	n.dec.Reset(tc)
	return nil
}

// open sends a stream header and reads the server's header and features.
func (n *negotiation) open() error {
	n.buf = stanza.AppendStreamHeader(n.buf[:0], stanza.StreamHeader{
		To:        n.cfg.JID.Domain(),
		Version:   "1.0",
		DefaultNS: stanza.NSClient,
	}, true)
	if err := n.write(n.buf); err != nil {
		return err
	}
	h, err := n.dec.StreamStart()
	if err != nil {
		return fmt.Errorf("client: reading the stream header: %w", err)
	}
	if h.StreamNS != stanza.NSStream || h.Local != "stream" {
		return fmt.Errorf("client: the server opened {%s}%s, not a stream", h.StreamNS, h.Local)
	}
	f, err := n.next()
	if err != nil {
		return err
	}
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		return fmt.Errorf("client: expected stream features, got <%s/>", f.Name.Local)
	}
	n.features = f
	return nil
}

// next reads one element, turning a stream error into an error.
func (n *negotiation) next() (*stanza.Element, error) {
	el, err := n.dec.Next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
		return nil, parseStreamError(el)
	}
	return el, nil
}

func (n *negotiation) write(b []byte) error {
	_, err := n.conn.Write(b)
	return err
}

func (n *negotiation) send(el *stanza.Element) error {
	n.buf = stanza.Append(n.buf[:0], el, stanza.NSClient)
	return n.write(n.buf)
}

// startTLS upgrades the stream (RFC 6120 §5.4) and reopens it.
func (n *negotiation) startTLS(ctx context.Context) error {
	if n.features.Child(NSTLS, "starttls") == nil {
		return errors.New("client: the server does not offer STARTTLS")
	}
	if err := n.send(stanza.New(NSTLS, "starttls")); err != nil {
		return err
	}
	el, err := n.next()
	if err != nil {
		return err
	}
	if el.Name.Space != NSTLS || el.Name.Local != "proceed" {
		return fmt.Errorf("client: STARTTLS refused: <%s/>", el.Name.Local)
	}
	if n.dec.Buffered() != 0 {
		// Anything after <proceed/> in the clear would be injected.
		return errors.New("client: data after <proceed/> before the TLS handshake")
	}
	if err := n.handshake(ctx, ""); err != nil {
		return err
	}
	return n.open()
}

// register creates the account by XEP-0077 §3.1, before authentication.
// The XEP's first step (asking for the fields) is skipped: username and
// password are all this client can give, and servers accept them.
func (n *negotiation) register() error {
	if n.features.Child(NSRegisterFeature, "register") == nil {
		return ErrNoRegistration
	}
	q := stanza.New(NSRegister, "query").Append(
		stanza.New(NSRegister, "username").AppendText(n.cfg.JID.Local()),
		stanza.New(NSRegister, "password").AppendText(n.cfg.Password),
	)
	_, err := n.iq(stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "id", "reg1").Append(q))
	return err
}

// iq sends a request during negotiation and reads its response; nothing
// else is expected meanwhile. An error response is a *stanza.Error.
func (n *negotiation) iq(req *stanza.Element) (*stanza.Element, error) {
	if err := n.send(req); err != nil {
		return nil, err
	}
	id := req.Get("id")
	for {
		el, err := n.next()
		if err != nil {
			return nil, err
		}
		if el.Name.Local != "iq" || el.Get("id") != id {
			continue // COMPAT: servers may push stanzas early; ignore them
		}
		switch el.Get("type") {
		case stanza.Result:
			return el, nil
		case stanza.ErrorType:
			if e := stanza.ParseError(el); e != nil {
				return nil, e
			}
			return nil, stanza.NewError("undefined-condition")
		default:
			return nil, fmt.Errorf("client: unexpected IQ type %q in response", el.Get("type"))
		}
	}
}

// bind binds a resource (RFC 6120 §7) and, when the server still requires
// it, establishes a session (RFC 3921 §3).
func (n *negotiation) bind() error {
	if n.features.Child(NSBind, "bind") == nil {
		return errors.New("client: the server does not offer resource binding")
	}
	b := stanza.New(NSBind, "bind")
	if n.cfg.Resource != "" {
		b.Append(stanza.New(NSBind, "resource").AppendText(n.cfg.Resource))
	}
	res, err := n.iq(stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "id", "bind1").Append(b))
	if err != nil {
		return fmt.Errorf("client: bind: %w", err)
	}
	rb := res.Child(NSBind, "bind")
	if rb == nil {
		return errors.New("client: bind: the result has no <bind/>")
	}
	full, err := jid.Parse(rb.ChildText(NSBind, "jid"))
	if err != nil || full.Resource() == "" {
		return fmt.Errorf("client: bind: the server returned no valid full JID")
	}
	n.bound = full
	// COMPAT: servers implementing RFC 3921 require the session IQ unless
	// they mark it optional (draft-cridland-xmpp-session-01).
	if s := n.features.Child(NSSession, "session"); s != nil && s.Child(NSSession, "optional") == nil {
		_, err := n.iq(stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "id", "sess1").
			Append(stanza.New(NSSession, "session")))
		if err != nil {
			return fmt.Errorf("client: session: %w", err)
		}
	}
	return nil
}

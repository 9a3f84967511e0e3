package s2s

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// inbound is a stream a remote server opened to us. It carries its
// stanzas to us once it is authenticated for their 'from' domain, by SASL
// EXTERNAL or by dialback (possibly several domains, XEP-0220 §2.5);
// we only ever write negotiation and dialback answers on it.
type inbound struct {
	p   *Pool
	w   *wire
	log *slog.Logger

	secure  bool
	tlsConn *tls.Conn
	id      string // the stream id we gave
	to      string // the served domain the stream was opened to
	from    string // the domain the peer's header claimed ("" if none)
	header  bool   // our stream header has been sent
	sasl    bool   // SASL EXTERNAL succeeded for 'from'

	mu        sync.Mutex
	authed    map[string]bool // remote domains the stream may send from, each counted by p.lim
	verifying int             // dialback verifications under way
	ended     bool            // serve returned: no domain may be authenticated any more

	lastOffset int64 // input offset after the previous stanza (rate limits)
}

// maxVerifying bounds the dialback verifications one inbound stream may
// have under way, each an outbound connection: a peer cannot make us
// open connections without limit.
const maxVerifying = 8

func (p *Pool) serveInbound(nc net.Conn, directTLS bool) {
	in := &inbound{p: p, authed: map[string]bool{}, log: p.cfg.Log.With("remote_addr", nc.RemoteAddr().String())}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		nc.Close()
		return
	}
	in.w = newWire(nc, p.cfg.Limits, p.cfg.MaxQueueBytes)
	p.in[in] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.in, in)
		p.mu.Unlock()
		in.mu.Lock()
		in.ended = true
		for d := range in.authed {
			p.lim.removeStream(d)
		}
		in.mu.Unlock()
	}()
	nc.SetDeadline(time.Now().Add(p.cfg.ConnectTimeout))
	if directTLS {
		tc := tls.Server(nc, p.serverTLS("xmpp-server"))
		if err := tc.Handshake(); err != nil {
			in.log.Debug("tls handshake failed", "err", err)
			nc.Close()
			return
		}
		in.secured(tc)
	}
	err := in.serve()
	if err != nil {
		in.log.Debug("inbound stream ended", "from", in.from, "err", err)
	}
	var se *stanza.StreamError
	if errors.As(err, &se) && !in.header {
		// RFC 6120 §4.9.1.2: a stream error is sent in a stream.
		in.w.write(header(in.to, "", stanza.NewID()))
	}
	if se == nil {
		se = stanza.StreamErrorFor(err)
	}
	in.w.close(se)
	<-in.w.done
}

// serverTLS is the TLS configuration of inbound streams: ours by SNI,
// plus a request for the peer's certificate (checked by validFor).
func (p *Pool) serverTLS(alpn ...string) *tls.Config {
	c := p.cfg.ServerTLS.Clone()
	c.ClientAuth = tls.RequestClientCert
	c.NextProtos = alpn
	return c
}

func (in *inbound) secured(tc *tls.Conn) {
	in.secure = true
	in.tlsConn = tc
	in.w.setConn(tc)
}

// authenticated reports whether the stream may carry stanzas yet.
func (in *inbound) authenticated() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.authed) > 0
}

func (in *inbound) serve() error {
	negotiationEnd := time.Now().Add(in.p.cfg.ConnectTimeout)
	if err := in.open(); err != nil {
		return err
	}
	for {
		deadline := negotiationEnd
		if in.authenticated() {
			deadline = time.Now().Add(in.p.cfg.IdleTimeout)
		}
		el, err := in.w.next(deadline)
		if err != nil {
			if errors.Is(err, stanza.ErrStreamEnd) {
				return nil
			}
			if isTimeout(err) {
				return &stanza.StreamError{Condition: "connection-timeout"}
			}
			return err
		}
		switch el.Name.Space {
		case NSTLS:
			err = in.startTLS(el)
		case NSSASL:
			err = in.external(el)
		case NSDialback:
			err = in.dialback(el)
		case stanza.NSServer:
			err = in.stanza(el)
		case stanza.NSStream:
			if el.Name.Local == "error" {
				return streamErrorFrom(el)
			}
			err = &stanza.StreamError{Condition: "unsupported-stanza-type"}
		default:
			err = &stanza.StreamError{Condition: "unsupported-stanza-type"}
		}
		if err != nil {
			return err
		}
	}
}

// open reads the peer's stream header, answers with ours and offers the
// features of the stream's state.
func (in *inbound) open() error {
	h, err := in.w.dec.StreamStart()
	if err != nil {
		return err
	}
	to := normalizeDomain(h.To)
	if in.to == "" && in.p.served(to) {
		in.to = to
	}
	in.id = stanza.NewID()
	peer := normalizeDomain(h.From)
	if err := in.w.write(header(in.to, peer, in.id)); err != nil {
		return err
	}
	in.header = true
	switch {
	case h.StreamNS != stanza.NSStream || h.Local != "stream" || h.DefaultNS != stanza.NSServer:
		return &stanza.StreamError{Condition: "invalid-namespace"}
	case to == "" || !in.p.served(to):
		return &stanza.StreamError{Condition: "host-unknown"}
	case to != in.to:
		return &stanza.StreamError{Condition: "host-unknown", Text: "the domain changed on stream restart"}
	}
	in.from = peer
	if h.Version == "" {
		return nil // pre-1.0 peer: no features, dialback only
	}
	return in.w.writeElement(in.features())
}

func (in *inbound) features() *stanza.Element {
	f := stanza.New(stanza.NSStream, "features")
	if !in.secure && in.p.cfg.ServerTLS != nil {
		return f.Append(stanza.New(NSTLS, "starttls").Append(stanza.New(NSTLS, "required")))
	}
	if !in.sasl && in.from != "" && in.certErr(in.from) == nil {
		f.Append(stanza.New(NSSASL, "mechanisms").Append(stanza.New(NSSASL, "mechanism").AppendText("EXTERNAL")))
	}
	return f.Append(stanza.New(NSDialbackFeature, "dialback").Append(stanza.New(NSDialbackFeature, "errors")))
}

// certErr says why the peer's certificate is not valid for domain (nil:
// it is).
func (in *inbound) certErr(domain string) error {
	if in.tlsConn == nil {
		return errors.New("no TLS")
	}
	return in.p.validFor(in.tlsConn.ConnectionState().PeerCertificates, domain)
}

func (in *inbound) startTLS(el *stanza.Element) error {
	if el.Name.Local != "starttls" || in.secure || in.p.cfg.ServerTLS == nil {
		return &stanza.StreamError{Condition: "policy-violation", Text: "unexpected TLS negotiation"}
	}
	if in.w.dec.Buffered() != 0 {
		return &stanza.StreamError{Condition: "policy-violation", Text: "data after <starttls/>"}
	}
	if err := in.w.writeElement(stanza.New(NSTLS, "proceed")); err != nil {
		return err
	}
	tc := tls.Server(in.w.nc, in.p.serverTLS())
	if err := tc.Handshake(); err != nil {
		in.log.Debug("tls handshake failed", "err", err)
		in.header = true // nothing more can be said on this connection
		return err
	}
	in.secured(tc)
	in.header = false
	return in.open()
}

// requireTLS refuses authentication on a stream that is not encrypted
// while TLS is available.
func (in *inbound) requireTLS() error {
	if !in.secure && in.p.cfg.ServerTLS != nil {
		return &stanza.StreamError{Condition: "policy-violation", Text: "STARTTLS is required"}
	}
	return nil
}

// external handles SASL EXTERNAL (XEP-0178): the peer's certificate must
// be valid for the domain of its stream header, which is also the only
// authorization identity accepted.
func (in *inbound) external(el *stanza.Element) error {
	if err := in.requireTLS(); err != nil {
		return err
	}
	fail := func(condition string) error {
		return in.w.writeElement(stanza.New(NSSASL, "failure").Append(stanza.New(NSSASL, condition)))
	}
	if el.Name.Local != "auth" {
		return fail("aborted")
	}
	if el.Get("mechanism") != "EXTERNAL" || in.sasl {
		return fail("invalid-mechanism")
	}
	authzid := in.from
	if t := strings.TrimSpace(el.Text()); t != "" && t != "=" {
		b, err := base64.StdEncoding.DecodeString(t)
		if err != nil {
			return fail("incorrect-encoding")
		}
		authzid = normalizeDomain(string(b))
	}
	if authzid == "" || authzid != in.from {
		return fail("invalid-authzid")
	}
	if err := in.certErr(authzid); err != nil {
		in.log.Debug("sasl external refused", "from", authzid, "err", err)
		return fail("not-authorized")
	}
	if err := in.authenticate(authzid); err != nil {
		return err
	}
	if err := in.w.writeElement(stanza.New(NSSASL, "success")); err != nil {
		return err
	}
	in.sasl = true
	in.log.Debug("inbound stream authenticated", "from", authzid, "method", "sasl-external")
	in.header = false
	return in.open()
}

// dialback handles the receiving server's part (<db:result/>: verify
// the key with the authoritative server, asynchronously) and the
// authoritative server's part (<db:verify/>: check a key we issued).
func (in *inbound) dialback(el *stanza.Element) error {
	if err := in.requireTLS(); err != nil {
		return err
	}
	from, to := normalizeDomain(el.Get("from")), normalizeDomain(el.Get("to"))
	if !in.p.served(to) {
		return &stanza.StreamError{Condition: "host-unknown"}
	}
	if _, err := jid.New("", from, ""); err != nil || from == "" || in.p.served(from) {
		return &stanza.StreamError{Condition: "invalid-from"}
	}
	key := strings.TrimSpace(el.Text())
	switch el.Name.Local {
	case "verify":
		typ := "invalid"
		if in.p.checkKey(from, to, el.Get("id"), key) {
			typ = "valid"
		}
		return in.w.writeElement(stanza.New(NSDialback, "verify", "from", to, "to", from, "id", el.Get("id"), "type", typ))
	case "result":
		if el.Get("type") != "" {
			return nil // an answer on a stream we did not ask on
		}
		in.mu.Lock()
		busy := in.verifying >= maxVerifying
		if !busy {
			in.verifying++
		}
		in.mu.Unlock()
		if busy {
			return &stanza.StreamError{Condition: "policy-violation", Text: "too many dialback requests at once"}
		}
		if !in.p.track() {
			return &stanza.StreamError{Condition: "system-shutdown"}
		}
		go func() {
			defer in.p.wg.Done()
			in.verify(from, to, key)
			in.mu.Lock()
			in.verifying--
			in.mu.Unlock()
		}()
		return nil
	}
	return &stanza.StreamError{Condition: "unsupported-stanza-type"}
}

// verify checks the dialback key the peer gave for (from, to) with from's
// authoritative server and tells the peer the outcome.
func (in *inbound) verify(from, to, key string) {
	ok, err := in.p.verifyKey(to, from, in.id, key)
	reply := stanza.New(NSDialback, "result", "from", to, "to", from)
	switch {
	case err != nil:
		in.log.Info("dialback verification failed", "from", from, "err", err)
		reply.Set("type", "error").Append((&stanza.Error{Type: stanza.Cancel, Condition: "remote-server-not-found"}).ElementIn(stanza.NSServer))
	case ok && in.authenticate(from) != nil:
		reply.Set("type", "error").Append((&stanza.Error{Type: stanza.Wait, Condition: "resource-constraint",
			Text: "too many streams from " + from}).ElementIn(stanza.NSServer))
	case ok:
		in.log.Debug("inbound stream authenticated", "from", from, "method", "dialback")
		reply.Set("type", "valid")
	default:
		in.log.Info("dialback key refused", "from", from)
		reply.Set("type", "invalid")
	}
	in.w.writeElement(reply)
}

// authenticate lets the stream carry stanzas from domain, unless domain
// has too many streams already (InboundLimits.StreamsPerDomain).
func (in *inbound) authenticate(domain string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.authed[domain] {
		return nil
	}
	if in.ended || !in.p.lim.addStream(domain) {
		in.log.Info("inbound stream refused: too many streams from its domain", "from", domain)
		return &stanza.StreamError{Condition: "policy-violation", Text: "too many streams from " + domain}
	}
	in.authed[domain] = true
	return nil
}

// throttle charges a stanza from domain to the domain's buckets and
// stops reading this stream while they are in debt.
func (in *inbound) throttle(domain string) {
	off := in.w.dec.InputOffset()
	n := off - in.lastOffset
	in.lastOffset = off
	d := in.p.lim.charge(domain, int(n))
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-in.p.ctx.Done():
	}
}

// stanza checks the addresses of a stanza from the peer and routes it
// (RFC 6120 §8.1.1.2, §8.1.2.2, §13.8).
func (in *inbound) stanza(el *stanza.Element) error {
	switch el.Name.Local {
	case "message", "presence", "iq":
	default:
		return &stanza.StreamError{Condition: "unsupported-stanza-type"}
	}
	if !in.authenticated() {
		return &stanza.StreamError{Condition: "not-authorized"}
	}
	if el.Get("from") == "" || el.Get("to") == "" {
		return &stanza.StreamError{Condition: "improper-addressing"}
	}
	to, err := jid.Parse(el.Get("to"))
	if err != nil {
		return &stanza.StreamError{Condition: "improper-addressing", Text: "malformed 'to'"}
	}
	if !in.p.served(to.Domain()) {
		return &stanza.StreamError{Condition: "host-unknown"}
	}
	from, err := jid.Parse(el.Get("from"))
	in.mu.Lock()
	ok := err == nil && in.authed[from.Domain()]
	in.mu.Unlock()
	if !ok {
		return &stanza.StreamError{Condition: "invalid-from"}
	}
	in.throttle(from.Domain())
	if err := in.p.cfg.Router.Route(in.p.ctx, toNS(el, stanza.NSServer, stanza.NSClient)); err != nil {
		in.log.Debug("inbound stanza not routed", "err", err)
	}
	return nil
}

// normalizeDomain returns the canonical form of a domain from a header
// or attribute ("" if it is not a valid domain).
func normalizeDomain(s string) string {
	j, err := jid.New("", strings.TrimSuffix(s, "."), "")
	if err != nil {
		return ""
	}
	return j.Domain()
}

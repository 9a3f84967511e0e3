package compliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
)

// componentErrorWait is how long the component probe waits for a stream
// error after the header.
const componentErrorWait = 2 * time.Second

const (
	nsCaps      = "http://jabber.org/protocol/caps"
	nsComponent = "jabber:component:accept"
	nsData      = "jabber:x:data"
)

func probeTLS(_ context.Context, p *prober) (string, error) {
	st, ok := p.s.TLSState()
	if !ok {
		return "", errorf("the stream is not encrypted")
	}
	name := tls.VersionName(st.Version)
	if st.Version < tls.VersionTLS12 {
		return "", errorf("negotiated %s", name)
	}
	suite := tls.CipherSuiteName(st.CipherSuite)
	// TLS 1.3 suites are all AEAD; for 1.2 the name says.
	if st.Version == tls.VersionTLS12 && !strings.Contains(suite, "GCM") && !strings.Contains(suite, "CHACHA20") {
		return "", errorf("%s with %s, not an AEAD cipher", name, suite)
	}
	return name + ", " + suite, nil
}

// probeCertificate verifies the chain the server sent against the
// system's roots, whatever --insecure said for the connection.
func probeCertificate(_ context.Context, p *prober) (string, error) {
	st, _ := p.s.TLSState()
	if len(st.PeerCertificates) == 0 {
		return "", errorf("the server sent no certificate")
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: p.cfg.JID.Domain(), Intermediates: inter})
	if err != nil {
		return "", errorf("not valid for %s: %v", p.cfg.JID.Domain(), err)
	}
	left := time.Until(leaf.NotAfter)
	if left < 14*24*time.Hour {
		return "", errorf("expires on %s", leaf.NotAfter.Format(time.DateOnly))
	}
	return fmt.Sprintf("issued by %s, valid until %s", leaf.Issuer.CommonName, leaf.NotAfter.Format(time.DateOnly)), nil
}

func probeSASL(_ context.Context, p *prober) (string, error) {
	mechs := p.s.Mechanisms()
	if !slices.Contains(mechs, client.SCRAMSHA1) {
		return "", errorf("offered: %s", strings.Join(mechs, " "))
	}
	return strings.Join(mechs, " "), nil
}

func probeBind(ctx context.Context, p *prober) (string, error) {
	j := p.s.JID()
	if j.Bare() != p.cfg.JID || j.Resource() == "" {
		return "", errorf("bound %s for %s", j, p.cfg.JID)
	}
	// The bound full JID must be reachable: ping it through the server.
	if _, err := p.iq(ctx, p.s, stanza.Get, j, stanza.New(nsPing, "ping")); err != nil {
		return "", errorf("an IQ to the bound JID %s: %v", j, err)
	}
	return j.String(), nil
}

// probeAddresses addresses the account with its domain and localpart in
// upper case: after RFC 7622 normalisation it is the same JID, so the
// server must answer for the account rather than treat it as remote.
func probeAddresses(ctx context.Context, p *prober) (string, error) {
	upper := upperASCII(p.cfg.JID.Local()) + "@" + upperASCII(p.cfg.JID.Domain())
	iq := stanza.New(stanza.NSClient, "iq", "type", stanza.Get, "to", upper).
		Append(stanza.New(nsDiscoInfo, "query"))
	res, err := p.s.SendIQ(ctx, iq)
	if err != nil {
		return "", errorf("disco#info to %s: %v", upper, err)
	}
	if from, err := jid.Parse(res.Get("from")); res.Get("from") != "" && (err != nil || from != p.cfg.JID) {
		return "", errorf("disco#info to %s was answered by %q", upper, res.Get("from"))
	}
	return upper + " reached " + p.cfg.JID.String(), nil
}

func probeDisco(ctx context.Context, p *prober) (string, error) {
	d, err := p.server(ctx)
	if err != nil {
		return "", err
	}
	if !d.hasIdentity("server", "im") {
		return "", errorf("no server/im identity (identities: %v)", d.identities)
	}
	if !d.has(nsDiscoInfo) {
		return "", errorf("disco#info does not list its own feature %s", nsDiscoInfo)
	}
	items, err := p.services(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d features, %d services", len(d.features), len(items)), nil
}

func probeCaps(_ context.Context, p *prober) (string, error) {
	c := p.s.Features().Child(nsCaps, "c")
	if c == nil {
		c = p.s.PreAuthFeatures().Child(nsCaps, "c")
	}
	if c == nil {
		return "", errorf("no <c xmlns='%s'/> in stream features", nsCaps)
	}
	if c.Get("ver") == "" || c.Get("hash") == "" {
		return "", errorf("<c/> without ver or hash")
	}
	return c.Get("hash") + " " + c.Get("ver"), nil
}

// probeComponent opens a component stream (XEP-0114 §3) for a name the
// server does not know: a server speaking the protocol answers with a
// jabber:component:accept stream (then refuses the name).
func probeComponent(ctx context.Context, p *prober) (string, error) {
	if p.cfg.ComponentAddr == "" {
		return "", errorf("not checked: components are invisible to clients; pass --component HOST:PORT")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.cfg.ComponentAddr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	to := "hearth-compliance-" + randomToken(4) + ".invalid"
	hdr := stanza.AppendStreamHeader(nil, stanza.StreamHeader{To: to, DefaultNS: nsComponent}, true)
	if _, err := conn.Write(hdr); err != nil {
		return "", err
	}
	dec := stanza.NewDecoder(conn, stanza.Limits{})
	h, err := dec.StreamStart()
	if err != nil {
		return "", errorf("no stream header from %s: %v", p.cfg.ComponentAddr, err)
	}
	if h.DefaultNS != nsComponent {
		return "", errorf("%s answered with a %q stream", p.cfg.ComponentAddr, h.DefaultNS)
	}
	// A server may wait for the handshake instead of refusing the name:
	// the header was the answer that matters.
	conn.SetReadDeadline(time.Now().Add(componentErrorWait))
	if el, err := dec.Next(); err == nil && el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
		for _, c := range el.Elements() {
			if c.Name.Local == "invalid-namespace" || c.Name.Local == "unsupported-version" {
				return "", errorf("component stream refused: %s", c.Name.Local)
			}
		}
	}
	conn.Write([]byte("</stream:stream>"))
	return "component stream answered on " + p.cfg.ComponentAddr, nil
}

// probeDirectTLS logs in over the direct TLS port.
func probeDirectTLS(ctx context.Context, p *prober) (string, error) {
	if p.cfg.DirectTLSAddr == "" {
		p.cfg.DirectTLSAddr = resolve(ctx, "xmpps-client", p.cfg.JID.Domain(), 0)
		if strings.HasSuffix(p.cfg.DirectTLSAddr, ":0") {
			p.cfg.DirectTLSAddr = ""
			return "", errorf("no _xmpps-client._tcp SRV record for %s", p.cfg.JID.Domain())
		}
	}
	s, _, err := p.dial(ctx, "compliance-tls-"+randomToken(4), client.DirectTLS)
	if err != nil {
		return "", errorf("login over direct TLS at %s: %v", p.cfg.DirectTLSAddr, err)
	}
	defer s.Close()
	st, _ := s.TLSState()
	detail := "logged in at " + p.cfg.DirectTLSAddr
	if st.NegotiatedProtocol != "xmpp-client" {
		// ALPN is a SHOULD; a server without it still works.
		detail += " (no ALPN)"
	}
	return detail, nil
}

// upperASCII upper-cases ASCII letters only: for them lower-casing is
// the exact inverse, which is not true of every Unicode letter (ß).
func upperASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// errNotFeature reports a feature missing from a disco#info result.
func errNotFeature(who jid.JID, feature string) error {
	return errorf("%s does not advertise %s", who, feature)
}

// isCondition reports whether err is a stanza error with one of conds.
func isCondition(err error, conds ...string) bool {
	var se *stanza.Error
	return errors.As(err, &se) && slices.Contains(conds, se.Condition)
}

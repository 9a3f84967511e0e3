package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"hearth/stanza"
)

// connect opens an authenticated stream from local to remote, trying
// every target in order until ctx ends. With verifyOnly the stream is
// returned after TLS, unauthenticated: it only carries <db:verify/>.
func (p *Pool) connect(ctx context.Context, local, remote string, verifyOnly bool) (*wire, error) {
	targets, err := p.targets(ctx, remote)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", remote, err)
	}
	var errs []error
	for _, t := range targets {
		w, err := p.connectTarget(ctx, t, local, remote, verifyOnly)
		if err == nil {
			return w, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return nil, errors.Join(errs...)
}

// connectTarget negotiates a stream with one target.
func (p *Pool) connectTarget(ctx context.Context, t target, local, remote string, verifyOnly bool) (*wire, error) {
	var ips []net.IPAddr
	if ip := net.ParseIP(t.host); ip != nil {
		ips = []net.IPAddr{{IP: ip}}
	} else {
		var err error
		if ips, err = p.cfg.Resolver.LookupIPAddr(ctx, t.host); err != nil {
			return nil, err
		}
	}
	var nc net.Conn
	var err error
	var d net.Dialer
	for _, ip := range ips {
		nc, err = d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(int(t.port))))
		if err == nil {
			break
		}
	}
	if nc == nil {
		if err == nil {
			err = errors.New("no address")
		}
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		nc.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	dl := &dialer{p: p, local: local, remote: remote}
	if t.directTLS {
		tc := tls.Client(nc, p.clientTLS(local, remote, "xmpp-server"))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
		dl.secured(tc)
	}
	dl.w = newWire(nc, p.cfg.Limits, p.cfg.MaxQueueBytes)
	if err := dl.negotiate(ctx, verifyOnly); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		dl.w.close(nil)
		return nil, err
	}
	if !stop() {
		dl.w.close(nil)
		return nil, ctx.Err()
	}
	dl.w.nc.SetDeadline(time.Time{})
	return dl.w, nil
}

// clientTLS is the TLS configuration of a stream from local to remote.
func (p *Pool) clientTLS(local, remote string, alpn ...string) *tls.Config {
	return &tls.Config{
		ServerName: remote,
		MinVersion: tls.VersionTLS12,
		NextProtos: alpn,
		// The certificate is checked by validFor after the handshake:
		// an invalid one still allows dialback when RequireValidCerts
		// is false, and it must be checked against the remote domain,
		// whatever host the SRV record named.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := p.cfg.Certificate(local); c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil
		},
	}
}

// validFor reports whether chain (leaf first) is a valid certificate for
// domain under the Pool's roots (RFC 6125 DNS-ID, wildcards included).
func (p *Pool) validFor(chain []*x509.Certificate, domain string) error {
	if len(chain) == 0 {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		DNSName:       domain,
		Roots:         p.cfg.Roots,
		Intermediates: inter,
		// Server certificates serve as client certificates on s2s.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

// dialer negotiates an outbound stream: one method per step.
type dialer struct {
	p             *Pool
	w             *wire
	local, remote string
	secure        bool
	certErr       error // why the peer's certificate is not valid (nil: valid)
	id            string
	dialbackNS    bool // the peer's header declared xmlns:db
	features      *stanza.Element
}

func (d *dialer) secured(tc *tls.Conn) {
	d.secure = true
	d.certErr = d.p.validFor(tc.ConnectionState().PeerCertificates, d.remote)
}

func (d *dialer) negotiate(ctx context.Context, verifyOnly bool) error {
	if err := d.open(); err != nil {
		return err
	}
	if !d.secure {
		if err := d.startTLS(ctx); err != nil {
			return err
		}
	}
	if d.certErr != nil && d.p.cfg.RequireValidCerts {
		return fmt.Errorf("certificate not valid for %s: %w", d.remote, d.certErr)
	}
	if verifyOnly {
		return nil
	}
	if d.certErr == nil && hasMechanism(d.features, "EXTERNAL") {
		ok, err := d.external()
		if ok || err != nil {
			return err
		}
	}
	return d.dialback()
}

// open sends our stream header and reads the peer's header and features.
func (d *dialer) open() error {
	if err := d.w.write(header(d.local, d.remote, "")); err != nil {
		return err
	}
	h, err := d.w.dec.StreamStart()
	if err != nil {
		return err
	}
	if h.StreamNS != stanza.NSStream || h.Local != "stream" || h.DefaultNS != stanza.NSServer {
		return errors.New("peer opened an invalid stream")
	}
	d.id = h.ID
	d.dialbackNS = h.Attr["xmlns:db"] == NSDialback
	d.features = nil
	if h.Version == "" {
		return nil // pre-1.0 peer: no features, dialback only
	}
	el, err := d.next()
	if err != nil {
		return err
	}
	if el.Name.Space != stanza.NSStream || el.Name.Local != "features" {
		return fmt.Errorf("expected stream features, got <%s/>", el.Name.Local)
	}
	d.features = el
	return nil
}

// next reads the next element, turning a stream error into an error.
func (d *dialer) next() (*stanza.Element, error) {
	el, err := d.w.dec.Next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
		return nil, streamErrorFrom(el)
	}
	return el, nil
}

// startTLS upgrades the stream; TLS is required on every outbound stream.
func (d *dialer) startTLS(ctx context.Context) error {
	if d.features == nil || d.features.Child(NSTLS, "starttls") == nil {
		return errors.New("peer does not offer STARTTLS")
	}
	if err := d.w.writeElement(stanza.New(NSTLS, "starttls")); err != nil {
		return err
	}
	el, err := d.next()
	if err != nil {
		return err
	}
	if el.Name.Space != NSTLS || el.Name.Local != "proceed" || d.w.dec.Buffered() != 0 {
		return errors.New("STARTTLS refused")
	}
	tc := tls.Client(d.w.nc, d.p.clientTLS(d.local, d.remote))
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	d.w.setConn(tc)
	d.secured(tc)
	return d.open()
}

func hasMechanism(features *stanza.Element, name string) bool {
	if features == nil {
		return false
	}
	mechs := features.Child(NSSASL, "mechanisms")
	if mechs == nil {
		return false
	}
	for _, m := range mechs.Elements() {
		if m.Name.Local == "mechanism" && m.Text() == name {
			return true
		}
	}
	return false
}

// external authenticates with SASL EXTERNAL (XEP-0178), the local domain
// as authorization identity. ok is false when the peer refused, so that
// dialback may still be tried.
func (d *dialer) external() (ok bool, err error) {
	auth := stanza.New(NSSASL, "auth", "mechanism", "EXTERNAL").AppendText(base64.StdEncoding.EncodeToString([]byte(d.local)))
	if err := d.w.writeElement(auth); err != nil {
		return false, err
	}
	el, err := d.next()
	if err != nil {
		return false, err
	}
	switch {
	case el.Name.Space == NSSASL && el.Name.Local == "success":
		return true, d.open()
	case el.Name.Space == NSSASL && el.Name.Local == "failure":
		d.p.cfg.Log.Debug("sasl external refused", "local", d.local, "remote", d.remote)
		return false, nil
	}
	return false, fmt.Errorf("unexpected <%s/> after SASL auth", el.Name.Local)
}

// dialback asks the peer to verify our identity with the authoritative
// server for the local domain, that is, with us (XEP-0220 §2.1).
func (d *dialer) dialback() error {
	offered := d.dialbackNS
	if d.features != nil && d.features.Child(NSDialbackFeature, "dialback") != nil {
		offered = true
	}
	if !offered {
		return errors.New("peer offers neither SASL EXTERNAL for our certificate nor dialback")
	}
	key := d.p.dialbackKey(d.remote, d.local, d.id)
	if err := d.w.writeElement(stanza.New(NSDialback, "result", "from", d.local, "to", d.remote).AppendText(key)); err != nil {
		return err
	}
	for {
		el, err := d.next()
		if err != nil {
			return err
		}
		if el.Name.Space != NSDialback || el.Name.Local != "result" || el.Get("from") != d.remote || el.Get("to") != d.local {
			continue
		}
		switch el.Get("type") {
		case "valid":
			return nil
		case "invalid":
			return errors.New("dialback key refused")
		default:
			return fmt.Errorf("dialback failed (type %q)", el.Get("type"))
		}
	}
}

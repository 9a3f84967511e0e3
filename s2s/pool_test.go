package s2s

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// chanRouter is a Router serving one domain that hands routed stanzas to
// a channel.
type chanRouter struct {
	domain string
	got    chan *stanza.Element
}

func (r *chanRouter) Route(_ context.Context, st *stanza.Element) error {
	r.got <- st
	return nil
}
func (r *chanRouter) IsLocal(d string) bool { return d == r.domain }
func (r *chanRouter) IsService(string) bool { return false }

// testCerts returns a CA pool and a certificate for each domain signed
// by that CA.
func testCerts(t *testing.T, domains ...string) (*x509.CertPool, map[string]*tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	certs := map[string]*tls.Certificate{}
	for i, d := range domains {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: d},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames: []string{d},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		certs[d] = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	return roots, certs
}

// pools is two Pools serving a.example and b.example with certificates
// from one CA; b listens on a loopback port.
type pools struct {
	a, b             *Pool
	aRouter, bRouter *chanRouter
	bAddr            string
}

func newPools(t *testing.T, directTLS bool, idle time.Duration) *pools {
	t.Helper()
	roots, certs := testCerts(t, "a.example", "b.example")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	res := &fakeResolver{
		srv: map[string][]*net.SRV{"_xmpp-server._tcp.b.example": {{Target: "xmpp.b.example.", Port: uint16(port)}}},
		ips: map[string][]net.IPAddr{"xmpp.b.example": {{IP: net.IPv4(127, 0, 0, 1)}}},
	}
	if directTLS {
		res.srv = map[string][]*net.SRV{"_xmpps-server._tcp.b.example": {{Target: "xmpp.b.example.", Port: uint16(port)}}}
	}
	newPool := func(domain string, r Resolver) (*Pool, *chanRouter) {
		rt := &chanRouter{domain: domain, got: make(chan *stanza.Element, 4)}
		p := New(Config{
			Router:            rt,
			ServerTLS:         &tls.Config{Certificates: []tls.Certificate{*certs[domain]}},
			Certificate:       func(string) *tls.Certificate { return certs[domain] },
			Roots:             roots,
			RequireValidCerts: true,
			Resolver:          r,
			ConnectTimeout:    5 * time.Second,
			IdleTimeout:       idle,
			DialbackSecret:    []byte(domain),
			Log:               log,
		})
		t.Cleanup(p.Close)
		return p, rt
	}
	ps := &pools{bAddr: ln.Addr().String()}
	ps.a, ps.aRouter = newPool("a.example", res)
	ps.b, ps.bRouter = newPool("b.example", &fakeResolver{})
	go ps.b.Serve(ln, directTLS)
	t.Cleanup(func() { ln.Close() })
	return ps
}

// send routes a chat message from alice@a.example to bob@b.example on a.
func (ps *pools) send(body string) {
	from, _ := jid.Parse("alice@a.example/laptop")
	to, _ := jid.Parse("bob@b.example")
	msg := stanza.New(stanza.NSClient, "message", "from", from.String(), "to", to.String(), "type", "chat").
		Append(stanza.New(stanza.NSClient, "body").AppendText(body))
	ps.a.RouteRemote(context.Background(), msg, from, to)
}

// expect waits for b to route a message with body.
func (ps *pools) expect(t *testing.T, body string) {
	t.Helper()
	select {
	case got := <-ps.bRouter.got:
		if got.Name.Space != stanza.NSClient || got.ChildText(stanza.NSClient, "body") != body || got.Get("from") != "alice@a.example/laptop" {
			t.Errorf("b routed %s", got)
		}
	case bounce := <-ps.aRouter.got:
		t.Fatalf("bounced: %s", bounce)
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived")
	}
}

// TestDirectTLSBySRV: a domain published only with an _xmpps-server
// record is reached with TLS from the first byte (XEP-0368), the
// certificate checked against the domain rather than the SRV target, and
// the stanza arrives in the jabber:client namespace.
func TestDirectTLSBySRV(t *testing.T) {
	ps := newPools(t, true, 0)
	ps.send("direct")
	ps.expect(t, "direct")
}

// TestIdleStreams: a stream that carried nothing for IdleTimeout is
// closed, at both ends, and the next stanza opens a new one.
func TestIdleStreams(t *testing.T) {
	ps := newPools(t, false, 300*time.Millisecond)
	ps.send("one")
	ps.expect(t, "one")
	count := func(p *Pool) (out, in int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.out), len(p.in)
	}
	if out, _ := count(ps.a); out != 1 {
		t.Fatalf("a has %d outbound streams, want 1", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := count(ps.a)
		_, in := count(ps.b)
		if out == 0 && in == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the idle timeout: a has %d outbound streams, b %d inbound", out, in)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ps.send("two")
	ps.expect(t, "two")
}

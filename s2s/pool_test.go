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

// TestDirectTLSBySRV: a domain published only with an _xmpps-server
// record is reached with TLS from the first byte (XEP-0368), the
// certificate checked against the domain rather than the SRV target, and
// the stanza arrives in the jabber:client namespace.
func TestDirectTLSBySRV(t *testing.T) {
	roots, certs := testCerts(t, "a.example", "b.example")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
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
			DialbackSecret:    []byte(domain),
			Log:               log,
		})
		t.Cleanup(p.Close)
		return p, rt
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	res := &fakeResolver{
		srv: map[string][]*net.SRV{"_xmpps-server._tcp.b.example": {{Target: "xmpp.b.example.", Port: uint16(port)}}},
		ips: map[string][]net.IPAddr{"xmpp.b.example": {{IP: net.IPv4(127, 0, 0, 1)}}},
	}
	a, aRouter := newPool("a.example", res)
	b, bRouter := newPool("b.example", &fakeResolver{})
	go b.Serve(ln, true)
	t.Cleanup(func() { ln.Close() })

	from, _ := jid.Parse("alice@a.example/laptop")
	to, _ := jid.Parse("bob@b.example")
	msg := stanza.New(stanza.NSClient, "message", "from", from.String(), "to", to.String(), "type", "chat").
		Append(stanza.New(stanza.NSClient, "body").AppendText("direct"))
	a.RouteRemote(context.Background(), msg, from, to)
	select {
	case got := <-bRouter.got:
		if got.Name.Space != stanza.NSClient || got.ChildText(stanza.NSClient, "body") != "direct" || got.Get("from") != from.String() {
			t.Errorf("b routed %s", got)
		}
	case bounce := <-aRouter.got:
		t.Fatalf("bounced: %s", bounce)
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived")
	}
}

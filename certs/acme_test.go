package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"hearth/certs"
	"hearth/certs/acmetest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serveTLS answers TLS handshakes on addr with store's certificates, as a
// direct-TLS XMPP listener would.
func serveTLS(t *testing.T, addr string, store *certs.Store) {
	t.Helper()
	ln, err := tls.Listen("tcp", addr, store.TLSConfig("xmpp-client"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.(*tls.Conn).Handshake()
				io.Copy(io.Discard, c)
			}()
		}
	}()
}

// served returns the leaf certificate a new handshake with addr gets for
// domain, verified against the test CA.
func served(t *testing.T, addr, domain string, ca *acmetest.CA) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: domain, RootCAs: ca.Roots(), NextProtos: []string{"xmpp-client"}})
	if err != nil {
		t.Fatalf("handshake for %s: %v", domain, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

func newACME(t *testing.T, ca *acmetest.CA, dir, challenge string, domains ...string) (*certs.ACME, *certs.Store) {
	t.Helper()
	store := certs.NewStore(domains[0])
	a, err := certs.NewACME(certs.ACMEOptions{
		Directory: ca.Directory, DirectoryCA: ca.DirectoryCA, Email: "admin@example.test",
		Challenge: challenge, Dir: dir, Domains: domains,
		RenewBefore: time.Hour, CheckInterval: time.Hour, OrderTimeout: 30 * time.Second, Log: quietLog(),
	}, store)
	if err != nil {
		t.Fatal(err)
	}
	return a, store
}

func TestACMETLSALPN(t *testing.T) {
	t.Parallel()
	port := acmetest.FreePort(t)
	ca := acmetest.Start(t, acmetest.Options{TLSPort: port, HTTPPort: 1})
	dir := t.TempDir()
	a, store := newACME(t, ca, dir, certs.ChallengeTLSALPN, "example.test", "muc.example.test")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	serveTLS(t, addr, store)
	if err := a.RenewDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"example.test", "muc.example.test"} {
		leaf := served(t, addr, d, ca)
		if err := leaf.VerifyHostname(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	// Nothing is due now; a restart serves the stored certificates
	// without ordering.
	first := served(t, addr, "example.test", ca)
	b, store2 := newACME(t, ca, dir, certs.ChallengeTLSALPN, "example.test")
	if c := store2.Get("example.test"); c == nil || c.Leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("restart did not load the stored certificate")
	}
	if _, ok := b.Expiry("example.test"); !ok {
		t.Fatal("restart: no expiry known for the stored certificate")
	}
}

func TestACMEHTTP01(t *testing.T) {
	t.Parallel()
	port := acmetest.FreePort(t)
	ca := acmetest.Start(t, acmetest.Options{HTTPPort: port, TLSPort: 1})
	a, store := newACME(t, ca, t.TempDir(), certs.ChallengeHTTP, "xmpp.example.test")
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.HTTPHandler(nil)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if err := a.RenewDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := store.Get("xmpp.example.test")
	if c == nil {
		t.Fatal("no certificate stored")
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "xmpp.example.test", Roots: ca.Roots(), Intermediates: ca.Intermediates()}); err != nil {
		t.Fatal(err)
	}
}

// TestACMEChallengeFails: a CA that cannot reach the challenge gets an
// error back, and no certificate is installed.
func TestACMEChallengeFails(t *testing.T) {
	t.Parallel()
	ca := acmetest.Start(t, acmetest.Options{TLSPort: acmetest.FreePort(t), HTTPPort: 1})
	a, store := newACME(t, ca, t.TempDir(), certs.ChallengeTLSALPN, "example.test")
	err := a.RenewDue(context.Background())
	if err == nil {
		t.Fatal("order succeeded with nobody answering the challenge")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("order hung: %v", err)
	}
	if store.Get("example.test") != nil {
		t.Fatal("a certificate was installed")
	}
}

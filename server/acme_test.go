package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hearth/certs/acmetest"
	"hearth/xmpptest"
)

// acmeLeaf returns the leaf a new direct-TLS handshake gets for domain if
// the test CA issued it, or nil while the server still serves another
// (self-signed) certificate.
func acmeLeaf(t *testing.T, addr, domain string, ca *acmetest.CA) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: domain, InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	chain := c.ConnectionState().PeerCertificates
	_, err = chain[0].Verify(x509.VerifyOptions{DNSName: domain, Roots: ca.Roots(), Intermediates: ca.Intermediates()})
	if err != nil {
		return nil
	}
	return chain[0]
}

// waitLeaf waits (up to 30s) for a handshake to present an ACME
// certificate accepted by ok.
func waitLeaf(t *testing.T, addr, domain string, ca *acmetest.CA, ok func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if l := acmeLeaf(t, addr, domain, ca); l != nil && ok(l) {
			return l
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no expected ACME certificate for %s within 30s", domain)
	return nil
}

// TestACMEIssueAndRenewWhileConnected: the server obtains a certificate
// from the test CA over tls-alpn-01 on its direct-TLS listener, renews it
// before expiry, and swaps it in: a new handshake sees the new
// certificate while a session established under the old one keeps working.
func TestACMEIssueAndRenewWhileConnected(t *testing.T) {
	t.Parallel()
	port := acmetest.FreePort(t)
	// Certificates live 12s and are renewed 8s before expiry: one renewal
	// about 4s after issuance.
	ca := acmetest.Start(t, acmetest.Options{TLSPort: port, HTTPPort: 1, Validity: 12})
	direct := fmt.Sprintf("127.0.0.1:%d", port)
	srv := xmpptest.NewServer(t, fmt.Sprintf(`
[listen]
c2s = ["127.0.0.1:0"]
c2s_tls = [%q]
[acme]
enabled = true
email = "admin@localhost"
directory = %q
directory_ca = %q
challenge = "tls-alpn-01"
renew_before = "8s"
check_interval = "200ms"
`, direct, ca.Directory, ca.DirectoryCA))

	first := waitLeaf(t, direct, "localhost", ca, func(*x509.Certificate) bool { return true })
	if _, err := os.Stat(filepath.Join(srv.DataDir, "acme", "localhost.crt")); err != nil {
		t.Fatalf("issued certificate not kept under data_dir: %v", err)
	}

	srv.AddUser(t, "alice", "pw")
	alice := srv.LoginAvailable(t, "alice", "pw", "phone")
	// Login goes over STARTTLS on the other listener: the same store
	// serves it.
	old := alice.TLSState().PeerCertificates[0]
	if _, err := old.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: ca.Roots(), Intermediates: ca.Intermediates()}); err != nil {
		t.Fatalf("STARTTLS session did not get the ACME certificate: %v", err)
	}

	renewed := waitLeaf(t, direct, "localhost", ca, func(l *x509.Certificate) bool {
		return l.SerialNumber.Cmp(old.SerialNumber) != 0 && l.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !renewed.NotAfter.After(old.NotAfter) {
		t.Fatalf("renewed certificate expires %v, not after the old one's %v", renewed.NotAfter, old.NotAfter)
	}
	if r := alice.IQ("<iq type='get' id='after-renewal'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Get("type") != "result" {
		t.Fatalf("old session after the swap: %s", r)
	}
	if got := alice.TLSState().PeerCertificates[0]; got.SerialNumber.Cmp(old.SerialNumber) != 0 {
		t.Fatal("the established session's certificate changed")
	}
}

// TestACMEChallengeListeners: with challenge http-01 the server answers on its
// own [acme] http listener, and with tls-alpn-01 on a dedicated [acme] tls
// listener when no direct-TLS listener is on the validated port.
func TestACMEChallengeListeners(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, challenge, key string }{
		{"http-01", "http-01", "http"},
		{"tls-alpn-01 dedicated", "tls-alpn-01", "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := acmetest.FreePort(t)
			opts := acmetest.Options{HTTPPort: 1, TLSPort: 1}
			if tc.key == "http" {
				opts.HTTPPort = port
			} else {
				opts.TLSPort = port
			}
			ca := acmetest.Start(t, opts)
			srv := xmpptest.NewServer(t, fmt.Sprintf(`
[listen]
c2s = ["127.0.0.1:0"]
c2s_tls = ["127.0.0.1:0"]
[acme]
enabled = true
directory = %q
directory_ca = %q
challenge = %q
%s = "127.0.0.1:%d"
check_interval = "200ms"
`, ca.Directory, ca.DirectoryCA, tc.challenge, tc.key, port))
			waitLeaf(t, srv.C2STLS, "localhost", ca, func(*x509.Certificate) bool { return true })
		})
	}
}

// TestManualCertificateReload: a certificate file replaced on disk (a
// certbot renewal) is served to new connections while an established
// session keeps working.
func TestManualCertificateReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	writeTestPair(t, certFile, keyFile, "localhost", 1)
	srv := xmpptest.NewServer(t, fmt.Sprintf("[tls]\ncert = %q\nkey = %q\nwatch = \"100ms\"", certFile, keyFile))
	srv.AddUser(t, "alice", "pw")
	alice := srv.LoginAvailable(t, "alice", "pw", "phone")
	if got := alice.TLSState().PeerCertificates[0].SerialNumber.Int64(); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	writeTestPair(t, certFile, keyFile, "localhost", 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := tls.Dial("tcp", srv.C2STLS, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}})
		if err != nil {
			t.Fatal(err)
		}
		serial := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		c.Close()
		if serial == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate was not served within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := alice.IQ("<iq type='get' id='after-reload'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Get("type") != "result" {
		t.Fatalf("old session after the reload: %s", r)
	}
}

// writeTestPair writes a self-signed pair for domain with serial.
func writeTestPair(t *testing.T, certFile, keyFile, domain string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hearth/certs"
	"hearth/config"
)

// writeCert writes a self-signed pair for domain with the given serial.
func writeCert(t *testing.T, certFile, keyFile, domain string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	os.MkdirAll(filepath.Dir(certFile), 0o700)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func serial(t *testing.T, s *certs.Store, domain string) int64 {
	t.Helper()
	c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: domain})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

// TestWatcherReloadsCertbotFiles: a certbot-style folder is reloaded when
// a renewal replaces the files; a half-written file keeps the old
// certificate until it loads.
func TestWatcherReloadsCertbotFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live := filepath.Join(dir, "example.org")
	chain, key := filepath.Join(live, "fullchain.pem"), filepath.Join(live, "privkey.pem")
	writeCert(t, chain, key, "example.org", 1)
	cfg := config.Default().Config
	cfg.Hosts = []string{"example.org"}
	cfg.TLS.Dir = dir
	store, pairs, err := certs.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := certs.NewWatcher(store, pairs, time.Hour, quietLog())
	if got := serial(t, store, "example.org"); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	w.Check()
	if got := serial(t, store, "example.org"); got != 1 {
		t.Fatalf("unchanged files: serial %d, want 1", got)
	}
	// A renewal in progress: the chain is garbage for a moment.
	os.WriteFile(chain, []byte("-----BEGIN CERT"), 0o644)
	w.Check()
	if got := serial(t, store, "example.org"); got != 1 {
		t.Fatalf("broken file: serial %d, want the old 1", got)
	}
	writeCert(t, chain, key, "example.org", 2)
	w.Check()
	if got := serial(t, store, "example.org"); got != 2 {
		t.Fatalf("after renewal: serial %d, want 2", got)
	}
	// Subdomains without their own certificate get the host's.
	if got := serial(t, store, "muc.example.org"); got != 2 {
		t.Fatalf("muc.example.org: serial %d, want the host's 2", got)
	}
}

func TestStoreALPNChallengeOnlyWhenPending(t *testing.T) {
	t.Parallel()
	s := certs.NewStore("example.org")
	if _, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "example.org", SupportedProtos: []string{certs.ALPNACME}}); err == nil {
		t.Fatal("acme-tls/1 handshake without a pending challenge got a certificate")
	}
	if _, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "example.org"}); err == nil {
		t.Fatal("empty store returned a certificate")
	}
	if cfg := s.TLSConfig(); len(cfg.NextProtos) != 0 {
		t.Fatalf("STARTTLS config offers ALPN %v", cfg.NextProtos)
	}
	if cfg := s.TLSConfig("xmpp-client"); len(cfg.NextProtos) != 2 || cfg.NextProtos[1] != certs.ALPNACME {
		t.Fatalf("direct TLS config offers ALPN %v", cfg.NextProtos)
	}
}

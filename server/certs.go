package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hearth/config"
)

// certStore holds one certificate per served domain and picks one by SNI.
type certStore struct {
	byDomain map[string]*tls.Certificate
	fallback *tls.Certificate
}

// loadCerts loads the certificates for hosts as the [tls] section says:
// one pair for all, a folder of per-domain pairs, or (neither) self-signed
// certificates generated once and kept under data_dir/certs.
func loadCerts(cfg config.Config) (*certStore, error) {
	cs := &certStore{byDomain: map[string]*tls.Certificate{}}
	switch {
	case cfg.TLS.Cert != "":
		c, err := loadPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			return nil, err
		}
		for _, h := range cfg.Hosts {
			cs.byDomain[h] = c
		}
	case cfg.TLS.Dir != "":
		for _, h := range cfg.Hosts {
			c, err := loadFromDir(cfg.TLS.Dir, h)
			if err != nil {
				return nil, err
			}
			cs.byDomain[h] = c
		}
	default:
		dir := filepath.Join(cfg.DataDir, "certs")
		for _, h := range cfg.Hosts {
			c, err := selfSigned(dir, h)
			if err != nil {
				return nil, err
			}
			cs.byDomain[h] = c
		}
	}
	cs.fallback = cs.byDomain[cfg.Hosts[0]]
	return cs, nil
}

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: loading %s and %s: %w", certFile, keyFile, err)
	}
	return &c, nil
}

// loadFromDir finds domain's pair in dir: <domain>.crt + <domain>.key, or
// certbot's <domain>/fullchain.pem + <domain>/privkey.pem.
func loadFromDir(dir, domain string) (*tls.Certificate, error) {
	candidates := [][2]string{
		{filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")},
		{filepath.Join(dir, domain, "fullchain.pem"), filepath.Join(dir, domain, "privkey.pem")},
	}
	for _, c := range candidates {
		if _, err := os.Stat(c[0]); err == nil {
			return loadPair(c[0], c[1])
		}
	}
	return nil, fmt.Errorf("tls.dir: no certificate for %s in %s (expected %s.crt/%s.key or %s/fullchain.pem/privkey.pem)", domain, dir, domain, domain, domain)
}

// selfSigned loads, or creates and keeps, a self-signed certificate for
// domain in dir.
func selfSigned(dir, domain string) (*tls.Certificate, error) {
	certFile := filepath.Join(dir, domain+".crt")
	keyFile := filepath.Join(dir, domain+".key")
	if _, err := os.Stat(certFile); err == nil {
		return loadPair(certFile, keyFile)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domain, Organization: []string{"hearth self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{domain, "*." + domain},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return loadPair(certFile, keyFile)
}

// get implements tls.Config.GetCertificate: the exact domain, then the
// parent of a subdomain (muc.example.org under example.org's wildcard
// or SAN), then the first host's certificate.
func (cs *certStore) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c := cs.byDomain[name]; c != nil {
		return c, nil
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		if c := cs.byDomain[name[i+1:]]; c != nil {
			return c, nil
		}
	}
	return cs.fallback, nil
}

// tlsConfig returns the server TLS configuration: TLS 1.2 or later, modern
// AEAD cipher suites only for TLS 1.2, certificates by SNI.
func (cs *certStore) tlsConfig(alpn ...string) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: cs.get,
		NextProtos:     alpn,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

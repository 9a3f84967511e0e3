package certs

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
	"time"

	"hearth/config"
)

// Load fills a store for hosts as the [tls] section says: one pair for
// all, a folder of per-domain pairs, or (neither) self-signed certificates
// generated once and kept under data_dir/certs. It also returns the files
// it read, for a Watcher.
func Load(cfg config.Config) (*Store, []Pair, error) {
	s := NewStore(cfg.Hosts[0])
	curves, err := cfg.TLS.CurveIDs()
	if err != nil {
		return nil, nil, err
	}
	s.SetCurves(curves)
	var pairs []Pair
	for _, h := range cfg.Hosts {
		var p Pair
		switch {
		case cfg.TLS.Cert != "":
			p = Pair{Domain: h, Cert: cfg.TLS.Cert, Key: cfg.TLS.Key}
		case cfg.TLS.Dir != "":
			var err error
			if p, err = FindInDir(cfg.TLS.Dir, h); err != nil {
				return nil, nil, err
			}
		default:
			c, err := selfSigned(filepath.Join(cfg.DataDir, "certs"), h)
			if err != nil {
				return nil, nil, err
			}
			s.Set(h, c)
			continue
		}
		c, err := p.Load()
		if err != nil {
			return nil, nil, err
		}
		s.Set(h, c)
		pairs = append(pairs, p)
	}
	return s, pairs, nil
}

// Pair names the certificate chain and key files of a domain.
type Pair struct {
	Domain    string
	Cert, Key string
}

// Load reads and parses the pair.
func (p Pair) Load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: loading %s and %s: %w", p.Cert, p.Key, err)
	}
	return &c, nil
}

// FindInDir finds domain's pair in dir: <domain>.crt + <domain>.key, or
// certbot's <domain>/fullchain.pem + <domain>/privkey.pem.
func FindInDir(dir, domain string) (Pair, error) {
	candidates := []Pair{
		{domain, filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")},
		{domain, filepath.Join(dir, domain, "fullchain.pem"), filepath.Join(dir, domain, "privkey.pem")},
	}
	for _, c := range candidates {
		if _, err := os.Stat(c.Cert); err == nil {
			return c, nil
		}
	}
	return Pair{}, fmt.Errorf("tls.dir: no certificate for %s in %s (expected %s.crt/%s.key or %s/fullchain.pem/privkey.pem)", domain, dir, domain, domain, domain)
}

// selfSigned loads, or creates and keeps, a self-signed certificate for
// domain in dir.
func selfSigned(dir, domain string) (*tls.Certificate, error) {
	p := Pair{domain, filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")}
	if _, err := os.Stat(p.Cert); err == nil {
		return p.Load()
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
	if err := writePair(p, [][]byte{der}, key); err != nil {
		return nil, err
	}
	return p.Load()
}

// writePair writes a chain and its key as PEM, each file replaced
// atomically (written aside, then renamed), the key readable by the owner
// only.
func writePair(p Pair, chain [][]byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(p.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	var certPEM []byte
	for _, der := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return writeAtomic(p.Cert, certPEM, 0o644)
}

func writeAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

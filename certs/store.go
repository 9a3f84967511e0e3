// Package certs provides hearth's TLS certificates: it loads them (one
// pair, a folder of pairs, or self-signed), reloads changed files, obtains
// and renews them with ACME (RFC 8555: Automatic Certificate Management
// Environment), and hands them to every TLS listener by SNI.
package certs

import (
	"crypto/tls"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// ALPNACME is the ALPN protocol of the tls-alpn-01 challenge (RFC 8737).
const ALPNACME = "acme-tls/1"

// Store holds one certificate per domain. Readers (TLS handshakes) never
// lock: they load an immutable map that writers replace whole, so a
// renewed certificate is seen by the next handshake while established
// connections keep the one they negotiated.
type Store struct {
	fallback  string
	curves    []tls.CurveID // nil: Go's defaults
	certs     atomic.Pointer[map[string]*tls.Certificate]
	challenge atomic.Pointer[map[string]*tls.Certificate] // tls-alpn-01, by domain
	mu        sync.Mutex                                  // serializes writers of both maps
}

// NewStore returns an empty store whose fallback certificate, for a
// ClientHello naming no domain it knows, is fallback's.
func NewStore(fallback string) *Store {
	s := &Store{fallback: fallback}
	empty := map[string]*tls.Certificate{}
	s.certs.Store(&empty)
	s.challenge.Store(&empty)
	return s
}

// Set makes c the certificate of domain for every later handshake.
func (s *Store) Set(domain string, c *tls.Certificate) {
	s.swap(&s.certs, domain, c)
}

// Get returns the certificate stored for exactly domain, or nil.
func (s *Store) Get(domain string) *tls.Certificate {
	return (*s.certs.Load())[domain]
}

// Domains returns the domains that have a certificate, sorted.
func (s *Store) Domains() []string {
	return slices.Sorted(maps.Keys(*s.certs.Load()))
}

// setChallenge installs (c != nil) or removes the tls-alpn-01 certificate of domain.
func (s *Store) setChallenge(domain string, c *tls.Certificate) {
	s.swap(&s.challenge, domain, c)
}

func (s *Store) swap(p *atomic.Pointer[map[string]*tls.Certificate], domain string, c *tls.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(*p.Load())
	if c == nil {
		delete(next, domain)
	} else {
		next[domain] = c
	}
	p.Store(&next)
}

// GetCertificate implements tls.Config.GetCertificate: for a tls-alpn-01
// validation (ALPN acme-tls/1) the pending challenge certificate of the
// domain; otherwise the exact domain's certificate, then its parent's
// (muc.example.org under example.org's wildcard or SAN), then the
// fallback's.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if slices.Contains(hello.SupportedProtos, ALPNACME) {
		if c := (*s.challenge.Load())[name]; c != nil {
			return c, nil
		}
		return nil, errors.New("certs: no tls-alpn-01 challenge pending for " + name)
	}
	m := *s.certs.Load()
	if c := m[name]; c != nil {
		return c, nil
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		if c := m[name[i+1:]]; c != nil {
			return c, nil
		}
	}
	if c := m[s.fallback]; c != nil {
		return c, nil
	}
	return nil, errors.New("certs: no certificate for " + name)
}

// SetCurves sets the key exchange groups of the configurations TLSConfig
// returns from now on (nil: Go's defaults, post-quantum hybrids included).
func (s *Store) SetCurves(ids []tls.CurveID) { s.curves = ids }

// TLSConfig returns a server TLS configuration: TLS 1.2 or later, modern
// AEAD cipher suites only for TLS 1.2, the key exchange groups of
// SetCurves, certificates by SNI from the store.
// alpn lists the application protocols; when it is not empty, acme-tls/1
// is added so that the listener can answer tls-alpn-01 challenges (a
// listener without ALPN, such as STARTTLS, must not require it of its
// clients, so it gets none).
func (s *Store) TLSConfig(alpn ...string) *tls.Config {
	if len(alpn) > 0 && !slices.Contains(alpn, ALPNACME) {
		alpn = append(slices.Clone(alpn), ALPNACME)
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		GetCertificate:   s.GetCertificate,
		NextProtos:       alpn,
		CurvePreferences: slices.Clone(s.curves),
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

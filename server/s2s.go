package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"hearth/config"
	"hearth/jid"
	"hearth/s2s"
	"hearth/stanza"
	"hearth/storage"
)

// federates reports whether federation is on: an s2s listener is set.
func (s *Server) federates() bool {
	return len(s.cfg.Listen.S2S) > 0 || len(s.cfg.Listen.S2STLS) > 0
}

// initS2S builds the pool of server-side streams: with an s2s listener
// it is the router's way to remote domains (otherwise stanzas to them
// bounce with remote-server-not-found), and with a component listener it
// serves the [components] domains.
func (s *Server) initS2S() error {
	if !s.federates() && len(s.cfg.Listen.Component) == 0 {
		return nil
	}
	c := s.cfg.S2S
	roots, err := s2sRoots(c.CAFile)
	if err != nil {
		return &ConfigError{err}
	}
	secret := []byte(c.DialbackSecret)
	if len(secret) == 0 {
		if secret, err = loadSecret(s.ctx, s.store, "s2s_dialback_secret"); err != nil {
			return err
		}
	}
	lim := s.cfg.Limits
	var listeners []string
	for _, l := range []struct {
		kind  string
		addrs []string
	}{{"s2s", s.cfg.Listen.S2S}, {"s2s_tls", s.cfg.Listen.S2STLS}, {"component", s.cfg.Listen.Component}} {
		if len(l.addrs) > 0 {
			listeners = append(listeners, l.kind)
		}
	}
	// The gauges read the pool at scrape time, once it exists.
	m := s.metrics.s2s(listeners, func() (int, int) { return s.s2s.Streams() })
	s.s2s = s2s.New(s2s.Config{
		Router:    s.router,
		ServerTLS: s.liveTLS(),
		Certificate: func(domain string) *tls.Certificate {
			c, _ := s.certs.GetCertificate(&tls.ClientHelloInfo{ServerName: domain})
			return c
		},
		Roots:             roots,
		RequireValidCerts: c.ValidCertsRequired(),
		Static:            c.Static,
		ConnectTimeout:    time.Duration(c.ConnectTimeout) * time.Second,
		IdleTimeout:       time.Duration(c.IdleTimeout) * time.Second,
		QueueLimit:        c.QueueLimit,
		MaxQueueBytes:     lim.MaxQueueSize,
		Limits:            stanza.Limits{MaxStanzaBytes: c.MaxStanzaSize, MaxDepth: lim.MaxDepth, MaxAttrs: lim.MaxAttributes},
		Inbound:           s2sInboundLimits(c),
		DialbackSecret:    secret,
		Log:               s.logFor("s2s"),
		Metrics:           m,
	})
	if s.federates() {
		s.router.SetRemote(s.s2s)
	}
	if len(s.cfg.Listen.Component) > 0 {
		for _, d := range slices.Sorted(maps.Keys(s.cfg.Components)) {
			dj, err := jid.New("", d, "")
			if err != nil {
				return &ConfigError{fmt.Errorf("components: %q: %w", d, err)}
			}
			if err := s.router.AddComponent(dj.Domain(), s.s2s.Component(dj.Domain(), s.cfg.Components[d])); err != nil {
				return &ConfigError{fmt.Errorf("components: %w", err)}
			}
		}
	}
	return nil
}

// s2sInboundLimits are the [s2s] limits on other servers' streams.
func s2sInboundLimits(c config.S2S) s2s.InboundLimits {
	return s2s.InboundLimits{
		StreamsPerIP: c.StreamsPerIP, StreamsPerDomain: c.StreamsPerDomain,
		BytesPerSecond: c.BytesPerSecond, BurstBytes: c.BurstBytes,
		StanzasPerSecond: c.StanzasPerSecond, BurstStanzas: c.BurstStanzas,
	}
}

// S2S returns the pool of server-side streams (federation, components),
// or nil when neither is configured. Tests use its Pin to reach each
// other without DNS.
func (s *Server) S2S() *s2s.Pool { return s.s2s }

// s2sRoots returns the system trust anchors plus those of caFile.
func s2sRoots(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil // x509 uses the system pool
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("s2s.ca_file: %w", err)
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("s2s.ca_file: no PEM certificate in %s", caFile)
	}
	return roots, nil
}

// loadSecret returns the persistent 32-byte server secret named key,
// creating it on first start.
func loadSecret(ctx context.Context, st storage.Store, key string) ([]byte, error) {
	const owner = "server"
	m := st.Map("server")
	secret, err := m.Get(ctx, owner, key)
	if err == nil && len(secret) == 32 {
		return secret, nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("storage: %w", err)
	}
	secret = make([]byte, 32)
	rand.Read(secret)
	if err := m.Set(ctx, owner, key, secret); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return secret, nil
}

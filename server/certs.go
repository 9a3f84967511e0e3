package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"hearth/certs"
)

// loadPair and loadFromDir serve checkconfig: they load as certs.Load does.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	return certs.Pair{Cert: certFile, Key: keyFile}.Load()
}

func loadFromDir(dir, domain string) (*tls.Certificate, error) {
	p, err := certs.FindInDir(dir, domain)
	if err != nil {
		return nil, err
	}
	return p.Load()
}

// acmeHTTPReadHeaderTimeout bounds a request to the http-01 listener.
const acmeHTTPReadHeaderTimeout = 10 * time.Second

// servedDomains returns every domain the server answers for: each host and
// its service subdomains (muc., upload.), in configuration order.
func (s *Server) servedDomains() []string {
	var out []string
	for _, h := range s.cfg.Hosts {
		out = append(out, h)
		if vh := s.router.Host(h); vh != nil {
			for _, svc := range vh.Registry().Services() {
				out = append(out, svc.Domain)
			}
		}
	}
	return out
}

// startACME creates the ACME client of the [acme] section, once the
// modules have registered their service domains.
func (s *Server) startACME() error {
	a := s.cfg.ACME
	if !a.Enabled {
		return nil
	}
	m, err := certs.NewACME(certs.ACMEOptions{
		Directory:     a.Directory,
		DirectoryCA:   a.DirectoryCA,
		Email:         a.Email,
		Challenge:     a.Challenge,
		Dir:           filepath.Join(s.cfg.DataDir, "acme"),
		Domains:       s.servedDomains(),
		RenewBefore:   time.Duration(a.RenewBefore),
		CheckInterval: time.Duration(a.CheckInterval),
		OrderTimeout:  time.Duration(a.OrderTimeout),
		Log:           s.logFor("server"),
	}, s.certs)
	if err != nil {
		return &ConfigError{err}
	}
	s.acme = m
	return nil
}

// runCerts starts the background certificate work: ACME orders and
// renewals, the http-01 and tls-alpn-01 listeners, and the watcher of
// manually managed files. It all stops with s.ctx.
func (s *Server) runCerts(lns []listener) {
	for _, l := range lns {
		switch l.kind {
		case "acme_http":
			srv := &http.Server{Handler: s.acme.HTTPHandler(nil), ReadHeaderTimeout: acmeHTTPReadHeaderTimeout}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				go func() { <-s.ctx.Done(); srv.Close() }()
				if err := srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
					s.log.Error("acme http listener failed", "err", err)
				}
			}()
		case "acme_tls":
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveALPNOnly(l.ln)
			}()
		}
	}
	if s.acme != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.acme.Run(s.ctx)
		}()
	}
	if len(s.certPairs) > 0 && s.cfg.TLS.Watch > 0 {
		w := certs.NewWatcher(s.certs, s.certPairs, time.Duration(s.cfg.TLS.Watch), s.log)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.Run(s.ctx)
		}()
	}
}

// serveALPNOnly answers tls-alpn-01 validations on a dedicated listener:
// a handshake, then the validator hangs up; nothing else is served.
func (s *Server) serveALPNOnly(ln net.Listener) {
	cfg := s.certs.TLSConfig(certs.ALPNACME)
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(acmeHTTPReadHeaderTimeout))
			tls.Server(nc, cfg).HandshakeContext(context.Background())
		}()
	}
}

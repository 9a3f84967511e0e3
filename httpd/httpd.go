// Package httpd is hearth's one web server: the http and https listeners,
// their timeouts, and the request multiplexer on which the web services
// (file upload, XMPP over WebSocket, host-meta) register their handlers.
// It knows nothing of XMPP.
package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// TLS is the configuration of the https listeners (certificates by SNI).
	TLS *tls.Config
	// ExternalURL, when set, is the base URL clients reach the server at
	// (reverse proxy): BaseURL returns it for every domain.
	ExternalURL string
	// BehindProxy makes plain http requests count as encrypted and take
	// the client address from X-Forwarded-For (see Secure, ClientAddr).
	BehindProxy bool
	// ReadHeaderTimeout bounds reading a request's headers (default 10s);
	// IdleTimeout bounds an idle kept-alive connection (default 120s).
	// There is no overall read or write timeout: uploads, downloads and
	// WebSocket sessions are long, and their handlers set their own.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	Log               *slog.Logger
}

// Server is the web server. Handlers are registered with Handle before
// Serve; Serve may be called once per listener.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu       sync.Mutex
	servers  []*http.Server
	bases    []base // bound listeners, in the order Serve saw them
	closed   bool
	stopping chan struct{} // closed when Shutdown begins
}

type base struct {
	tls  bool
	port string
}

// New returns a server with an empty multiplexer.
func New(cfg Config) *Server {
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.ExternalURL = strings.TrimSuffix(cfg.ExternalURL, "/")
	return &Server{cfg: cfg, mux: http.NewServeMux(), stopping: make(chan struct{})}
}

// Handle registers handler for pattern (net/http.ServeMux syntax, e.g.
// "GET /.well-known/host-meta" or "/upload/"). Unlike ServeMux.Handle it
// returns an error, instead of panicking, when the pattern is invalid or
// conflicts with one registered before.
func (s *Server) Handle(pattern string, handler http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("http handler %q: %v", pattern, r)
		}
	}()
	s.mux.Handle(pattern, handler)
	return nil
}

// ServeHTTP dispatches a request to the registered handlers (tests may
// call it directly).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "hearth")
	s.mux.ServeHTTP(w, r)
}

// Serve accepts connections on ln, with TLS when useTLS is set, until
// Shutdown. It returns at once; errors other than the listener closing are
// logged.
func (s *Server) Serve(ln net.Listener, useTLS bool) {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug),
	}
	if useTLS {
		srv.TLSConfig = s.cfg.TLS.Clone()
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return
	}
	s.servers = append(s.servers, srv)
	s.bases = append(s.bases, base{useTLS, port})
	s.mu.Unlock()
	go func() {
		var err error
		if useTLS {
			// Certificates come from TLSConfig.GetCertificate; ServeTLS
			// also enables HTTP/2 by ALPN.
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.cfg.Log.Error("http listener failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// maxHeaderBytes bounds request headers (net/http's default is 1 MiB).
const maxHeaderBytes = 64 << 10

// Shutdown stops accepting, waits until ctx is done for requests in
// progress to finish, then closes the remaining connections. Connections
// taken over by a handler (WebSocket) are the handler's to end.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	if !s.closed {
		close(s.stopping)
	}
	s.closed = true
	servers := s.servers
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
		})
	}
	wg.Wait()
}

// Stopping is closed when Shutdown begins: handlers that hold requests
// open (BOSH) answer them then instead of waiting out the timeout.
func (s *Server) Stopping() <-chan struct{} { return s.stopping }

// BaseURL returns the URL, without a trailing slash, under which clients
// reach this server for the virtual host domain: the configured external
// URL, or https://domain:port of the first https listener (the port
// omitted when it is 443), or else http://domain:port of the first plain
// one. It returns "" before any listener is served.
func (s *Server) BaseURL(domain string) string {
	if s.cfg.ExternalURL != "" {
		return s.cfg.ExternalURL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var pick *base
	for i := range s.bases {
		if s.bases[i].tls {
			pick = &s.bases[i]
			break
		}
		if pick == nil {
			pick = &s.bases[i]
		}
	}
	if pick == nil {
		return ""
	}
	scheme, std := "http", "80"
	if pick.tls {
		scheme, std = "https", "443"
	}
	if pick.port == std {
		return scheme + "://" + domain
	}
	return scheme + "://" + net.JoinHostPort(domain, pick.port)
}

// RequestBase returns the base URL a request was addressed to, for
// answers that point back at this server (host-meta): the external URL
// when configured, else the request's scheme and Host.
func (s *Server) RequestBase(r *http.Request) string {
	if s.cfg.ExternalURL != "" {
		return s.cfg.ExternalURL
	}
	scheme := "http"
	if s.Secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Secure reports whether r reached hearth encrypted: over an https
// listener, or over plain http from a TLS-terminating proxy (BehindProxy).
func (s *Server) Secure(r *http.Request) bool {
	return r.TLS != nil || s.cfg.BehindProxy
}

// ClientAddr returns the client's address ("ip:port" or "ip"): the
// connection's peer, or behind a proxy the last X-Forwarded-For entry (the
// one the proxy added; earlier entries are the client's own claims).
func (s *Server) ClientAddr(r *http.Request) string {
	if s.cfg.BehindProxy && r.TLS == nil {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	return r.RemoteAddr
}

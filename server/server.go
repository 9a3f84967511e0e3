// Package server assembles hearth: configuration, storage, router,
// modules per virtual host and listeners, and runs them until shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hearth/certs"
	"hearth/config"
	"hearth/httpd"
	"hearth/jid"
	"hearth/mod"
	"hearth/module"
	"hearth/router"
	"hearth/s2s"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/sqlstore"
	"hearth/stream"
	"hearth/turn"
)

// Options adjust a server beyond its configuration file (tests).
type Options struct {
	// Modules replaces the default module list (mod.All).
	Modules []*module.Definition
	// Store replaces the configured storage backend; the server does not
	// close it.
	Store storage.Store
	// Log is the logger (default: from the [log] settings, on stderr).
	Log *slog.Logger
}

// Server is one running hearth instance.
type Server struct {
	cfg      *config.File
	rootLog  *slog.Logger // per-subsystem levels; see logFor
	log      *slog.Logger // subsystem "server"
	metrics  *metrics     // nil without [listen] metrics
	store    storage.Store
	ownStore bool
	router   *router.Router
	s2s      *s2s.Pool // nil without federation and components
	certs    *certs.Store
	// certPairs are the manually managed certificate files, reloaded
	// when they change; acme is nil without [acme] enabled.
	certPairs []certs.Pair
	acme      *certs.ACME
	throttle  *authThrottle
	connLimit *connLimiter // per-IP limits of client connections
	// live holds what Reload changes while serving: the stream settings
	// of new connections (server/reload.go).
	live       liveConfig
	mods       []*module.Definition // as started, for Reload
	modConfigs []any                // their decoded sections, in the order of mods
	modHosts   [][]*module.Host     // by module index, one per host
	web        *httpd.Server        // nil without http/https listeners (http.go)
	// turn is the built-in STUN/TURN server (turn.go), set by Listen when
	// [turn] is enabled; turnSecret keys its credentials.
	turn       atomic.Pointer[turn.Server]
	turnSecret []byte
	// fakeSecret keys the fake SCRAM salts of unknown users; it is kept
	// in storage so that they stay the same across restarts and nodes.
	fakeSecret []byte

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // module goroutines

	mu        sync.Mutex
	listeners []listener
	conns     sync.WaitGroup
}

type listener struct {
	kind string // "c2s", "c2s_tls", "s2s", "s2s_tls", "component", "metrics", "http", "https", "acme_http" or "acme_tls"
	ln   net.Listener
}

// ConfigError is returned for problems an operator fixes in the
// configuration or the files it names (exit code 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New builds a server from cfg: it opens storage (applying migrations),
// loads or generates certificates and starts every module on every host.
// It does not listen yet.
func New(cfg *config.File, opts Options) (*Server, error) {
	s := &Server{cfg: cfg}
	if opts.Log == nil {
		s.rootLog = NewLogger(cfg.Log, os.Stderr)
	} else {
		s.rootLog = withLevels(opts.Log, cfg.Log)
	}
	s.log = s.logFor("server")
	if err := checkCore(cfg); err != nil {
		return nil, &ConfigError{err}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	store, pairs, err := certs.Load(cfg.Config)
	if err != nil {
		return nil, &ConfigError{err}
	}
	s.live.init()
	s.certs, s.certPairs = store, pairs
	s.store = opts.Store
	if s.store == nil {
		st, err := OpenStore(s.ctx, cfg.Config)
		if err != nil {
			return nil, err
		}
		s.store, s.ownStore = st, true
	}
	s.initMetrics()
	if s.fakeSecret, err = loadFakeSecret(s.ctx, s.store); err != nil {
		s.Close()
		return nil, err
	}
	s.throttle = newAuthThrottle(cfg.Limits.AuthFailuresPerIP, time.Duration(cfg.Limits.AuthFailureWindow)*time.Second)
	s.connLimit = newConnLimiter(cfg.Limits)
	s.router = router.New(s.store, s.logFor("router"))
	s.router.SM.ResumeTimeout = time.Duration(cfg.StreamManagement.ResumeTimeout) * time.Second
	s.router.SM.MaxUnacked = cfg.StreamManagement.MaxUnacked
	if err := s.initHTTP(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.initTURN(); err != nil {
		s.Close()
		return nil, err
	}
	mods := opts.Modules
	if mods == nil {
		mods = mod.All()
	}
	s.mods = mods
	if err := s.startModules(mods); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.initS2S(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startACME(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenStore opens the configured storage backend (also used by the CLI).
func OpenStore(ctx context.Context, cfg config.Config) (storage.Store, error) {
	if cfg.Storage.Driver == "sqlite" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, &ConfigError{fmt.Errorf("data_dir: %w", err)}
		}
	}
	st, err := sqlstore.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN, StoreOptions(cfg.Storage))
	if err != nil {
		return nil, fmt.Errorf("storage (%s): %w", cfg.Storage.Driver, err)
	}
	return st, nil
}

// StoreOptions returns the sqlstore options of the [storage] section.
func StoreOptions(c config.Storage) sqlstore.Options {
	return sqlstore.Options{
		MaxOpenConns:    c.MaxOpenConns,
		MaxIdleConns:    c.MaxIdleConns,
		ConnMaxLifetime: time.Duration(c.ConnMaxLifetime) * time.Second,
		TLSCA:           c.TLSCA,
		TLSCert:         c.TLSCert,
		TLSKey:          c.TLSKey,
	}
}

// loadFakeSecret returns the server's persistent secret for fake SCRAM
// salts, creating it on first start.
func loadFakeSecret(ctx context.Context, st storage.Store) ([]byte, error) {
	return loadSecret(ctx, st, "sasl_fake_secret")
}

// startModules starts mods, in order, on every host, after checking that
// each module's requirements come before it.
func (s *Server) startModules(mods []*module.Definition) error {
	configs, err := decodeModules(s.cfg, mods)
	if err != nil {
		return err
	}
	var admins []jid.JID
	for _, a := range s.cfg.Admins {
		j, err := jid.Parse(a)
		if err != nil || j.Local() == "" || j.Resource() != "" {
			return &ConfigError{fmt.Errorf("admins: %q is not a bare JID", a)}
		}
		admins = append(admins, j)
	}
	s.modConfigs = configs
	s.modHosts = make([][]*module.Host, len(mods))
	shared := module.NewShared()
	for _, host := range s.cfg.Hosts {
		reg := module.NewRegistry(host)
		reg.SetShared(shared)
		reg.SetSettings(module.Settings{SCRAMIterations: s.cfg.Auth.SCRAMIterations, DataDir: s.cfg.DataDir, MaxQueueBytes: s.cfg.Limits.MaxQueueSize, Admins: admins})
		if s.web != nil {
			reg.SetHTTP(s.web)
		}
		if s.cfg.TURN.Enabled {
			reg.SetExternalServices(turnServices{s})
		}
		for i, d := range mods {
			h := module.NewHost(s.ctx, d.Name, reg, s.router, s.store, s.logFor("modules"), &s.wg)
			s.modHosts[i] = append(s.modHosts[i], h)
			if err := d.Start(h, configs[i]); err != nil {
				err = fmt.Errorf("module %s on %s: %w", d.Name, host, err)
				if opErr := (*net.OpError)(nil); errors.As(err, &opErr) && opErr.Op == "listen" {
					// A module's own listener (proxy65): a port in
					// use is the operator's to fix, as for [listen].
					return &ConfigError{err}
				}
				return err
			}
			if err := h.Err(); err != nil {
				return err
			}
		}
		if err := reg.Freeze(); err != nil {
			return err
		}
		s.router.AddHost(reg)
	}
	return nil
}

// listenConfig opens the listeners. Accepted connections keep TCP
// keep-alive on with the system's timing (two hours idle on Linux)
// rather than Go's 15 s default: streams have XMPP-level liveness
// checks (pings, idle timeouts) that notice a dead peer, probes every 15 s
// would wake mobile clients' radios for nothing, and leaving the timing
// alone saves three system calls per connection.
var listenConfig = net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}}

// Listen opens every configured listener. An address in use is an error
// naming it.
func (s *Server) Listen() error {
	open := func(kind string, addrs []string) error {
		for _, a := range addrs {
			ln, err := listenConfig.Listen(context.Background(), "tcp", a)
			if err != nil {
				key := "listen." + kind
				if k, ok := strings.CutPrefix(kind, "acme_"); ok {
					key = "acme." + k
				}
				return &ConfigError{fmt.Errorf("%s: cannot listen on %s: %w", key, a, err)}
			}
			s.mu.Lock()
			s.listeners = append(s.listeners, listener{kind, ln})
			s.mu.Unlock()
		}
		return nil
	}
	if err := open("c2s", s.cfg.Listen.C2S); err != nil {
		s.closeListeners()
		return err
	}
	if err := open("c2s_tls", s.cfg.Listen.C2STLS); err != nil {
		s.closeListeners()
		return err
	}
	if err := open("s2s", s.cfg.Listen.S2S); err != nil {
		s.closeListeners()
		return err
	}
	if err := open("s2s_tls", s.cfg.Listen.S2STLS); err != nil {
		s.closeListeners()
		return err
	}
	if err := open("component", s.cfg.Listen.Component); err != nil {
		s.closeListeners()
		return err
	}
	if err := open("metrics", s.cfg.Listen.Metrics); err != nil {
		s.closeListeners()
		return err
	}
	for _, kind := range []string{"http", "https"} {
		addrs := s.cfg.Listen.HTTP
		if kind == "https" {
			addrs = s.cfg.Listen.HTTPS
		}
		if err := open(kind, addrs); err != nil {
			s.closeListeners()
			return err
		}
	}
	if a := s.cfg.ACME; a.Enabled {
		var httpAddrs, tlsAddrs []string
		if a.Challenge == "http-01" && a.HTTP != "" {
			httpAddrs = []string{a.HTTP}
		}
		if a.TLS != "" {
			tlsAddrs = []string{a.TLS}
		}
		if err := open("acme_http", httpAddrs); err != nil {
			s.closeListeners()
			return err
		}
		if err := open("acme_tls", tlsAddrs); err != nil {
			s.closeListeners()
			return err
		}
	}
	if err := s.listenTURN(); err != nil {
		s.closeListeners()
		return err
	}
	return nil
}

// Addrs returns the bound addresses of the listeners of kind ("c2s",
// "c2s_tls", "s2s", "s2s_tls", "component", "metrics", "http", "https",
// and those of the built-in TURN server, "turn_udp", "turn_tcp" and
// "turn_tls").
func (s *Server) Addrs(kind string) []string {
	if transport, ok := strings.CutPrefix(kind, "turn_"); ok {
		var out []string
		if srv := s.turn.Load(); srv != nil {
			for _, a := range srv.Addrs(transport) {
				out = append(out, a.String())
			}
		}
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.listeners {
		if l.kind == kind {
			out = append(out, l.ln.Addr().String())
		}
	}
	return out
}

// Router returns the server's router.
func (s *Server) Router() *router.Router { return s.router }

// Store returns the server's storage.
func (s *Server) Store() storage.Store { return s.store }

// Serve accepts connections on every listener until ctx is cancelled, then
// shuts down: every stream gets <system-shutdown/>, and Serve returns when
// all connections and module goroutines are done.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	lns := slices.Clone(s.listeners)
	s.mu.Unlock()
	var accept sync.WaitGroup
	// Reload replaces the configuration and the certificate files under
	// live.mu; runCerts reads both.
	s.live.mu.Lock()
	s.runCerts(lns)
	s.live.mu.Unlock()
	if srv := s.turn.Load(); srv != nil {
		if err := srv.Start(); err != nil {
			// Nothing to advertise then: extdisco lists what is running.
			s.turn.Store(nil)
			s.log.Error("the TURN server did not start", "err", err)
		}
	}
	for _, l := range lns {
		switch l.kind {
		case "metrics":
			s.serveMetrics(l.ln)
			continue
		case "s2s", "s2s_tls":
			accept.Add(1)
			go func() {
				defer accept.Done()
				s.s2s.Serve(l.ln, l.kind == "s2s_tls")
			}()
			continue
		case "component":
			accept.Add(1)
			go func() {
				defer accept.Done()
				s.s2s.ServeComponents(l.ln)
			}()
			continue
		case "acme_http", "acme_tls":
			continue
		}
		if l.kind == "http" || l.kind == "https" {
			s.serveHTTP(l)
			continue
		}
		direct := l.kind == "c2s_tls"
		s.live.mu.Lock()
		s.live.stream[direct].Store(new(s.c2sConfig(direct)))
		s.live.mu.Unlock()
		accept.Add(1)
		go func() {
			defer accept.Done()
			s.acceptLoop(l.ln, direct)
		}()
	}
	<-ctx.Done()
	s.Shutdown()
	accept.Wait()
	return nil
}

// acceptLoop serves the connections of one listener, each with the stream
// settings current when it was accepted (Reload changes them).
func (s *Server) acceptLoop(ln net.Listener, direct bool) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		release, ok := s.connLimit.admit(nc.RemoteAddr())
		if !ok {
			// Over the address's limits: closed before a byte is read.
			nc.Close()
			continue
		}
		cfg := *s.live.stream[direct].Load()
		s.metrics.connectionAccepted(cfg.DirectTLS)
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer release()
			if cfg.DirectTLS {
				nc = stream.TLSServer(nc, cfg.TLS)
			}
			stream.ServeC2S(s.ctx, nc, cfg)
		}()
	}
}

// c2sConfig returns the stream settings of new connections from the
// current configuration. Caller holds s.live.mu.
func (s *Server) c2sConfig(direct bool) stream.C2SConfig {
	alpn := []string{}
	if direct {
		alpn = []string{"xmpp-client"}
	}
	lim := s.cfg.Limits
	return stream.C2SConfig{
		Host: func(domain string) stream.VHost {
			if vh := s.router.Host(domain); vh != nil {
				return throttledHost{vh, s.throttle}
			}
			return nil
		},
		TLS:                s.tlsConfig(direct, alpn),
		DirectTLS:          direct,
		RequireTLS:         true,
		Limits:             stanza.Limits{MaxStanzaBytes: lim.MaxStanzaSize, MaxDepth: lim.MaxDepth, MaxAttrs: lim.MaxAttributes},
		MaxQueueBytes:      lim.MaxQueueSize,
		NegotiationTimeout: time.Duration(lim.NegotiationTimeout) * time.Second,
		Liveness: stream.Liveness{
			IdleTimeout:      time.Duration(lim.IdleTimeout) * time.Second,
			PingTimeout:      time.Duration(lim.PingTimeout) * time.Second,
			StanzaTimeout:    time.Duration(lim.StanzaTimeout) * time.Second,
			BytesPerSecond:   lim.BytesPerSecond,
			BurstBytes:       lim.BurstBytes,
			StanzasPerSecond: lim.StanzasPerSecond,
			BurstStanzas:     lim.BurstStanzas,
		},
		MaxAuthAttempts: lim.MaxAuthAttempts,
		Throttle:        s.throttle,
		SCRAMIterations: s.cfg.Auth.SCRAMIterations,
		FakeSecret:      s.fakeSecret,
		Log:             s.logFor("stream"),
		Metrics:         s.metrics.c2s(),
		Trace:           s.traceFunc(),
	}
}

// throttledHost refuses credential lookups for accounts under attack.
type throttledHost struct {
	*router.VHost
	t *authThrottle
}

func (h throttledHost) Credentials(ctx context.Context, username string) (sasl.Credentials, error) {
	if u, err := jid.New(username, h.Registry().Domain(), ""); err == nil && !h.t.Allow("", u.String()) {
		return sasl.Credentials{}, &sasl.Failure{Condition: "temporary-auth-failure", Text: "too many failed attempts for this account, try later"}
	}
	return h.VHost.Credentials(ctx, username)
}

// Shutdown stops accepting, closes every session with <system-shutdown/>
// and waits for connections and module goroutines to end.
func (s *Server) Shutdown() {
	s.stopMetrics()
	s.closeListeners()
	if srv := s.turn.Load(); srv != nil {
		srv.Close()
	}
	s.stopHTTP()
	s.router.Shutdown(&stanza.StreamError{Condition: "system-shutdown"})
	if s.s2s != nil {
		s.s2s.Close()
	}
	s.cancel()
	s.mu.Lock() // a barrier for addConn (http.go): no connection is added after it
	s.mu.Unlock()
	s.conns.Wait()
	s.wg.Wait()
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		l.ln.Close()
	}
}

// Close releases what New acquired (storage). Call it after Serve returned
// or when Listen/Serve were never called.
func (s *Server) Close() error {
	s.cancel()
	if srv := s.turn.Load(); srv != nil {
		srv.Close()
	}
	if s.ownStore && s.store != nil {
		return s.store.Close()
	}
	return nil
}

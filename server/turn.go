package server

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"hearth/module"
	"hearth/turn"
)

// turnSecretKey names the built-in TURN server's generated secret in
// storage.
const turnSecretKey = "turn_secret"

// initTURN loads the secret of the built-in STUN/TURN server when [turn]
// is enabled; the listeners open in Listen.
func (s *Server) initTURN() error {
	t := s.cfg.TURN
	if !t.Enabled {
		return nil
	}
	if t.Secret != "" {
		s.turnSecret = []byte(t.Secret)
		return nil
	}
	secret, err := loadSecret(s.ctx, s.store, turnSecretKey)
	if err != nil {
		return fmt.Errorf("turn: %w", err)
	}
	s.turnSecret = secret
	return nil
}

// listenTURN opens the listeners of the built-in STUN/TURN server.
func (s *Server) listenTURN() error {
	t := s.cfg.TURN
	if !t.Enabled {
		return nil
	}
	name := t.Host
	if name == "" {
		name = s.cfg.Hosts[0]
	}
	relay := t.RelayAddress
	if relay == "" {
		relay = name
	}
	var denied []netip.Prefix
	for _, n := range t.DeniedPeers {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return &ConfigError{fmt.Errorf("turn.denied_peers: %w", err)}
		}
		denied = append(denied, p)
	}
	bind, err := netip.ParseAddr(t.RelayBind)
	if err != nil {
		return &ConfigError{fmt.Errorf("turn.relay_bind: %w", err)}
	}
	srv, err := turn.Listen(turn.Config{
		UDP: t.UDP, TCP: t.TCP, TLS: t.TLS,
		TLSConfig:             s.liveTLS(),
		Realm:                 name,
		Secret:                s.turnSecret,
		RelayAddress:          relay,
		RelayBind:             bind,
		MinPort:               t.MinPort,
		MaxPort:               t.MaxPort,
		DeniedPeers:           denied,
		MaxAllocations:        t.MaxAllocations,
		MaxAllocationsPerUser: t.MaxAllocationsPerUser,
		MaxConnections:        t.MaxConnections,
		Log:                   s.logFor("turn"),
	})
	if err != nil {
		return &ConfigError{err}
	}
	s.turn.Store(srv)
	return nil
}

// turnServices is the built-in server as mod/extdisco advertises it.
type turnServices struct{ s *Server }

var _ module.ExternalServices = turnServices{}

// ExternalServices lists, for the clients of domain, STUN and TURN over
// UDP, TURN over TCP and over TLS, each at the port of its first listener,
// under [turn] host or else domain itself.
func (ts turnServices) ExternalServices(domain string) []module.ExternalService {
	srv := ts.s.turn.Load()
	if srv == nil {
		return nil
	}
	host := ts.s.cfg.TURN.Host
	if host == "" {
		host = domain
	}
	secret := ts.s.turnSecret
	port := func(kind string) int {
		addrs := srv.Addrs(kind)
		if len(addrs) == 0 {
			return 0
		}
		_, p, _ := net.SplitHostPort(addrs[0].String())
		n, _ := strconv.Atoi(p)
		return n
	}
	var out []module.ExternalService
	if p := port("udp"); p != 0 {
		out = append(out,
			module.ExternalService{Type: "stun", Host: host, Port: p, Transport: "udp"},
			module.ExternalService{Type: "turn", Host: host, Port: p, Transport: "udp", Secret: secret})
	}
	if p := port("tcp"); p != 0 {
		out = append(out, module.ExternalService{Type: "turn", Host: host, Port: p, Transport: "tcp", Secret: secret})
	}
	if p := port("tls"); p != 0 {
		out = append(out, module.ExternalService{Type: "turns", Host: host, Port: p, Transport: "tcp", Secret: secret})
	}
	return out
}

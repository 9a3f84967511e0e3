// Package turn runs hearth's built-in STUN and TURN server (RFC 8489,
// RFC 8656) for audio and video calls: clients behind NATs learn their
// public address from it and, when no direct path exists, relay their
// media through it. It listens on UDP, TCP and TLS ("turns") and accepts
// the time-limited credentials of the TURN REST scheme, which the XMPP
// server hands out over XEP-0215 (mod/extdisco) from the same secret.
// The protocol is github.com/pion/turn's; this package opens the sockets,
// checks credentials, bounds what clients may hold and decides which
// peers media may be relayed to.
package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	pion "github.com/pion/turn/v4"
)

// Config is what a Server needs; the server package fills it from [turn].
type Config struct {
	// UDP, TCP and TLS are the listen addresses of each transport.
	UDP, TCP, TLS []string
	// TLSConfig serves the TLS listeners (the server's certificates).
	TLSConfig *tls.Config
	// Realm is the realm of the long-term credentials.
	Realm string
	// Secret is the shared secret of the TURN REST credentials.
	Secret []byte
	// RelayAddress is the public IPv4 address, or a name resolving to it,
	// that relay addresses are announced at; RelayBind is the local
	// address relay ports are opened on, MinPort-MaxPort their range.
	RelayAddress     string
	RelayBind        netip.Addr
	MinPort, MaxPort int
	// DeniedPeers are the networks media is never relayed to.
	DeniedPeers []netip.Prefix
	// MaxAllocations and MaxAllocationsPerUser bound the relays open at
	// once; MaxConnections the TCP and TLS connections.
	MaxAllocations, MaxAllocationsPerUser, MaxConnections int
	// Log receives the server's messages (subsystem "turn").
	Log *slog.Logger
}

// Server is a running STUN/TURN server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	packets []net.PacketConn
	tcp     []*limitListener
	tls     []*limitListener
	pion    *pion.Server
	quota   *quota
	closed  sync.Once
}

// Listen opens every listener of cfg. It fails, having opened nothing,
// when an address cannot be bound.
func Listen(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, log: cfg.Log,
		quota: &quota{max: cfg.MaxAllocations, perUser: cfg.MaxAllocationsPerUser, byUser: map[string]int{}}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("turn: no secret")
	}
	if len(cfg.TLS) > 0 && cfg.TLSConfig == nil {
		return nil, errors.New("turn: TLS listeners without certificates")
	}
	fail := func(err error) (*Server, error) {
		s.closeSockets()
		return nil, err
	}
	for _, a := range cfg.UDP {
		pc, err := net.ListenPacket("udp", a)
		if err != nil {
			return fail(fmt.Errorf("turn.udp: cannot listen on %s: %w", a, err))
		}
		s.packets = append(s.packets, pc)
	}
	conns := &connCount{max: cfg.MaxConnections}
	for _, a := range cfg.TCP {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fail(fmt.Errorf("turn.tcp: cannot listen on %s: %w", a, err))
		}
		s.tcp = append(s.tcp, newLimitListener(ln, conns, nil))
	}
	for _, a := range cfg.TLS {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fail(fmt.Errorf("turn.tls: cannot listen on %s: %w", a, err))
		}
		s.tls = append(s.tls, newLimitListener(ln, conns, cfg.TLSConfig))
	}
	return s, nil
}

// Addrs returns the bound addresses of the listeners of one transport:
// "udp", "tcp" or "tls".
func (s *Server) Addrs(transport string) []net.Addr {
	var out []net.Addr
	switch transport {
	case "udp":
		for _, pc := range s.packets {
			out = append(out, pc.LocalAddr())
		}
	case "tcp":
		for _, l := range s.tcp {
			out = append(out, l.Addr())
		}
	case "tls":
		for _, l := range s.tls {
			out = append(out, l.Addr())
		}
	}
	return out
}

// Start serves every listener in the background until Close.
func (s *Server) Start() error {
	logs := pionLogs{s.log}
	q := s.quota
	a := &auth{secret: s.cfg.Secret, now: time.Now, log: pionLogger{s.log}}
	relay := &relays{bind: s.cfg.RelayBind, min: s.cfg.MinPort, max: s.cfg.MaxPort, public: newPublicAddr(s.cfg.RelayAddress)}
	denied := s.cfg.DeniedPeers
	permit := func(client net.Addr, peer net.IP) bool {
		ip, ok := netip.AddrFromSlice(peer)
		if !ok {
			return false
		}
		ip = ip.Unmap()
		if slices.ContainsFunc(denied, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			s.log.Debug("relay to a denied peer refused", "client", client.String(), "peer", ip.String())
			return false
		}
		return true
	}
	cfg := pion.ServerConfig{
		LoggerFactory: logs,
		Realm:         s.cfg.Realm,
		AuthHandler:   a.key,
		QuotaHandler:  q.allow,
		EventHandler: pion.EventHandler{
			OnAllocationCreated: q.created,
			OnAllocationDeleted: q.deleted,
		},
	}
	for _, pc := range s.packets {
		cfg.PacketConnConfigs = append(cfg.PacketConnConfigs, pion.PacketConnConfig{PacketConn: pc, RelayAddressGenerator: relay, PermissionHandler: permit})
	}
	for _, l := range slices.Concat(s.tcp, s.tls) {
		cfg.ListenerConfigs = append(cfg.ListenerConfigs, pion.ListenerConfig{Listener: l, RelayAddressGenerator: relay, PermissionHandler: permit})
	}
	srv, err := pion.NewServer(cfg)
	if err != nil {
		s.closeSockets()
		return fmt.Errorf("turn: %w", err)
	}
	s.pion = srv
	for _, kind := range []string{"udp", "tcp", "tls"} {
		for _, a := range s.Addrs(kind) {
			s.log.Info("listening", "transport", kind, "addr", a.String())
		}
	}
	return nil
}

// Allocations returns the number of relays open now.
func (s *Server) Allocations() int {
	s.quota.mu.Lock()
	defer s.quota.mu.Unlock()
	return s.quota.total
}

// Close stops the server: listeners, client connections and relays.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		if s.pion != nil {
			err = s.pion.Close()
		}
		s.closeSockets()
	})
	return err
}

func (s *Server) closeSockets() {
	for _, pc := range s.packets {
		pc.Close()
	}
	for _, l := range slices.Concat(s.tcp, s.tls) {
		l.Close()
		l.closeConns()
	}
}

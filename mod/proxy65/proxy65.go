// Package proxy65 implements the proxy of XEP-0065: SOCKS5 Bytestreams, a
// streamhost on a service domain (proxy.<host>) that relays file
// transfers between clients that cannot reach each other directly.
//
// The XMPP side (disco, the streamhost address, activation) is a service
// of each virtual host; the SOCKS5 side is one relay per server, shared by
// the hosts through module.Share, because the listen addresses are the
// same for every host and a bytestream's hash already names both parties.
package proxy65

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// Namespaces of XEP-0065 and the disco queries the service answers.
const (
	NS          = "http://jabber.org/protocol/bytestreams"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	nsDiscoItem = "http://jabber.org/protocol/disco#items"
)

// Config is the [proxy65] section. Durations are seconds, sizes bytes; a
// limit of 0 means none where the key says so.
type Config struct {
	// Enabled turns the proxy on (default off: it needs a port of its own).
	Enabled bool `toml:"enabled"`
	// Domain is the service's domain (default "proxy.<host>"); leave it
	// unset with several hosts.
	Domain string `toml:"domain"`
	// Listen are the SOCKS5 listen addresses (default [":5000"];
	// an empty list is the default too), shared by every host.
	Listen []string `toml:"listen"`
	// PublicHost is the host name or address clients are told to connect
	// to (behind NAT). Default: the listener's address, or the virtual
	// host's domain for a listener on every interface.
	PublicHost string `toml:"public_host"`
	// PublicPort is the port clients are told (port forwarding); default
	// the listener's.
	PublicPort int `toml:"public_port"`
	// AllowRemote lets accounts of other servers use the proxy (default:
	// only accounts of this server's hosts).
	AllowRemote bool `toml:"allow_remote"`
	// MaxStreams bounds the bytestreams, waiting or active, of the whole
	// server (default 100); open connections are bounded to twice that.
	MaxStreams int `toml:"max_streams"`
	// MaxStreamsPerUser bounds the active bytestreams one account
	// activated (default 10; 0: none).
	MaxStreamsPerUser int `toml:"max_streams_per_user"`
	// ConnectionsPerIP bounds the connections open from one address
	// (default 20; 0: none).
	ConnectionsPerIP int `toml:"connections_per_ip"`
	// PairTimeout is how long a connection may take to negotiate SOCKS5,
	// and a bytestream to be activated once its first party connected
	// (default 60).
	PairTimeout int64 `toml:"pair_timeout"`
	// IdleTimeout closes an active bytestream after this long without a
	// byte in either direction (default 300; 0: never).
	IdleTimeout int64 `toml:"idle_timeout"`
	// BytesPerSecond limits each bytestream, both directions together
	// (default 0: no limit).
	BytesPerSecond int64 `toml:"bytes_per_second"`
	// MaxBytes closes a bytestream once this many bytes went through,
	// both directions together (default 4 GiB; 0: no limit).
	MaxBytes int64 `toml:"max_bytes"`
}

// defaultListen is the usual proxy65 port (Prosody's). It is filled in
// by start rather than being in the defaults: TOML decodes a list into the
// defaults' backing array, which every server of a process would share.
const defaultListen = ":5000"

// Module serves XEP-0065 on Config.Domain when Config.Enabled.
var Module = module.New("proxy65", Config{
	MaxStreams:        100,
	MaxStreamsPerUser: 10,
	ConnectionsPerIP:  20,
	PairTimeout:       60,
	IdleTimeout:       300,
	MaxBytes:          4 << 30,
}, start).WithSection("proxy65")

// service is the proxy's XMPP side on one virtual host.
type service struct {
	h           *module.Host
	domain      jid.JID
	allowRemote bool
	relay       *relay
	streamhosts []*stanza.Element
}

func start(h *module.Host, cfg Config) error {
	if !cfg.Enabled {
		return nil
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{defaultListen}
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.Domain == "" {
		cfg.Domain = "proxy." + h.Domain()
	}
	domain, err := jid.New("", cfg.Domain, "")
	if err != nil {
		return fmt.Errorf("proxy65.domain: %w", err)
	}
	r, created, err := module.Share(h, func() (*relay, error) {
		return newRelay(cfg.Listen, cfg.limits(), h.Logger())
	})
	if err != nil {
		return err
	}
	if created {
		h.Go(r.serve)
	}
	s := &service{h: h, domain: domain, allowRemote: cfg.AllowRemote, relay: r}
	for _, a := range r.addrs() {
		s.addStreamhost(cfg, a)
	}
	h.AddService(domain.String(), "SOCKS5 Bytestreams Service", module.ServeIQ(h, s.iq))
	return nil
}

func (c *Config) validate() error {
	for _, a := range c.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("proxy65.listen: %q is not an address (host:port, or :port for every interface)", a)
		}
	}
	if c.PublicPort < 0 || c.PublicPort > 65535 {
		return fmt.Errorf("proxy65.public_port: %d is not a port", c.PublicPort)
	}
	if c.MaxStreams <= 0 || c.PairTimeout <= 0 {
		return errors.New("proxy65.max_streams, pair_timeout: must be positive")
	}
	if c.MaxStreamsPerUser < 0 || c.ConnectionsPerIP < 0 || c.IdleTimeout < 0 || c.BytesPerSecond < 0 || c.MaxBytes < 0 {
		return errors.New("proxy65.max_streams_per_user, connections_per_ip, idle_timeout, bytes_per_second, max_bytes: must not be negative (0 means none)")
	}
	return nil
}

func (c *Config) limits() limits {
	return limits{
		maxStreams:     c.MaxStreams,
		maxPerUser:     c.MaxStreamsPerUser,
		maxPerIP:       c.ConnectionsPerIP,
		pairTimeout:    time.Duration(c.PairTimeout) * time.Second,
		idleTimeout:    time.Duration(c.IdleTimeout) * time.Second,
		bytesPerSecond: c.BytesPerSecond,
		maxBytes:       c.MaxBytes,
	}
}

// addStreamhost adds the address clients are told for the listener a,
// unless an equal one is listed.
func (s *service) addStreamhost(cfg Config, a *net.TCPAddr) {
	host, port := cfg.PublicHost, cfg.PublicPort
	if host == "" {
		host = a.IP.String()
		if a.IP.IsUnspecified() {
			host = s.h.Domain()
		}
	}
	if port == 0 {
		port = a.Port
	}
	p := strconv.Itoa(port)
	for _, sh := range s.streamhosts {
		if sh.Get("host") == host && sh.Get("port") == p {
			return
		}
	}
	s.streamhosts = append(s.streamhosts, stanza.New(NS, "streamhost", "jid", s.domain.String(), "host", host, "port", p))
}

// iq answers the IQ requests addressed to the service.
func (s *service) iq(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if req.To != s.domain {
		return nil, stanza.NewError("service-unavailable")
	}
	p, get := req.Payload, req.Stanza.Get("type") == stanza.Get
	switch {
	case get && p.Name == module.Name(nsDiscoInfo, "query"):
		if p.Get("node") != "" {
			return nil, stanza.NewError("item-not-found")
		}
		return s.info(), nil
	case get && p.Name == module.Name(nsDiscoItem, "query"):
		return stanza.New(nsDiscoItem, "query"), nil
	case p.Name == module.Name(NS, "query"):
		if !s.allowed(req.From) {
			return nil, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only accounts of this server may use its proxy"}
		}
		if get {
			return s.address(), nil
		}
		return nil, s.activate(p, req.From)
	}
	return nil, stanza.NewError("service-unavailable")
}

// info is the service's disco#info (XEP-0065 §4).
func (s *service) info() *stanza.Element {
	q := stanza.New(nsDiscoInfo, "query")
	q.Append(stanza.New(nsDiscoInfo, "identity", "category", "proxy", "type", "bytestreams", "name", "SOCKS5 Bytestreams Service"))
	q.Append(stanza.New(nsDiscoInfo, "feature", "var", nsDiscoInfo))
	return q.Append(stanza.New(nsDiscoInfo, "feature", "var", NS))
}

// address is the answer to a streamhost query (XEP-0065 §4).
func (s *service) address() *stanza.Element {
	q := stanza.New(NS, "query")
	for _, sh := range s.streamhosts {
		q.Append(sh.Copy())
	}
	return q
}

// allowed reports whether from may use the proxy: an account of a host of
// this server, or anyone with allow_remote.
func (s *service) allowed(from jid.JID) bool {
	return s.allowRemote || from.Local() != "" && s.h.IsLocal(from.Domain())
}

// activate handles the requester's <activate/> (XEP-0065 §6.3.5): the
// bytestream is the one whose hash is SHA-1(SID + requester + target).
func (s *service) activate(q *stanza.Element, from jid.JID) error {
	sid := q.Get("sid")
	act := q.Child(NS, "activate")
	if sid == "" || act == nil {
		return &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "activation needs a sid and an <activate/> target"}
	}
	target, err := jid.Parse(act.Text())
	if err != nil {
		return &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: "the target is not a JID"}
	}
	return s.relay.activate(Hash(sid, from, target), from.Bare().String())
}

// Hash returns the hash that names a bytestream in SOCKS5 (XEP-0065
// §5.3.2): the lowercase hex SHA-1 of the SID and the two JIDs, prepared.
func Hash(sid string, requester, target jid.JID) string {
	sum := sha1.Sum([]byte(sid + requester.String() + target.String()))
	return hex.EncodeToString(sum[:])
}

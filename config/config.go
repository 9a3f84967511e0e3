// Package config loads hearth's TOML configuration strictly: an unknown
// key is an error naming the key. The core settings decode into Config;
// every other top-level table is the section of a module, which decodes it
// itself with its own defaults (see Section and Check).
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the core configuration. Field comments give the TOML keys.
type Config struct {
	Hosts            []string         `toml:"hosts"`    // virtual hosts served
	DataDir          string           `toml:"data_dir"` // SQLite database, generated certificates
	Listen           Listen           `toml:"listen"`
	TLS              TLS              `toml:"tls"`
	Storage          Storage          `toml:"storage"`
	Log              Log              `toml:"log"`
	Limits           Limits           `toml:"limits"`
	Auth             Auth             `toml:"auth"`
	StreamManagement StreamManagement `toml:"stream_management"`
	HTTP             HTTP             `toml:"http"`
	S2S              S2S              `toml:"s2s"`
	// Components maps the domain of each XEP-0114 external component to
	// the secret it authenticates with on [listen] component:
	// [components] "irc.example.org" = "a long random secret".
	Components map[string]string `toml:"components"`
	ACME       ACME              `toml:"acme"`
	// TURN is the built-in STUN/TURN server for audio and video calls
	// (docs/design/006-calls.md).
	TURN TURN `toml:"turn"`
	// Memory is the garbage collector's policy (docs/memory.md).
	Memory Memory `toml:"memory"`
	// Admins are the bare JIDs of the server's administrators: they may
	// run the XEP-0133 service administration commands and create
	// invitations that make other admins. Top-level key "admins".
	Admins []string `toml:"admins"`
}

// Listen lists the addresses of each listener; an empty list disables it.
type Listen struct {
	C2S    []string `toml:"c2s"`     // STARTTLS (required)
	C2STLS []string `toml:"c2s_tls"` // direct TLS, XEP-0368
	// S2S and S2STLS accept federation streams (STARTTLS required, and
	// direct TLS per XEP-0368). Federation is on when either is set:
	// stanzas to other domains are then sent over s2s (see [s2s]).
	S2S    []string `toml:"s2s"`
	S2STLS []string `toml:"s2s_tls"`
	// Component accepts XEP-0114 external components ([components]).
	// The protocol has no TLS: bind it to loopback or a private network.
	Component []string `toml:"component"`
	// Metrics serves /metrics (Prometheus) and /health over plain HTTP;
	// empty (the default) disables it. Bind it to loopback or a private
	// network: it has no authentication.
	Metrics []string `toml:"metrics"`
	// HTTP and HTTPS serve the web services (file upload, WebSocket,
	// host-meta) over plain HTTP and over TLS with the certificates of the
	// [tls] section; empty (the default) disables them. Usual values are
	// [":5280"] and [":5281"].
	HTTP  []string `toml:"http"`
	HTTPS []string `toml:"https"`
}

// HTTP configures the web server of the http and https listeners.
type HTTP struct {
	// ExternalURL is the base URL clients reach the web services at
	// ("https://chat.example.org"), when a reverse proxy or another port
	// stands in front. Default: https://<host>:<first https port> (or the
	// http listener when there is no https one); host-meta answers with the
	// address the request came to.
	ExternalURL string `toml:"external_url"`
	// BehindProxy says the plain http listeners are reached only through a
	// reverse proxy that terminates TLS: their requests count as encrypted
	// (WebSocket clients may authenticate) and the client address is the
	// last entry of X-Forwarded-For. Default false: WebSocket on plain http
	// is refused.
	BehindProxy       bool `toml:"behind_proxy"`
	ReadHeaderTimeout int  `toml:"read_header_timeout"` // seconds to read request headers, default 10
	IdleTimeout       int  `toml:"idle_timeout"`        // seconds a kept-alive connection may idle, default 120
	// ShutdownTimeout bounds how long a stopping server waits for HTTP
	// requests in progress (uploads, downloads), in seconds; default 5.
	ShutdownTimeout int `toml:"shutdown_timeout"`
	// BOSHMaxWait bounds, in seconds, how long a BOSH request is held
	// waiting for something to send (default 60); BOSHInactivity is how
	// long a BOSH session may have no request pending before it counts
	// as disconnected (default 60).
	BOSHMaxWait    int `toml:"bosh_max_wait"`
	BOSHInactivity int `toml:"bosh_inactivity"`
}

// TLS names the certificates: one pair for every host, or a folder with
// one pair per domain (<domain>.crt/<domain>.key or certbot's
// <domain>/fullchain.pem and privkey.pem). With neither, hearth generates a
// self-signed certificate per host under data_dir/certs.
type TLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	Dir  string `toml:"dir"`
	// Watch is how often the cert/key files (or those found in dir) are
	// checked for changes, e.g. a certbot renewal, and reloaded without
	// dropping sessions; default "1m", "0" turns it off.
	Watch Duration `toml:"watch"`
	// Curves are the TLS key exchange groups hearth accepts; empty (the
	// default) means Go's defaults, which include the post-quantum hybrids
	// (X25519MLKEM768 first). Of the groups a client offers a key share
	// for, a hybrid is chosen before a classical curve. Naming only
	// classical curves (["X25519", "P-256"]) saves about a third of a TLS
	// handshake's CPU but leaves recorded traffic open to decryption by a
	// future quantum computer (docs/performance.md). Names:
	// X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519,
	// P-256, P-384, P-521. A restart applies a change.
	Curves []string `toml:"curves"`
}

// tlsCurves names the key exchange groups tls.curves may list.
var tlsCurves = map[string]tls.CurveID{
	"X25519MLKEM768":     tls.X25519MLKEM768,
	"SecP256r1MLKEM768":  tls.SecP256r1MLKEM768,
	"SecP384r1MLKEM1024": tls.SecP384r1MLKEM1024,
	"X25519":             tls.X25519,
	"P-256":              tls.CurveP256,
	"P-384":              tls.CurveP384,
	"P-521":              tls.CurveP521,
}

// CurveIDs returns the groups of Curves in order, or nil for Go's
// defaults. An unknown or repeated name is an error.
func (t TLS) CurveIDs() ([]tls.CurveID, error) {
	var ids []tls.CurveID
	for _, name := range t.Curves {
		id, ok := tlsCurves[name]
		if !ok {
			return nil, fmt.Errorf("tls.curves: unknown group %q (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, P-256, P-384, P-521)", name)
		}
		if slices.Contains(ids, id) {
			return nil, fmt.Errorf("tls.curves: %q named twice", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ACME configures automatic certificates (RFC 8555) for every served
// domain: the hosts and their service subdomains. Enabling it accepts the
// CA's terms of service on the operator's behalf.
type ACME struct {
	Enabled bool   `toml:"enabled"`
	Email   string `toml:"email"` // account contact, for expiry notices
	// Directory is the CA's ACME directory URL; default Let's Encrypt's
	// production directory.
	Directory string `toml:"directory"`
	// DirectoryCA is a PEM file of extra roots trusted for the directory's
	// HTTPS (test CAs).
	DirectoryCA string `toml:"directory_ca"`
	// Challenge is "tls-alpn-01" (default: answered on port 443 by the
	// direct-TLS listener, listen.c2s_tls, or by acme.tls) or "http-01"
	// (answered by the acme.http listener).
	Challenge string `toml:"challenge"`
	// HTTP is the http-01 listener address (default ":80" with http-01).
	HTTP string `toml:"http"`
	// TLS is an optional dedicated tls-alpn-01 listener (e.g. ":443") for
	// when no direct-TLS listener is on port 443.
	TLS string `toml:"tls"`
	// RenewBefore: a certificate is renewed when it expires within this
	// time; default "720h" (30 days).
	RenewBefore Duration `toml:"renew_before"`
	// CheckInterval: how often expiry is checked and failed orders
	// retried; default "1h".
	CheckInterval Duration `toml:"check_interval"`
	// OrderTimeout bounds one certificate order; default "5m".
	OrderTimeout Duration `toml:"order_timeout"`
}

// TURN configures the built-in STUN/TURN server (RFC 8489, RFC 8656):
// clients relay call media through it when no direct path exists. It is
// off by default; with enabled = true the defaults below make it work on a
// home server whose domain resolves to its public address, and the
// extdisco module tells clients about it with credentials.
type TURN struct {
	Enabled bool `toml:"enabled"`
	// UDP and TCP are the STUN/TURN listeners (default [":3478"] each);
	// TLS the TURN-over-TLS listener ("turns", default [":5349"]) with the
	// [tls] certificates. An empty list disables one.
	UDP []string `toml:"udp"`
	TCP []string `toml:"tcp"`
	TLS []string `toml:"tls"`
	// Host is the name clients reach the server at (default: each virtual
	// host's own domain), and the realm of its credentials.
	Host string `toml:"host"`
	// RelayAddress is the public IPv4 address, or a name resolving to it,
	// that relayed media is sent to (default: Host, else the virtual
	// host's domain, resolved again at most once a minute so that a
	// dynamic address is followed).
	RelayAddress string `toml:"relay_address"`
	// RelayBind is the local IPv4 address relay ports are opened on
	// (default "0.0.0.0").
	RelayBind string `toml:"relay_bind"`
	// MinPort and MaxPort bound the relay ports (default 49152-65535).
	MinPort int `toml:"min_port"`
	MaxPort int `toml:"max_port"`
	// Secret is the shared secret credentials are derived from (TURN REST,
	// as coturn's use-auth-secret); default: one generated on first start
	// and kept in storage.
	Secret string `toml:"secret"`
	// DeniedPeers are the networks (CIDR) media is never relayed to:
	// by default loopback, private, link-local, multicast and unspecified
	// addresses, so that the relay cannot reach the server's own network.
	DeniedPeers []string `toml:"denied_peers"`
	// MaxAllocations bounds the relays open at once (default 1000),
	// MaxAllocationsPerUser those of one account (default 16).
	MaxAllocations        int `toml:"max_allocations"`
	MaxAllocationsPerUser int `toml:"max_allocations_per_user"`
	// MaxConnections bounds the TCP and TLS connections open at once
	// (default 1000).
	MaxConnections int `toml:"max_connections"`
}

// DefaultDeniedPeers are the networks TURN relays to by default never.
var DefaultDeniedPeers = []string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
}

// LetsEncrypt is the default ACME directory.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// Duration is a TOML string such as "90s", "12h" or "30d" (days).
type Duration time.Duration

// UnmarshalText parses a Go duration or a whole number of days ("7d").
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return fmt.Errorf("invalid duration %q", s)
		}
		*d = Duration(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("invalid duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// Storage selects the backend. TLS to a PostgreSQL server is set in the
// DSN (sslmode=verify-full&sslrootcert=...); for MySQL the DSN says
// tls=custom and the TLS* keys name the files of that "custom" config.
type Storage struct {
	Driver string `toml:"driver"` // sqlite (default); postgres and mysql
	DSN    string `toml:"dsn"`    // sqlite: defaults to <data_dir>/hearth.db
	// Connection pool; 0 means the driver's default (unlimited open
	// connections, 2 idle, no lifetime limit). For SQLite they bound the
	// pool of readers only: writes always go through one connection.
	MaxOpenConns    int `toml:"max_open_conns"`
	MaxIdleConns    int `toml:"max_idle_conns"`
	ConnMaxLifetime int `toml:"conn_max_lifetime"` // seconds
	// MySQL only, with tls=custom in the DSN: PEM files of the CA that
	// signed the server's certificate and of an optional client certificate.
	TLSCA   string `toml:"tls_ca"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
}

// Log configures logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info (default), warn, error
	Format string `toml:"format"` // text (default) or json
	// Levels overrides Level per subsystem (Subsystems lists them), e.g.
	// { stream = "debug", router = "warn" }.
	Levels map[string]string `toml:"levels"`
	// Trace lists bare JIDs whose stanzas are logged in full (bodies
	// included) by the "trace" subsystem, at debug level, which is that
	// subsystem's default level when Trace is not empty. For debugging on
	// an operator's explicit request only.
	Trace []string `toml:"trace"`
}

// Subsystems are the keys [log] levels accepts; every logger carries its
// subsystem in the "subsystem" attribute.
var Subsystems = []string{"server", "stream", "router", "modules", "metrics", "trace", "s2s", "turn"}

// Limits bound what clients may send and hold.
type Limits struct {
	MaxStanzaSize      int `toml:"max_stanza_size"`      // bytes, default 262144
	MaxQueueSize       int `toml:"max_queue_size"`       // bytes queued for one session, default 1 MiB
	NegotiationTimeout int `toml:"negotiation_timeout"`  // seconds from connect to bound resource, default 60
	AuthFailuresPerIP  int `toml:"auth_failures_per_ip"` // failed logins per IP per auth_failure_window, default 10
	AuthFailureWindow  int `toml:"auth_failure_window"`  // seconds, default 300
	MaxAuthAttempts    int `toml:"max_auth_attempts"`    // failed SASL attempts per stream, default 3
	MaxDepth           int `toml:"max_depth"`            // nesting of a stanza, default 64
	MaxAttributes      int `toml:"max_attributes"`       // attributes of one element, default 64

	// The keys below are preset before decoding, so 0 turns each off.
	IdleTimeout      int `toml:"idle_timeout"`           // seconds of silence before a bound stream is pinged, default 300
	PingTimeout      int `toml:"ping_timeout"`           // seconds a pinged stream has to answer, default 60
	StanzaTimeout    int `toml:"stanza_timeout"`         // seconds more an incomplete element gets at the deadline, default 60
	BytesPerSecond   int `toml:"bytes_per_second"`       // per connection, default 524288
	BurstBytes       int `toml:"burst_bytes"`            // default 2097152
	StanzasPerSecond int `toml:"stanzas_per_second"`     // per connection, default 0 (off)
	BurstStanzas     int `toml:"burst_stanzas"`          // default 0: one second's worth
	ConnectionsPerIP int `toml:"connections_per_ip"`     // client connections open at once from one address, default 50
	NewConnsPerIP    int `toml:"new_connections_per_ip"` // new client connections per minute from one address, default 120
	// ExemptNetworks are the networks (CIDR) the per-address connection
	// limits do not apply to: by default loopback, where a reverse proxy
	// or a benchmark connects from.
	ExemptNetworks []string `toml:"exempt_networks"`
}

// presetLimits sets the defaults of the limits for which 0 means off.
func (l *Limits) presetLimits() {
	l.IdleTimeout, l.PingTimeout, l.StanzaTimeout = 300, 60, 60
	l.BytesPerSecond, l.BurstBytes = 512<<10, 2<<20
	l.ConnectionsPerIP, l.NewConnsPerIP = 50, 120
	l.ExemptNetworks = []string{"127.0.0.0/8", "::1/128"}
}

// preset sets the TURN defaults that an explicit empty list may turn off.
func (t *TURN) preset() {
	t.UDP, t.TCP, t.TLS = []string{":3478"}, []string{":3478"}, []string{":5349"}
	t.DeniedPeers = slices.Clone(DefaultDeniedPeers)
}

func (t *TURN) validate() error {
	if t.MinPort < 1 || t.MaxPort > 65535 || t.MinPort > t.MaxPort {
		return fmt.Errorf("turn.min_port, max_port: %d-%d is not a port range", t.MinPort, t.MaxPort)
	}
	for key, v := range map[string]int{"max_allocations": t.MaxAllocations, "max_allocations_per_user": t.MaxAllocationsPerUser, "max_connections": t.MaxConnections} {
		if v < 0 {
			return fmt.Errorf("turn.%s: must be positive (0: the default)", key)
		}
	}
	for _, n := range t.DeniedPeers {
		if _, err := netip.ParsePrefix(n); err != nil {
			return fmt.Errorf("turn.denied_peers: %q is not a network (CIDR)", n)
		}
	}
	if t.Host != "" && strings.ContainsAny(t.Host, "@/ :") {
		return fmt.Errorf("turn.host: %q is not a host name", t.Host)
	}
	if ip := net.ParseIP(t.RelayBind); ip == nil || ip.To4() == nil {
		return fmt.Errorf("turn.relay_bind: %q is not an IPv4 address (relays are IPv4)", t.RelayBind)
	}
	if t.Enabled && len(t.UDP)+len(t.TCP)+len(t.TLS) == 0 {
		return errors.New("turn: enabled without a udp, tcp or tls listener")
	}
	return nil
}

// Memory is how much memory the Go garbage collector may use beyond the
// live heap (docs/memory.md). GOGC and GOMEMLIMIT in the environment win
// over these keys.
type Memory struct {
	// Headroom is how far the heap may at least grow past the live heap
	// before the next collection: "16MiB" by default. It is what a small
	// server pays in memory to keep the collector from running often.
	Headroom Size `toml:"headroom"`
	// HeadroomPercent is the headroom as a percentage of the live heap,
	// when that is more than Headroom: default 25. Go's default is 100,
	// the heap's size again in garbage.
	HeadroomPercent int `toml:"headroom_percent"`
	// Limit is a soft limit on the memory of the process (Go's memory
	// limit, e.g. "512MiB"): near it the collector runs as often as it
	// must, up to half the CPU. Default "0", no limit.
	Limit Size `toml:"limit"`
}

// preset sets the memory defaults that 0 may turn off.
func (m *Memory) preset() {
	m.Headroom, m.HeadroomPercent = 16<<20, 25
}

// Size is a number of bytes: a TOML integer, or a string with a unit
// ("512KiB", "32MiB", "1GiB"; also KB, MB, GB as powers of 1000).
type Size int64

// UnmarshalTOML decodes an integer or a string with a unit.
func (z *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("invalid size %d", v)
		}
		*z = Size(v)
		return nil
	case string:
		return z.parse(v)
	}
	return fmt.Errorf("invalid size %v: want bytes or a string such as \"32MiB\"", v)
}

func (z *Size) parse(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("invalid size %q", s)
	}
	*z = Size(n * mult)
	return nil
}

// Auth configures password storage.
type Auth struct {
	SCRAMIterations int `toml:"scram_iterations"` // default 4096; >= 4096 recommended
}

// StreamManagement configures XEP-0198.
type StreamManagement struct {
	ResumeTimeout int `toml:"resume_timeout"` // seconds a dropped session waits to be resumed, default 300
	MaxUnacked    int `toml:"max_unacked"`    // unacknowledged stanzas kept per session, default 10000
}

// S2S configures federation (docs/design/007-federation.md); it takes
// effect when [listen] s2s or s2s_tls is set.
type S2S struct {
	// RequireValidCerts refuses peers whose certificate does not
	// validate for their domain; false allows dialback with them (still
	// over TLS). Default true.
	RequireValidCerts *bool `toml:"require_valid_certs"`
	// CAFile names a PEM file of extra trust anchors for peer
	// certificates (a private CA); the system's are always used.
	CAFile string `toml:"ca_file"`
	// Static pins domains to "host:port" addresses of their s2s
	// listener (STARTTLS), instead of DNS: { "b.example" = "10.0.0.3:5269" }.
	Static map[string]string `toml:"static"`
	// DialbackSecret keys the XEP-0220 dialback keys; empty (the
	// default) means one generated on first start and kept in storage.
	// Set it to the same value on every node serving the same domains.
	DialbackSecret string `toml:"dialback_secret"`
	ConnectTimeout int    `toml:"connect_timeout"` // seconds to set up an outbound stream, default 30
	IdleTimeout    int    `toml:"idle_timeout"`    // seconds without stanzas before a stream is closed, default 600
	QueueLimit     int    `toml:"queue_limit"`     // stanzas waiting per remote domain while connecting, default 1000

	// Limits on other servers' inbound streams, so that one hostile or
	// broken peer can neither flood hearth nor starve the others; 0
	// turns one off. Rates are per remote domain, summed over its
	// streams; past them its streams are read more slowly.
	MaxStanzaSize    int `toml:"max_stanza_size"`    // bytes, default 524288
	StreamsPerIP     int `toml:"streams_per_ip"`     // inbound streams at once from one IP address, default 64
	StreamsPerDomain int `toml:"streams_per_domain"` // inbound streams at once authenticated for one domain, default 16
	BytesPerSecond   int `toml:"bytes_per_second"`   // per remote domain, default 1048576
	BurstBytes       int `toml:"burst_bytes"`        // default 8388608
	StanzasPerSecond int `toml:"stanzas_per_second"` // per remote domain, default 500
	BurstStanzas     int `toml:"burst_stanzas"`      // default 5000
}

// preset sets the defaults of the federation limits for which 0 means off.
func (s *S2S) preset() {
	s.MaxStanzaSize = 512 << 10
	s.StreamsPerIP, s.StreamsPerDomain = 64, 16
	s.BytesPerSecond, s.BurstBytes = 1<<20, 8<<20
	s.StanzasPerSecond, s.BurstStanzas = 500, 5000
}

// ValidCertsRequired is RequireValidCerts with its default.
func (s S2S) ValidCertsRequired() bool { return s.RequireValidCerts == nil || *s.RequireValidCerts }

// File is a loaded configuration: the core Config plus the module sections.
type File struct {
	Config
	Path     string // "" for the zero-config defaults
	md       toml.MetaData
	sections map[string]toml.Primitive
}

// Default returns the zero-config defaults: localhost, ./hearth-data,
// SQLite, c2s on port 5222.
func Default() *File {
	f := &File{sections: map[string]toml.Primitive{}}
	f.Limits.presetLimits()
	f.TURN.preset()
	f.S2S.preset()
	f.Memory.preset()
	// Without a file, the web services are on too: file upload,
	// WebSocket and BOSH work out of the box, as clients expect.
	f.Listen.HTTPS = []string{":5281"}
	f.TLS.Watch = Duration(time.Minute)
	f.applyDefaults()
	return f
}

func (f *File) applyDefaults() {
	c := &f.Config
	a := &c.ACME
	if a.Directory == "" {
		a.Directory = LetsEncrypt
	}
	if a.Challenge == "" {
		a.Challenge = "tls-alpn-01"
	}
	if a.HTTP == "" && a.Challenge == "http-01" {
		a.HTTP = ":80"
	}
	defDur := func(v *Duration, d time.Duration) {
		if *v == 0 {
			*v = Duration(d)
		}
	}
	defDur(&a.RenewBefore, 30*24*time.Hour)
	defDur(&a.CheckInterval, time.Hour)
	defDur(&a.OrderTimeout, 5*time.Minute)
	if len(c.Hosts) == 0 {
		c.Hosts = []string{"localhost"}
	}
	if c.DataDir == "" {
		c.DataDir = "./hearth-data"
	}
	if c.Listen.C2S == nil {
		c.Listen.C2S = []string{":5222"}
	}
	if c.Storage.Driver == "" {
		c.Storage.Driver = "sqlite"
	}
	if c.Storage.DSN == "" && c.Storage.Driver == "sqlite" {
		c.Storage.DSN = filepath.Join(c.DataDir, "hearth.db")
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	l := &c.Limits
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxStanzaSize, 256<<10)
	def(&l.MaxQueueSize, 1<<20)
	def(&l.NegotiationTimeout, 60)
	def(&l.AuthFailuresPerIP, 10)
	def(&l.AuthFailureWindow, 300)
	def(&l.MaxAuthAttempts, 3)
	def(&l.MaxDepth, 64)
	def(&l.MaxAttributes, 64)
	def(&c.Auth.SCRAMIterations, 4096)
	def(&c.StreamManagement.ResumeTimeout, 300)
	def(&c.StreamManagement.MaxUnacked, 10000)
	def(&c.HTTP.ReadHeaderTimeout, 10)
	def(&c.HTTP.IdleTimeout, 120)
	def(&c.HTTP.ShutdownTimeout, 5)
	def(&c.HTTP.BOSHMaxWait, 60)
	def(&c.HTTP.BOSHInactivity, 60)
	def(&c.S2S.ConnectTimeout, 30)
	def(&c.S2S.IdleTimeout, 600)
	def(&c.S2S.QueueLimit, 1000)
	t := &c.TURN
	if t.RelayBind == "" {
		t.RelayBind = "0.0.0.0"
	}
	def(&t.MinPort, 49152)
	def(&t.MaxPort, 65535)
	def(&t.MaxAllocations, 1000)
	def(&t.MaxAllocationsPerUser, 16)
	def(&t.MaxConnections, 1000)
}

// coreKeys are the top-level keys that belong to Config, sorted.
var coreKeys = slices.Sorted(maps.Keys((&File{}).coreFields()))

// coreFields maps each top-level key of Config to the field it decodes into:
// the one place that ties the TOML names to the struct.
func (f *File) coreFields() map[string]any {
	return map[string]any{
		"hosts":             &f.Hosts,
		"data_dir":          &f.DataDir,
		"listen":            &f.Listen,
		"tls":               &f.TLS,
		"storage":           &f.Storage,
		"log":               &f.Log,
		"limits":            &f.Limits,
		"auth":              &f.Auth,
		"stream_management": &f.StreamManagement,
		"http":              &f.HTTP,
		"s2s":               &f.S2S,
		"memory":            &f.Memory,
		"components":        &f.Components,
		"acme":              &f.ACME,
		"turn":              &f.TURN,
		"admins":            &f.Admins,
	}
}

// Load reads and validates the file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Parse parses a configuration from TOML text.
func Parse(text string) (*File, error) {
	f := &File{sections: map[string]toml.Primitive{}}
	f.Limits.presetLimits()
	f.TURN.preset()
	f.S2S.preset()
	f.Memory.preset()
	f.TLS.Watch = Duration(time.Minute)
	var top map[string]toml.Primitive
	md, err := toml.Decode(text, &top)
	if err != nil {
		return nil, err
	}
	f.md = md
	for key, prim := range top {
		if slices.Contains(coreKeys, key) {
			continue
		}
		// A table defined only through its subtables ([[extdisco.services]])
		// has no type of its own.
		if t := md.Type(key); t != "Hash" && t != "" {
			return nil, fmt.Errorf("unknown key %q", key)
		}
		f.sections[key] = prim
	}
	for k, dst := range f.coreFields() {
		p, ok := top[k]
		if !ok {
			continue
		}
		if err := md.PrimitiveDecode(p, dst); err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
	}
	if err := f.undecoded(coreKeys); err != nil {
		return nil, err
	}
	f.applyDefaults()
	return f, f.validate()
}

// undecoded reports keys under the given top-level keys that nothing decoded.
func (f *File) undecoded(under []string) error {
	var bad []string
	for _, k := range f.md.Undecoded() {
		if len(k) > 0 && slices.Contains(under, k[0]) {
			bad = append(bad, k.String())
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("unknown key %q", strings.Join(bad, `", "`))
	}
	return nil
}

func (f *File) validate() error {
	c := &f.Config
	for _, h := range c.Hosts {
		if h == "" || strings.ContainsAny(h, "@/ ") {
			return fmt.Errorf("hosts: invalid domain %q", h)
		}
	}
	l := c.Limits
	for key, v := range map[string]int{"idle_timeout": l.IdleTimeout, "ping_timeout": l.PingTimeout, "stanza_timeout": l.StanzaTimeout,
		"bytes_per_second": l.BytesPerSecond, "burst_bytes": l.BurstBytes, "stanzas_per_second": l.StanzasPerSecond, "burst_stanzas": l.BurstStanzas,
		"connections_per_ip": l.ConnectionsPerIP, "new_connections_per_ip": l.NewConnsPerIP} {
		if v < 0 {
			return fmt.Errorf("limits.%s: must not be negative (0 turns it off)", key)
		}
	}
	if c.Memory.HeadroomPercent < 0 {
		return errors.New("memory.headroom_percent: must not be negative")
	}
	for _, a := range c.Admins {
		if i := strings.IndexByte(a, '@'); i <= 0 || strings.ContainsAny(a, "/ ") {
			return fmt.Errorf("admins: %q is not a bare JID (user@domain)", a)
		}
	}
	for _, n := range l.ExemptNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			return fmt.Errorf("limits.exempt_networks: %q is not a network (CIDR)", n)
		}
	}
	if l.MaxDepth < 0 || l.MaxAttributes < 0 {
		return errors.New("limits.max_depth and limits.max_attributes must be positive (0: the default, 64)")
	}
	if _, err := c.TLS.CurveIDs(); err != nil {
		return err
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("tls: cert and key must be given together")
	}
	if a := c.ACME; a.Enabled {
		if c.TLS.Cert != "" || c.TLS.Dir != "" {
			return errors.New("acme: enabled together with tls.cert or tls.dir; use one or the other")
		}
		switch a.Challenge {
		case "tls-alpn-01", "http-01":
		default:
			return fmt.Errorf("acme.challenge: unknown challenge %q (tls-alpn-01 or http-01)", a.Challenge)
		}
		if a.Challenge == "tls-alpn-01" && a.TLS == "" && len(c.Listen.C2STLS) == 0 {
			return errors.New("acme: challenge tls-alpn-01 needs listen.c2s_tls or acme.tls on port 443")
		}
	}
	switch c.Storage.Driver {
	case "sqlite", "postgres", "mysql":
	default:
		return fmt.Errorf("storage.driver: unknown driver %q (sqlite, postgres or mysql)", c.Storage.Driver)
	}
	if c.Storage.Driver != "sqlite" && c.Storage.DSN == "" {
		return fmt.Errorf("storage.dsn: required for driver %q", c.Storage.Driver)
	}
	if err := c.Storage.validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: unknown level %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: unknown format %q", c.Log.Format)
	}
	for _, sub := range slices.Sorted(maps.Keys(c.Log.Levels)) {
		level := c.Log.Levels[sub]
		if !slices.Contains(Subsystems, sub) {
			return fmt.Errorf("log.levels: unknown subsystem %q (%s)", sub, strings.Join(Subsystems, ", "))
		}
		switch level {
		case "debug", "info", "warn", "error":
		default:
			return fmt.Errorf("log.levels.%s: unknown level %q", sub, level)
		}
	}
	if u := c.HTTP.ExternalURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return fmt.Errorf("http.external_url: %q is not an http:// or https:// URL", u)
	}
	if c.HTTP.ReadHeaderTimeout < 0 || c.HTTP.IdleTimeout < 0 || c.HTTP.ShutdownTimeout < 0 || c.HTTP.BOSHMaxWait < 0 || c.HTTP.BOSHInactivity < 0 {
		return errors.New("http: timeouts must not be negative")
	}
	if err := c.S2S.validate(); err != nil {
		return err
	}
	if err := c.TURN.validate(); err != nil {
		return err
	}
	for _, d := range slices.Sorted(maps.Keys(c.Components)) {
		if d == "" || strings.ContainsAny(d, "@/ ") || slices.Contains(c.Hosts, d) {
			return fmt.Errorf("components: %q is not a domain of its own", d)
		}
		if c.Components[d] == "" {
			return fmt.Errorf("components: the secret of %s is empty", d)
		}
	}
	if c.Auth.SCRAMIterations < 4096 {
		return fmt.Errorf("auth.scram_iterations: %d is below the minimum of 4096", c.Auth.SCRAMIterations)
	}
	return nil
}

// Section returns a decoder for the module section name, or nil when the
// file has no such section. Its result is a module.Decoder.
func (f *File) Section(name string) func(v any) error {
	p, ok := f.sections[name]
	if !ok {
		return nil
	}
	return func(v any) error { return f.md.PrimitiveDecode(p, v) }
}

// Check reports sections no module claimed and keys inside claimed
// sections that no module decoded. Call it after every module decoded its
// section.
func (f *File) Check(claimed []string) error {
	var unknown []string
	for name := range f.sections {
		if !slices.Contains(claimed, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown section [%s]", strings.Join(unknown, "], ["))
	}
	if f.md.Keys() == nil {
		return nil
	}
	return f.undecoded(claimed)
}

// Find returns the configuration file to use when none is given: ./hearth.toml,
// then /etc/hearth/hearth.toml, or "" for the zero-config defaults.
func Find() string {
	for _, p := range []string{"hearth.toml", "/etc/hearth/hearth.toml"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func (s *Storage) validate() error {
	for _, v := range []struct {
		key string
		n   int
	}{{"max_open_conns", s.MaxOpenConns}, {"max_idle_conns", s.MaxIdleConns}, {"conn_max_lifetime", s.ConnMaxLifetime}} {
		if v.n < 0 {
			return fmt.Errorf("storage.%s: %d is negative", v.key, v.n)
		}
	}
	if s.Driver != "mysql" && (s.TLSCA != "" || s.TLSCert != "" || s.TLSKey != "") {
		return fmt.Errorf("storage.tls_ca, tls_cert, tls_key: for driver mysql only (%s takes TLS settings in the dsn)", s.Driver)
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return errors.New("storage: tls_cert and tls_key must be given together")
	}
	return nil
}

func (s *S2S) validate() error {
	for _, v := range []struct {
		key string
		n   int
	}{{"connect_timeout", s.ConnectTimeout}, {"idle_timeout", s.IdleTimeout}, {"queue_limit", s.QueueLimit},
		{"max_stanza_size", s.MaxStanzaSize}, {"streams_per_ip", s.StreamsPerIP}, {"streams_per_domain", s.StreamsPerDomain},
		{"bytes_per_second", s.BytesPerSecond}, {"burst_bytes", s.BurstBytes},
		{"stanzas_per_second", s.StanzasPerSecond}, {"burst_stanzas", s.BurstStanzas}} {
		if v.n < 0 {
			return fmt.Errorf("s2s.%s: %d is negative", v.key, v.n)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(s.Static)) {
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return fmt.Errorf("s2s.static: %q is not a domain", d)
		}
		host, port, err := net.SplitHostPort(s.Static[d])
		if err != nil || host == "" {
			return fmt.Errorf("s2s.static: %q for %s is not host:port", s.Static[d], d)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("s2s.static: %q for %s has an invalid port", s.Static[d], d)
		}
	}
	return nil
}

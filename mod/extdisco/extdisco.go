// Package extdisco implements XEP-0215: External Service Discovery, for
// the STUN and TURN servers clients need for audio and video calls. It
// lists the server's built-in STUN/TURN service ([turn]) and those of the
// [extdisco] section (an operator's coturn, say), and hands each local user
// time-limited TURN credentials derived from the service's shared secret
// (the TURN REST scheme of coturn's use-auth-secret).
package extdisco

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"hearth/module"
	"hearth/stanza"
)

// NS is the XEP-0215 namespace.
const NS = "urn:xmpp:extdisco:2"

// Config is the [extdisco] section.
type Config struct {
	// CredentialTTL is how long, in seconds, credentials stay valid
	// (default 86400). A TURN server checks them again when a client
	// refreshes its relay, so a call ends when they expire: keep it longer
	// than the longest call.
	CredentialTTL int64 `toml:"credential_ttl"`
	// Services are external services run elsewhere, in [[extdisco.services]].
	Services []Service `toml:"services"`
}

// Service is one [[extdisco.services]] entry.
type Service struct {
	Type      string `toml:"type"`      // stun, turn or turns
	Host      string `toml:"host"`      // name or address clients reach it at
	Port      int    `toml:"port"`      // default 3478, 5349 for turns
	Transport string `toml:"transport"` // udp or tcp (default udp, tcp for turns)
	// Secret is the service's shared secret (coturn's static-auth-secret):
	// clients get credentials derived from it. Empty: the service takes
	// no credentials.
	Secret string `toml:"secret"`
}

// Module answers XEP-0215 requests to the server. With neither [turn]
// nor [extdisco] services it registers nothing: there would be nothing to
// discover.
var Module = module.New("extdisco", Config{CredentialTTL: 86400}, start).WithSection("extdisco")

// Defaults of a [[extdisco.services]] entry without port or transport.
const (
	defaultPort    = 3478
	defaultTLSPort = 5349
)

type service struct {
	h        *module.Host
	settings atomic.Pointer[settings] // replaced whole by a reload
	now      func() time.Time
}

// settings are the parts of Config a reload may change.
type settings struct {
	ttl    time.Duration
	static []module.ExternalService
}

func start(h *module.Host, cfg Config) error {
	static, err := cfg.services()
	if err != nil {
		return err
	}
	if len(static) == 0 && h.ExternalServices() == nil {
		h.Logger().Debug("extdisco disabled: no [turn] and no [[extdisco.services]]")
		return nil
	}
	s := &service{h: h, now: time.Now}
	s.settings.Store(&settings{ttl: time.Duration(cfg.CredentialTTL) * time.Second, static: static})
	h.AddFeature(module.ServerTarget, NS)
	h.HandleIQ(module.ServerTarget, stanza.Get, module.Name(NS, "services"), s.services)
	h.HandleIQ(module.ServerTarget, stanza.Get, module.Name(NS, "credentials"), s.credentials)
	// The services and the TTL change live; only a section that leaves
	// nothing to discover (the feature would go away) needs a restart.
	module.OnReload(h, func(cfg Config) error {
		static, err := cfg.services()
		if err != nil {
			return err
		}
		if len(static) == 0 && h.ExternalServices() == nil {
			return fmt.Errorf("no services left: %w", module.ErrNeedsRestart)
		}
		s.settings.Store(&settings{ttl: time.Duration(cfg.CredentialTTL) * time.Second, static: static})
		return nil
	})
	return nil
}

// Validate reports the first invalid setting of the section (check-config
// calls it without starting the module).
func (c *Config) Validate() error {
	_, err := c.services()
	return err
}

func (c Config) services() ([]module.ExternalService, error) {
	if c.CredentialTTL <= 0 {
		return nil, fmt.Errorf("extdisco.credential_ttl: must be positive")
	}
	var out []module.ExternalService
	for i, sc := range c.Services {
		where := fmt.Sprintf("extdisco.services[%d]", i)
		es := module.ExternalService{Type: sc.Type, Host: sc.Host, Port: sc.Port, Transport: sc.Transport}
		if sc.Secret != "" {
			es.Secret = []byte(sc.Secret)
		}
		switch sc.Type {
		case "stun", "turn":
			if es.Transport == "" {
				es.Transport = "udp"
			}
			if es.Port == 0 {
				es.Port = defaultPort
			}
		case "turns":
			if es.Transport == "" {
				es.Transport = "tcp"
			}
			if es.Port == 0 {
				es.Port = defaultTLSPort
			}
		default:
			return nil, fmt.Errorf("%s.type: %q is not stun, turn or turns", where, sc.Type)
		}
		if es.Transport != "udp" && es.Transport != "tcp" {
			return nil, fmt.Errorf("%s.transport: %q is not udp or tcp", where, sc.Transport)
		}
		if sc.Host == "" {
			return nil, fmt.Errorf("%s.host: missing", where)
		}
		if es.Port < 1 || es.Port > 65535 {
			return nil, fmt.Errorf("%s.port: %d is not a port", where, sc.Port)
		}
		out = append(out, es)
	}
	return out, nil
}

// all returns every service, the server's own first.
func (s *service) all() []module.ExternalService {
	var own []module.ExternalService
	if es := s.h.ExternalServices(); es != nil {
		own = es.ExternalServices(s.h.Domain())
	}
	return slices.Concat(own, s.settings.Load().static)
}

// allowed refuses everyone but the host's own users: credentials open a
// relay that costs the operator bandwidth, and the service list is of no
// use to others.
func (s *service) allowed(req module.IQRequest) error {
	if req.Session == nil || req.From.Local() == "" || req.From.Domain() != s.h.Domain() {
		return stanza.NewError("forbidden")
	}
	return nil
}

// services answers <services/> (XEP-0215 §3.1, §3.2): every service, or
// those of the requested type, with credentials where they take some.
func (s *service) services(_ context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := s.allowed(req); err != nil {
		return nil, err
	}
	typ := req.Payload.Get("type")
	res := stanza.New(NS, "services")
	if typ != "" {
		res.Set("type", typ)
	}
	for _, es := range s.all() {
		if typ == "" || es.Type == typ {
			res.Append(s.element(es, req))
		}
	}
	return res, nil
}

// credentials answers <credentials/> (XEP-0215 §3.3): the services that
// match the host and type (and port, when given) of each requested one.
func (s *service) credentials(_ context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := s.allowed(req); err != nil {
		return nil, err
	}
	wanted := req.Payload.Elements()
	if len(wanted) == 0 {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "no service named"}
	}
	res := stanza.New(NS, "credentials")
	all := s.all()
	for _, w := range wanted {
		if w.Name.Space != NS || w.Name.Local != "service" || w.Get("host") == "" || w.Get("type") == "" {
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "a service needs host and type"}
		}
		port := 0
		if p := w.Get("port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid port"}
			}
			port = n
		}
		for _, es := range all {
			if es.Host == w.Get("host") && es.Type == w.Get("type") && (port == 0 || es.Port == port) {
				res.Append(s.element(es, req))
			}
		}
	}
	if len(res.Children) == 0 {
		return nil, stanza.NewError("item-not-found")
	}
	return res, nil
}

// element returns the <service/> of es, with fresh credentials for the
// requesting user when es has a secret.
func (s *service) element(es module.ExternalService, req module.IQRequest) *stanza.Element {
	el := stanza.New(NS, "service",
		"type", es.Type, "host", es.Host, "port", strconv.Itoa(es.Port), "transport", es.Transport)
	if es.Secret != nil {
		expires := s.now().Add(s.settings.Load().ttl).Truncate(time.Second)
		user, pass := Credentials(es.Secret, req.From.Bare().String(), expires)
		el.Set("restricted", "1")
		el.Set("username", user)
		el.Set("password", pass)
		el.Set("expires", expires.UTC().Format(time.RFC3339))
	}
	return el
}

// Credentials returns TURN REST credentials for user valid until expires:
// the username "<expiry in Unix seconds>:<user>" and the password
// base64(HMAC-SHA1(secret, username)), as coturn's use-auth-secret and
// hearth's built-in TURN server check them.
func Credentials(secret []byte, user string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

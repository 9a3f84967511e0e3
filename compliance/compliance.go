// Package compliance implements a self-test of an XMPP server against
// XEP-0479: XMPP Compliance Suites 2023 (Core, IM, Mobile and Web
// categories, server side, Core and Advanced levels) and the checks of the
// Conversations compliance tester.
//
// Run logs in with an account over the wire, through hearth/client, and
// probes each requirement: it reads stream features, asks service
// discovery, and then exercises the feature (publishes to PEP with
// publish-options, queries the archive, enables carbons and push, joins a
// room, uploads a file, opens a web session...). A feature is only
// reported as present when the probe saw it work. Probes that change the
// account clean up after themselves: scratch PEP nodes are deleted, a
// scratch room is destroyed, push is disabled again. No presence is
// broadcast to the account's contacts.
package compliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"hearth/client"
	"hearth/jid"
)

// Level is a compliance level of XEP-0479.
type Level int

const (
	// LevelCore is the "Core" level: the minimum for a category.
	LevelCore Level = iota
	// LevelAdvanced is the "Advanced" level; it includes Core.
	LevelAdvanced
)

func (l Level) String() string {
	if l == LevelAdvanced {
		return "advanced"
	}
	return "core"
}

// ParseLevel parses "core" or "advanced".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "core":
		return LevelCore, nil
	case "advanced", "":
		return LevelAdvanced, nil
	}
	return 0, fmt.Errorf("compliance: unknown level %q (core or advanced)", s)
}

// DefaultTimeout bounds each probe when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config says which server and account to test.
type Config struct {
	// JID is the account to log in with (a bare JID).
	JID jid.JID
	// Password is the account's password.
	Password string
	// Addr is the STARTTLS client port (host:port). Empty resolves the
	// domain's _xmpp-client._tcp SRV record (RFC 6120 §3.2), falling
	// back to the domain on port 5222.
	Addr string
	// DirectTLSAddr is the direct TLS client port (XEP-0368). Empty
	// resolves the domain's _xmpps-client._tcp SRV record.
	DirectTLSAddr string
	// ComponentAddr is the XEP-0114 component port to probe. Empty leaves
	// the component protocol unchecked (reported as failing, since it
	// cannot be seen from a client connection).
	ComponentAddr string
	// HTTPBase is where the server's web endpoints live, as a URL
	// ("https://example.org"). Empty is https://DOMAIN.
	HTTPBase string
	// Insecure accepts any certificate (self-signed test servers). The
	// certificate check is then reported but not required.
	Insecure bool
	// Level selects which XEP-0479 requirements are required for a
	// passing run (the zero value is LevelCore; the command's default
	// is LevelAdvanced); informational checks never are.
	Level Level
	// Timeout bounds each probe (default DefaultTimeout).
	Timeout time.Duration
}

// Report is the outcome of Run: one Result per check, in table order.
type Report struct {
	Server  string // the address logged in to
	JID     jid.JID
	Level   Level
	Results []Result
}

// Result is the outcome of one check.
type Result struct {
	Check
	// Passed says the probe saw the feature work.
	Passed bool
	// Required says the check counts for the exit status at the
	// report's level.
	Required bool
	// Detail says what the probe saw: evidence on success, the failure
	// otherwise.
	Detail string
}

// OK reports whether every required check passed.
func (r *Report) OK() bool {
	for _, res := range r.Results {
		if res.Required && !res.Passed {
			return false
		}
	}
	return true
}

// Result returns the result of the check with the given ID.
func (r *Report) Result(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return Result{}, false
}

// Run logs in and runs every check. It returns an error only when no
// check can run: the server cannot be reached or the login fails. ctx
// bounds the whole run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.JID.Local() == "" || cfg.JID.Domain() == "" {
		return nil, errors.New("compliance: the JID must be an account (user@domain)")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.JID = cfg.JID.Bare()
	if cfg.Addr == "" {
		cfg.Addr = resolve(ctx, "xmpp-client", cfg.JID.Domain(), 5222)
	}
	if cfg.HTTPBase == "" {
		cfg.HTTPBase = "https://" + cfg.JID.Domain()
	}
	p, err := newProber(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer p.close()
	rep := &Report{Server: cfg.Addr, JID: cfg.JID, Level: cfg.Level}
	for _, c := range Checks() {
		res := Result{Check: c, Required: c.requiredAt(cfg.Level)}
		if c.ID == "certificate" && cfg.Insecure {
			res.Required = false // the operator asked not to verify
		}
		detail, err := runProbe(ctx, c, p)
		if err != nil {
			res.Detail = err.Error()
		} else {
			res.Passed, res.Detail = true, detail
		}
		rep.Results = append(rep.Results, res)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

// runProbe runs one probe within the per-probe timeout. A probe that
// panics (a bug of this package meeting an answer it did not expect)
// fails its check instead of ending the run.
func runProbe(ctx context.Context, c Check, p *prober) (detail string, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			detail, err = "", fmt.Errorf("the probe failed unexpectedly: %v", r)
		}
	}()
	return c.probe(ctx, p)
}

// resolve returns the first target of the SRV record _service._tcp.domain,
// or domain:port when there is none.
func resolve(ctx context.Context, service, domain string, port int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, addrs, err := net.DefaultResolver.LookupSRV(ctx, service, "tcp", domain)
	if err == nil && len(addrs) > 0 && addrs[0].Target != "." {
		return net.JoinHostPort(trimDot(addrs[0].Target), strconv.Itoa(int(addrs[0].Port)))
	}
	return net.JoinHostPort(domain, strconv.Itoa(port))
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// clientConfig is the login configuration shared by every session of a
// run.
func (cfg Config) clientConfig(keys *client.KeyCache, resource string) client.Config {
	return client.Config{
		Addr:     cfg.Addr,
		JID:      cfg.JID,
		Password: cfg.Password,
		Resource: resource,
		Insecure: cfg.Insecure,
		Keys:     keys,
		Timeout:  cfg.Timeout,
	}
}

// httpClient returns the client for the web and upload probes.
func (p *prober) httpClient() *http.Client {
	return p.http
}

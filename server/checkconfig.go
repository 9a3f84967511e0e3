package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"hearth/config"
	"hearth/jid"
	"hearth/mod"
	"hearth/module"
)

// certExpiryWarning is how long before a certificate expires CheckConfig
// starts warning about it.
const certExpiryWarning = 14 * 24 * time.Hour

// CheckConfig checks cfg as New would, without opening storage or
// listeners and without generating certificates: the core settings that
// config.Parse cannot check alone, every module's section (mods, nil
// meaning mod.All()), and the certificate files, which must load.
//
// Each problem is something New would refuse. Warnings are what works but
// probably should not be so: a certificate that does not cover a host or
// expires soon, self-signed certificates that clients will not trust, an
// [upload] section without a web listener, or web clients left with plain
// http only.
func CheckConfig(cfg *config.File, mods []*module.Definition) (warnings []string, problems []error) {
	if mods == nil {
		mods = mod.All()
	}
	problems = append(problems, coreProblems(cfg)...)
	if _, err := decodeModules(cfg, mods); err != nil {
		problems = append(problems, err)
	}
	if cfg.Section("upload") != nil && len(cfg.Listen.HTTP) == 0 && len(cfg.Listen.HTTPS) == 0 {
		warnings = append(warnings, "upload: there is no [listen] http or https listener, so file upload is off")
	}
	if len(cfg.Listen.HTTP) > 0 && len(cfg.Listen.HTTPS) == 0 && !cfg.HTTP.BehindProxy {
		warnings = append(warnings, "listen.http: without https or [http] behind_proxy, web clients cannot log in (plain-http WebSocket and BOSH are refused)")
	}
	w, p := checkCerts(cfg.Config)
	return append(warnings, w...), append(problems, p...)
}

// checkCore returns the problems of the core settings that config.Parse
// does not check, joined (nil when there are none).
func checkCore(cfg *config.File) error {
	return errors.Join(coreProblems(cfg)...)
}

func coreProblems(cfg *config.File) []error {
	var problems []error
	for _, t := range cfg.Log.Trace {
		j, err := jid.Parse(t)
		if err != nil || j.Local() == "" || !j.IsBare() {
			problems = append(problems, fmt.Errorf("log.trace: %q is not an account address (user@domain)", t))
		}
	}
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"c2s", cfg.Listen.C2S}, {"c2s_tls", cfg.Listen.C2STLS}, {"s2s", cfg.Listen.S2S}, {"s2s_tls", cfg.Listen.S2STLS}, {"component", cfg.Listen.Component}, {"metrics", cfg.Listen.Metrics}, {"http", cfg.Listen.HTTP}, {"https", cfg.Listen.HTTPS}} {
		for _, a := range l.addrs {
			_, port, err := net.SplitHostPort(a)
			if err == nil {
				_, err = net.LookupPort("tcp", port)
			}
			if err != nil {
				problems = append(problems, fmt.Errorf("listen.%s: %q is not an address (host:port, or :port for every interface)", l.key, a))
			}
		}
	}
	if t := cfg.TURN; t.Enabled {
		for _, l := range []struct {
			key   string
			addrs []string
		}{{"udp", t.UDP}, {"tcp", t.TCP}, {"tls", t.TLS}} {
			for _, a := range l.addrs {
				if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
					problems = append(problems, fmt.Errorf("turn.%s: %q is not an address (host:port, or :port for every interface)", l.key, a))
				}
			}
		}
	}
	if _, err := s2sRoots(cfg.S2S.CAFile); err != nil {
		problems = append(problems, err)
	}
	return problems
}

// decodeModules checks that each module's requirements come before it and
// decodes every module's section; it returns the decoded configurations in
// the order of mods. A section no module claims, or a key in a section
// that its module did not decode, is an error.
func decodeModules(cfg *config.File, mods []*module.Definition) ([]any, error) {
	var claimed []string
	configs := make([]any, len(mods))
	for i, d := range mods {
		for _, req := range d.Requires {
			if !slices.ContainsFunc(mods[:i], func(m *module.Definition) bool { return m.Name == req }) {
				return nil, fmt.Errorf("module %s requires %s, which is not loaded before it", d.Name, req)
			}
		}
		var dec module.Decoder
		if d.Section != "" {
			claimed = append(claimed, d.Section)
			if sec := cfg.Section(d.Section); sec != nil {
				dec = sec
			}
		}
		c, err := d.DecodeConfig(dec)
		if err != nil {
			return nil, &ConfigError{err}
		}
		// A module whose settings can be wrong on their own says so here,
		// so that check-config finds it without starting the module.
		if v, ok := c.(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				return nil, &ConfigError{err}
			}
		}
		configs[i] = c
	}
	if err := cfg.Check(claimed); err != nil {
		return nil, &ConfigError{err}
	}
	return configs, nil
}

// checkCerts loads the certificates the [tls] section names, as
// certs.Load does, and checks that they cover the hosts and are valid now.
func checkCerts(cfg config.Config) (warnings []string, problems []error) {
	switch {
	case cfg.TLS.Cert != "":
		c, err := loadPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			return nil, []error{err}
		}
		return certWarnings(c, cfg.TLS.Cert, cfg.Hosts), nil
	case cfg.TLS.Dir != "":
		for _, h := range cfg.Hosts {
			c, err := loadFromDir(cfg.TLS.Dir, h)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			warnings = append(warnings, certWarnings(c, "tls.dir's certificate for "+h, []string{h})...)
		}
		return warnings, problems
	case cfg.ACME.Enabled:
		return nil, nil
	default:
		w := fmt.Sprintf("tls: no certificate configured; hearth uses self-signed certificates from %s, which clients will ask their users to trust", cfg.DataDir+"/certs")
		if len(cfg.Listen.S2S) > 0 || len(cfg.Listen.S2STLS) > 0 {
			w += ", and which other servers accept only by dialback (many refuse it)"
		}
		return []string{w}, nil
	}
}

// certWarnings says which of hosts c does not cover and whether c has
// expired or expires soon; name says where c came from.
func certWarnings(c *tls.Certificate, name string, hosts []string) []string {
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return []string{fmt.Sprintf("tls: %s: %v", name, err)}
		}
	}
	var warnings []string
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			warnings = append(warnings, fmt.Sprintf("tls: %s does not cover %s (it names %s)", name, h, certNames(leaf)))
		}
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		warnings = append(warnings, fmt.Sprintf("tls: %s expired on %s", name, leaf.NotAfter.Format(time.DateOnly)))
	case now.Add(certExpiryWarning).After(leaf.NotAfter):
		warnings = append(warnings, fmt.Sprintf("tls: %s expires on %s", name, leaf.NotAfter.Format(time.DateOnly)))
	case now.Before(leaf.NotBefore):
		warnings = append(warnings, fmt.Sprintf("tls: %s is not valid before %s", name, leaf.NotBefore.Format(time.DateOnly)))
	}
	return warnings
}

func certNames(c *x509.Certificate) string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, "only the common name "+c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no host"
	}
	return strings.Join(names, ", ")
}

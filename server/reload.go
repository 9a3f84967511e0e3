package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hearth/certs"
	"hearth/config"
	"hearth/module"
	"hearth/stream"
)

// liveConfig is what Reload changes while the server runs. Connections
// read it when they are accepted; sessions already running keep the
// settings they started with (their limits, their trace logger).
// Certificates live in Server.certs (certs.Store), which every TLS
// configuration reads at each handshake, so a reload, a changed file or
// an ACME renewal reaches the next handshake everywhere.
type liveConfig struct {
	// mu serialises Reload and the setup of stream settings in Serve; it
	// guards Server.cfg against concurrent replacement. Lock order:
	// live.mu before Server.mu.
	mu sync.Mutex
	// stream holds the settings of new connections, by direct TLS.
	stream map[bool]*atomic.Pointer[stream.C2SConfig]
	// tls are the TLS configurations by direct TLS, made once so that
	// session tickets survive reloads. Guarded by mu.
	tls map[bool]*tls.Config
}

func (l *liveConfig) init() {
	if l.stream == nil {
		l.stream = map[bool]*atomic.Pointer[stream.C2SConfig]{false: {}, true: {}}
		l.tls = map[bool]*tls.Config{}
	}
}

// tlsConfig returns the server TLS configuration of a listener kind. Its
// certificate is looked up at each handshake in the current set. Caller
// holds s.live.mu.
func (s *Server) tlsConfig(direct bool, alpn []string) *tls.Config {
	if tc := s.live.tls[direct]; tc != nil {
		return tc
	}
	tc := s.liveTLS(alpn...)
	s.live.tls[direct] = tc
	return tc
}

// liveTLS returns a server TLS configuration whose certificate is looked
// up in the certificate store at each handshake.
func (s *Server) liveTLS(alpn ...string) *tls.Config { return s.certs.TLSConfig(alpn...) }

// ReloadResult says what a Reload changed and what it could not.
type ReloadResult struct {
	// Applied lists the changes in effect, one line each ("limits.
	// max_stanza_size: 262144 -> 65536"). Certificates are always
	// reloaded and listed.
	Applied []string
	// NeedsRestart lists the settings that changed in the file but keep
	// their old value until hearth restarts.
	NeedsRestart []string
}

// Reload re-reads the configuration file at path ("" is the file the
// server was started with) and applies what can change while serving,
// without dropping sessions:
//
//   - certificates are loaded again (a renewed certificate is used from
//     the next TLS handshake on);
//   - [limits] apply to connections accepted from now on, the
//     authentication throttle at once;
//   - [log] level and levels apply at once to every logger, [log] trace to
//     new connections;
//   - a module section that decodes differently is handed to the module
//     when it registered a reload function (module.OnReload), on every
//     host.
//
// Everything else that changed (hosts, data_dir, listeners, storage,
// auth, stream management, log format, sections of modules that cannot
// apply them live) is reported in NeedsRestart and keeps its old value. A file that does not load, or
// whose certificates or module sections are wrong, is an error and
// nothing changes. Reload logs each change on the "server" subsystem.
// A failed reload is logged too. Call it after Listen; it is safe to call
// while serving, and concurrently with itself.
func (s *Server) Reload(path string) (ReloadResult, error) {
	res, err := s.reload(path)
	if err != nil {
		s.log.Error("reload failed, the running configuration stays", "err", err)
	}
	return res, err
}

func (s *Server) reload(path string) (ReloadResult, error) {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	old := s.cfg
	if path == "" {
		path = old.Path
	}
	if path == "" {
		return ReloadResult{}, errors.New("reload: the server runs on built-in defaults, there is no file to read")
	}
	next, err := config.Load(path)
	if err != nil {
		return ReloadResult{}, &ConfigError{fmt.Errorf("reload: %w", err)}
	}
	if err := checkCore(next); err != nil {
		return ReloadResult{}, &ConfigError{fmt.Errorf("reload: %w", err)}
	}
	modConfigs, err := decodeModules(next, s.mods)
	if err != nil {
		return ReloadResult{}, &ConfigError{fmt.Errorf("reload: %w", err)}
	}
	// Certificates for the hosts and data_dir in use: those do not change
	// until a restart.
	// With ACME the certificates are its own: a reload keeps them.
	certCfg := next.Config
	certCfg.Hosts, certCfg.DataDir = old.Hosts, old.DataDir
	var loaded *certs.Store
	var pairs []certs.Pair
	if !next.ACME.Enabled && !old.ACME.Enabled {
		if loaded, pairs, err = certs.Load(certCfg); err != nil {
			return ReloadResult{}, &ConfigError{fmt.Errorf("reload: %w", err)}
		}
	}

	var res ReloadResult
	applied := *old // the running configuration, with what is applied
	applied.Path = path
	applied.TLS = next.TLS
	// The TLS configurations are made once (session tickets survive
	// reloads): their key exchange groups wait for a restart.
	applied.TLS.Curves = old.TLS.Curves
	if loaded != nil {
		res.Applied = append(res.Applied, "tls: certificates reloaded"+certChanges(s.certs, loaded, old.Hosts))
	}
	res.Applied = append(res.Applied, diff("limits", old.Limits, next.Limits)...)
	applied.Limits = next.Limits
	// [s2s]: the limits on other servers' streams apply at once; the
	// rest (certificates, timeouts, static routes) at the next start.
	oldS2S, nextS2S := old.S2S, next.S2S
	if s.s2s != nil {
		oldLim, oldRest := splitS2S(old.S2S)
		nextLim, nextRest := splitS2S(next.S2S)
		res.Applied = append(res.Applied, diff("s2s", oldLim, nextLim)...)
		applied.S2S = joinS2S(nextLim, oldRest)
		oldS2S, nextS2S = oldRest, nextRest
	}
	logApplied := diff("log", config.Log{Level: old.Log.Level, Levels: old.Log.Levels, Trace: old.Log.Trace},
		config.Log{Level: next.Log.Level, Levels: next.Log.Levels, Trace: next.Log.Trace})
	res.Applied = append(res.Applied, logApplied...)
	applied.Log.Level, applied.Log.Levels, applied.Log.Trace = next.Log.Level, next.Log.Levels, next.Log.Trace

	for _, part := range []struct {
		name     string
		old, new any
	}{
		{"hosts", old.Hosts, next.Hosts},
		{"data_dir", old.DataDir, next.DataDir},
		{"listen", old.Listen, next.Listen},
		{"storage", old.Storage, next.Storage},
		{"auth", old.Auth, next.Auth},
		{"stream_management", old.StreamManagement, next.StreamManagement},
		{"log.format", old.Log.Format, next.Log.Format},
		{"turn", old.TURN, next.TURN},
		{"s2s", oldS2S, nextS2S},
		{"tls.curves", old.TLS.Curves, next.TLS.Curves},
		{"memory", old.Memory, next.Memory},
	} {
		res.NeedsRestart = append(res.NeedsRestart, diff(part.name, part.old, part.new)...)
	}
	var changedMods []int
	for i := range s.mods {
		if !reflect.DeepEqual(s.modConfigs[i], modConfigs[i]) {
			changedMods = append(changedMods, i)
		}
	}

	// Apply: nothing below can fail.
	if loaded != nil {
		for _, d := range loaded.Domains() {
			s.certs.Set(d, loaded.Get(d))
		}
		s.certPairs = pairs
	}
	s.cfg = &applied
	s.throttle.set(applied.Limits.AuthFailuresPerIP, time.Duration(applied.Limits.AuthFailureWindow)*time.Second)
	s.connLimit.set(applied.Limits)
	if s.s2s != nil {
		s.s2s.SetInboundLimits(s2sInboundLimits(applied.S2S))
	}
	if len(logApplied) > 0 && !setLevels(s.rootLog, applied.Log) {
		res.NeedsRestart = append(res.NeedsRestart, "log: levels of a logger hearth did not make")
	}
	for _, i := range changedMods {
		name := "module " + s.mods[i].Name
		if err := s.reloadModule(i, modConfigs[i]); err != nil {
			if errors.Is(err, module.ErrNeedsRestart) {
				res.NeedsRestart = append(res.NeedsRestart, name+": settings changed")
			} else {
				res.NeedsRestart = append(res.NeedsRestart, name+": not applied: "+err.Error())
			}
			continue
		}
		s.modConfigs[i] = modConfigs[i]
		res.Applied = append(res.Applied, name+": settings reloaded")
	}
	for direct, p := range s.live.stream {
		if p.Load() != nil {
			p.Store(new(s.c2sConfig(direct)))
		}
	}
	for _, line := range res.Applied {
		s.log.Info("reload: applied", "change", line)
	}
	for _, line := range res.NeedsRestart {
		s.log.Warn("reload: needs a restart", "change", line)
	}
	s.log.Info("configuration reloaded", "file", path, "applied", len(res.Applied), "needs_restart", len(res.NeedsRestart))
	return res, nil
}

// splitS2S splits [s2s] into the limits on other servers' streams,
// which a reload applies, and the rest, which needs a restart.
func splitS2S(c config.S2S) (limits, rest config.S2S) {
	limits = config.S2S{
		StreamsPerIP: c.StreamsPerIP, StreamsPerDomain: c.StreamsPerDomain,
		BytesPerSecond: c.BytesPerSecond, BurstBytes: c.BurstBytes,
		StanzasPerSecond: c.StanzasPerSecond, BurstStanzas: c.BurstStanzas,
	}
	rest = joinS2S(config.S2S{}, c)
	return limits, rest
}

// joinS2S returns rest with the limits of limits (see splitS2S).
func joinS2S(limits, rest config.S2S) config.S2S {
	rest.StreamsPerIP, rest.StreamsPerDomain = limits.StreamsPerIP, limits.StreamsPerDomain
	rest.BytesPerSecond, rest.BurstBytes = limits.BytesPerSecond, limits.BurstBytes
	rest.StanzasPerSecond, rest.BurstStanzas = limits.StanzasPerSecond, limits.BurstStanzas
	return rest
}

// reloadModule gives module i its new configuration on every host. A
// module that cannot apply it returns the error of the first host that
// refused (they all run the same configuration).
func (s *Server) reloadModule(i int, cfg any) error {
	for _, h := range s.modHosts[i] {
		if err := h.Reload(cfg); err != nil {
			return err
		}
	}
	return nil
}

// certChanges says for which hosts the certificate differs.
func certChanges(old, cur *certs.Store, hosts []string) string {
	var changed []string
	for _, h := range hosts {
		a, b := old.Get(h), cur.Get(h)
		if a == nil || b == nil || len(a.Certificate) == 0 || len(b.Certificate) == 0 ||
			!bytes.Equal(a.Certificate[0], b.Certificate[0]) {
			changed = append(changed, h)
		}
	}
	if len(changed) == 0 {
		return " (unchanged)"
	}
	return fmt.Sprintf(" (new for %v)", changed)
}

// diff lists the fields of two values of the same configuration type
// that differ, as "name.key: old -> new" with the TOML key names; values
// that are not structs are compared whole.
func diff(name string, old, cur any) []string {
	a, b := reflect.ValueOf(old), reflect.ValueOf(cur)
	if a.Kind() != reflect.Struct {
		if reflect.DeepEqual(old, cur) || (isEmpty(a) && isEmpty(b)) {
			return nil
		}
		if strings.HasPrefix(name, "storage.") || name == "turn.secret" {
			// A DSN may hold a password, and a secret is one: say what
			// changed, not how.
			return []string{name + ": changed"}
		}
		return []string{fmt.Sprintf("%s: %v -> %v", name, show(a), show(b))}
	}
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		key := f.Tag.Get("toml")
		if key == "" {
			key = f.Name
		}
		out = append(out, diff(name+"."+key, a.Field(i).Interface(), b.Field(i).Interface())...)
	}
	return out
}

// isEmpty treats nil and empty slices and maps alike.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return false
}

// show prints a configuration value; maps with sorted keys.
func show(v reflect.Value) string {
	if v.Kind() != reflect.Map {
		return fmt.Sprint(v.Interface())
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%v=%v", k.Interface(), v.MapIndex(k).Interface()))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// set changes the throttle's bounds; failures already counted stay.
func (t *authThrottle) set(max int, window time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.max, t.window = max, window
}

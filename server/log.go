package server

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"

	"hearth/config"
	"hearth/jid"
	"hearth/stream"
)

// NewLogger returns the logger the [log] settings describe, writing to w.
// Loggers derived from it with a "subsystem" attribute (With("subsystem",
// "stream")) log at that subsystem's level from [log] levels, and the
// others at [log] level. The levels can change later (Server.Reload); the
// format cannot.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	// The inner handler lets everything through; levelHandler decides
	// per subsystem, with levels that a reload may lower.
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var h slog.Handler
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	st := &levelState{}
	st.set(cfg, true)
	return slog.New(&levelHandler{inner: h, state: st})
}

// withLevels applies the per-subsystem levels of cfg to a logger the
// caller supplied (Options.Log): subsystems listed in [log] levels (and
// "trace" when [log] trace is set) log at their level, the others at
// whatever log's own handler enables.
func withLevels(log *slog.Logger, cfg config.Log) *slog.Logger {
	st := &levelState{}
	st.set(cfg, false)
	return slog.New(&levelHandler{inner: log.Handler(), state: st})
}

// levelState holds the levels of every logger derived from one root, so
// that a reload changes them all at once.
type levelState struct {
	p atomic.Pointer[levels]
}

type levels struct {
	bySubsystem map[string]slog.Level // read-only once stored
	// def is the level of loggers whose subsystem has none; nil lets the
	// inner handler decide (a logger given in Options.Log).
	def slog.Leveler
}

// set stores the levels of cfg; withDefault says whether [log] level
// applies to subsystems without their own level.
func (st *levelState) set(cfg config.Log, withDefault bool) {
	l := &levels{bySubsystem: subsystemLevels(cfg)}
	if withDefault {
		l.def = parseLevel(cfg.Level)
	}
	st.p.Store(l)
}

// setLevels changes the levels of every logger derived from log, when it
// was made by NewLogger or withLevels; it reports whether it could.
func setLevels(log *slog.Logger, cfg config.Log) bool {
	h, ok := log.Handler().(*levelHandler)
	if !ok {
		return false
	}
	h.state.set(cfg, h.state.p.Load().def != nil)
	return true
}

// subsystemLevels returns the levels of [log] levels; tracing makes the
// "trace" subsystem log at debug level unless levels says otherwise.
func subsystemLevels(cfg config.Log) map[string]slog.Level {
	levels := map[string]slog.Level{}
	for sub, l := range cfg.Levels {
		levels[sub] = parseLevel(l)
	}
	if _, ok := levels["trace"]; !ok && len(cfg.Trace) > 0 {
		levels["trace"] = slog.LevelDebug
	}
	return levels
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(s)) // config.validate accepted it
	return l
}

// levelHandler filters records by the level of the logger's subsystem: the
// value of the last top-level "subsystem" attribute added with WithAttrs,
// looked up in the shared state at each call.
type levelHandler struct {
	inner     slog.Handler
	state     *levelState
	subsystem string
	grouped   bool // attributes now go into a group, not the top level
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	st := h.state.p.Load()
	if lv, ok := st.bySubsystem[h.subsystem]; ok && h.subsystem != "" {
		return l >= lv
	}
	if st.def == nil {
		return h.inner.Enabled(ctx, l)
	}
	return l >= st.def.Level()
}

// Handle hands r to the inner handler without asking its Enabled again:
// the inner handler's own level is debug (NewLogger), or the subsystem's
// level deliberately overrides it (withLevels).
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.inner = h.inner.WithAttrs(attrs)
	if !h.grouped {
		for _, a := range attrs {
			if a.Key == "subsystem" {
				n.subsystem = a.Value.String()
			}
		}
	}
	return &n
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.inner = h.inner.WithGroup(name)
	n.grouped = n.grouped || name != ""
	return &n
}

// logFor returns the logger of a subsystem (config.Subsystems).
func (s *Server) logFor(subsystem string) *slog.Logger {
	return s.rootLog.With("subsystem", subsystem)
}

// traceFunc returns the stream.TraceFunc of [log] trace, or nil when no
// account is traced. The stanzas of a traced account, bodies included, go
// to the "trace" subsystem at debug level: the one place where message
// bodies are logged, on the operator's explicit request.
func (s *Server) traceFunc() stream.TraceFunc {
	if len(s.cfg.Log.Trace) == 0 {
		return nil
	}
	traced := map[jid.JID]bool{}
	for _, t := range s.cfg.Log.Trace {
		if j, err := jid.Parse(t); err == nil { // checkCore refused the others
			traced[j.Bare()] = true
		}
	}
	log := s.logFor("trace")
	return func(bare jid.JID) *slog.Logger {
		if !traced[bare] {
			return nil
		}
		return log.With("jid", bare.String())
	}
}

package server

import (
	"context"
	"io"
	"log/slog"

	"hearth/config"
	"hearth/jid"
	"hearth/stream"
)

// NewLogger returns the logger the [log] settings describe, writing to w.
// Loggers derived from it with a "subsystem" attribute (With("subsystem",
// "stream")) log at that subsystem's level from [log] levels, and the
// others at [log] level.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	levels := subsystemLevels(cfg)
	def := parseLevel(cfg.Level)
	lowest := def
	for _, l := range levels {
		lowest = min(lowest, l)
	}
	// The inner handler lets everything the most verbose subsystem wants
	// through; levelHandler decides per subsystem.
	opts := &slog.HandlerOptions{Level: lowest}
	var h slog.Handler
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(&levelHandler{inner: h, levels: levels, level: def})
}

// withLevels applies the per-subsystem levels of cfg to a logger the
// caller supplied (Options.Log): subsystems listed in [log] levels (and
// "trace" when [log] trace is set) log at their level, the others at
// whatever log's own handler enables.
func withLevels(log *slog.Logger, cfg config.Log) *slog.Logger {
	return slog.New(&levelHandler{inner: log.Handler(), levels: subsystemLevels(cfg)})
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
// value of the last top-level "subsystem" attribute added with WithAttrs.
type levelHandler struct {
	inner  slog.Handler
	levels map[string]slog.Level // by subsystem; read-only
	// level is the current minimum; nil lets inner decide.
	level   slog.Leveler
	grouped bool // attributes now go into a group, not the top level
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if h.level == nil {
		return h.inner.Enabled(ctx, l)
	}
	return l >= h.level.Level()
}

// Handle hands r to the inner handler without asking its Enabled again:
// the inner handler's own level is at most the lowest subsystem level
// (NewLogger), or the subsystem's level deliberately overrides it
// (withLevels).
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.inner = h.inner.WithAttrs(attrs)
	if !h.grouped {
		for _, a := range attrs {
			if a.Key != "subsystem" {
				continue
			}
			if l, ok := h.levels[a.Value.String()]; ok {
				n.level = l
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

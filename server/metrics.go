package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hearth/s2s"
	"hearth/storage"
	"hearth/stream"
)

// Timeouts of the metrics listener.
const (
	// healthTimeout bounds the storage ping of one /health request.
	healthTimeout = 5 * time.Second
	// metricsReadHeaderTimeout bounds how long a scraper may take to send
	// its request headers.
	metricsReadHeaderTimeout = 10 * time.Second
)

// metrics holds the server's own Prometheus registry (never the global
// one, so that tests and embedders may run several servers) and the
// instruments that listeners, streams and storage feed. docs/metrics.md
// lists every metric. All methods are safe for concurrent use.
type metrics struct {
	reg *prometheus.Registry

	accepted      *prometheus.CounterVec   // listener
	stanzasIn     *prometheus.CounterVec   // type, kind
	stanzasOut    *prometheus.CounterVec   // type, kind
	auth          *prometheus.CounterVec   // mechanism, result
	queueBytes    *prometheus.HistogramVec // type
	storageTime   *prometheus.HistogramVec // op
	storageErrors *prometheus.CounterVec   // op
	s2sBounces    *prometheus.CounterVec   // condition

	http *http.Server
	up   atomic.Bool // listeners are serving (between Serve and Shutdown)
}

func newMetrics(sessions func() int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_connections_accepted_total",
			Help: "Connections accepted, by listener.",
		}, []string{"listener"}),
		stanzasIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_stanzas_received_total",
			Help: "Stanzas read from bound streams, by stream type and stanza kind.",
		}, []string{"type", "kind"}),
		stanzasOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_stanzas_sent_total",
			Help: "Stanzas queued for bound streams, by stream type and stanza kind.",
		}, []string{"type", "kind"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_auth_attempts_total",
			Help: "Finished SASL exchanges, by mechanism and result (success, failure).",
		}, []string{"mechanism", "result"}),
		queueBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hearth_output_queue_bytes",
			Help:    "Bytes waiting in a stream's output queue when the write loop takes them.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 8), // 256 B .. 4 MiB
		}, []string{"type"}),
		storageTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hearth_storage_duration_seconds",
			Help:    "Latency of storage operations, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), // 100 µs .. 6.5 s
		}, []string{"op"}),
		storageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_storage_errors_total",
			Help: "Storage operations that failed (not found and already exists are not failures), by operation.",
		}, []string{"op"}),
		s2sBounces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hearth_s2s_bounces_total",
			Help: "Stanzas bounced because a remote server or a component could not take them, by error condition.",
		}, []string{"condition"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.accepted, m.stanzasIn, m.stanzasOut, m.auth, m.queueBytes, m.storageTime, m.storageErrors, m.s2sBounces,
		// Read from the router at scrape time; s2s, websocket and bosh
		// sessions will be further gauges with their own type label.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hearth_sessions",
			Help:        "Bound sessions, by type.",
			ConstLabels: prometheus.Labels{"type": "c2s"},
		}, func() float64 { return float64(sessions()) }),
	)
	// Series that exist from the start read 0 rather than missing.
	for _, l := range []string{"c2s", "c2s_tls"} {
		m.accepted.WithLabelValues(l)
	}
	for _, c := range s2sBounceConditions {
		m.s2sBounces.WithLabelValues(c)
	}
	for _, k := range []string{"message", "presence", "iq"} {
		m.stanzasIn.WithLabelValues("c2s", k)
		m.stanzasOut.WithLabelValues("c2s", k)
	}
	return m
}

// initMetrics creates the registry when [listen] metrics is set and
// instruments the store. Without a metrics listener nothing is counted.
func (s *Server) initMetrics() {
	if len(s.cfg.Listen.Metrics) == 0 {
		return
	}
	s.metrics = newMetrics(func() int { return s.router.SessionCount() })
	if s.cfg.TURN.Enabled {
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hearth_turn_allocations",
			Help: "Relays open on the built-in TURN server.",
		}, func() float64 {
			if srv := s.turn.Load(); srv != nil {
				return float64(srv.Allocations())
			}
			return 0
		}))
	}
	s.store = &instrumentedStore{Store: s.store, m: s.metrics}
}

// connectionAccepted counts a connection accepted on a client listener.
// It does nothing on a nil *metrics.
func (m *metrics) connectionAccepted(directTLS bool) {
	if m == nil {
		return
	}
	if directTLS {
		m.accepted.WithLabelValues("c2s_tls").Inc()
	} else {
		m.accepted.WithLabelValues("c2s").Inc()
	}
}

// c2s returns what client streams report to, or nil (no metrics) on a nil
// *metrics: a nil *c2sMetrics must not become a non-nil interface.
func (m *metrics) c2s() stream.Metrics {
	if m == nil {
		return nil
	}
	c := &c2sMetrics{m: m, queue: m.queueBytes.WithLabelValues("c2s"), in: map[string]prometheus.Counter{}, out: map[string]prometheus.Counter{}}
	for _, k := range []string{"message", "presence", "iq"} {
		c.in[k] = m.stanzasIn.WithLabelValues("c2s", k)
		c.out[k] = m.stanzasOut.WithLabelValues("c2s", k)
	}
	return c
}

// c2sMetrics implements stream.Metrics for client streams; its maps are
// read-only after creation.
type c2sMetrics struct {
	m       *metrics
	queue   prometheus.Observer
	in, out map[string]prometheus.Counter
}

var _ stream.Metrics = (*c2sMetrics)(nil)

func (c *c2sMetrics) StanzaIn(kind string) {
	if ctr := c.in[kind]; ctr != nil {
		ctr.Inc()
	}
}

func (c *c2sMetrics) StanzaOut(kind string) {
	if ctr := c.out[kind]; ctr != nil {
		ctr.Inc()
	}
}

func (c *c2sMetrics) Auth(mechanism string, ok bool) {
	result := "failure"
	if ok {
		result = "success"
	}
	c.m.auth.WithLabelValues(mechanism, result).Inc()
}

func (c *c2sMetrics) QueueBytes(n int) { c.queue.Observe(float64(n)) }

// s2sBounceConditions are the conditions s2s bounces with.
var s2sBounceConditions = []string{"remote-server-not-found", "remote-server-timeout", "resource-constraint", "service-unavailable"}

// s2s returns what the s2s Pool reports to, or nil (no metrics) on a nil
// *metrics; streams is read at scrape time.
func (m *metrics) s2s(listeners []string, streams func() (in, out int)) s2s.Metrics {
	if m == nil {
		return nil
	}
	for _, l := range listeners {
		m.accepted.WithLabelValues(l)
	}
	for _, dir := range []string{"in", "out"} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hearth_s2s_streams",
			Help:        "Server-to-server streams: inbound ones authenticated, outbound ones ready.",
			ConstLabels: prometheus.Labels{"direction": dir},
		}, func() float64 {
			in, out := streams()
			if dir == "in" {
				return float64(in)
			}
			return float64(out)
		}))
	}
	return s2sMetrics{m}
}

// s2sMetrics implements s2s.Metrics.
type s2sMetrics struct{ m *metrics }

var _ s2s.Metrics = s2sMetrics{}

func (s s2sMetrics) Accepted(listener string) { s.m.accepted.WithLabelValues(listener).Inc() }

func (s s2sMetrics) Bounced(condition string) {
	if slices.Contains(s2sBounceConditions, condition) {
		s.m.s2sBounces.WithLabelValues(condition).Inc()
	}
}

// serveMetrics serves /metrics and /health on ln until Shutdown.
func (s *Server) serveMetrics(ln net.Listener) {
	log := s.logFor("metrics")
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          s.metrics.reg, // counts its own scrape errors
	}))
	mux.HandleFunc("/health", s.health)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: metricsReadHeaderTimeout}
	s.mu.Lock()
	s.metrics.http = srv
	s.mu.Unlock()
	s.metrics.up.Store(true)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("metrics listener failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// stopMetrics marks the server down and closes the metrics listener and
// its connections.
func (s *Server) stopMetrics() {
	if s.metrics == nil {
		return
	}
	s.metrics.up.Store(false)
	s.mu.Lock()
	srv := s.metrics.http
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// health answers 200 "ok" while the listeners are serving and storage
// answers, and 503 with the reason otherwise.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !s.metrics.up.Load() {
		http.Error(w, "listeners are not serving", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := pingStore(ctx, s.store); err != nil {
		s.logFor("metrics").Warn("health check: storage does not answer", "err", err)
		http.Error(w, "storage does not answer", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// pinger is the optional capability of a store that checks its connection.
type pinger interface {
	Ping(ctx context.Context) error
}

// pingStore checks that st answers: with its Ping when it has one, or
// else by reading one small value (absent or present, both are answers).
// An instrumented store is pinged underneath, so that health checks do
// not show in the storage latencies.
func pingStore(ctx context.Context, st storage.Store) error {
	if is, ok := st.(*instrumentedStore); ok {
		st = is.Store
	}
	if p, ok := st.(pinger); ok {
		return p.Ping(ctx)
	}
	_, err := st.Map("server").Get(ctx, "server", "health")
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

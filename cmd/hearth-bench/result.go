package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// header holds the fields every JSON line has (see the command's doc).
type header struct {
	Tool      string  `json:"tool"`
	Scenario  string  `json:"scenario"`
	Label     string  `json:"label"`
	Addr      string  `json:"addr"`
	Domain    string  `json:"domain"`
	TLS       string  `json:"tls"`
	Mechanism string  `json:"mech"`
	ServerPID int     `json:"server_pid"`
	Started   string  `json:"started"`
	ElapsedS  float64 `json:"elapsed_s"`
	BenchCPUS float64 `json:"bench_cpu_s"`
	OK        int64   `json:"ok"`
	Errors    int64   `json:"errors"`
	Error     string  `json:"error"`
}

func (h *header) base() *header { return h }

// result is the JSON line of one scenario: a struct embedding header.
type result interface{ base() *header }

type provisionResult struct {
	header
	N           int     `json:"n"`
	Concurrency int     `json:"c"`
	Registered  int64   `json:"registered"`
	Existing    int64   `json:"existing"`
	PerS        float64 `json:"per_s"`
}

type loginResult struct {
	header
	N             int      `json:"n"`
	Concurrency   int      `json:"c"`
	LoginsPerS    float64  `json:"logins_per_s"`
	BoundP50MS    float64  `json:"bound_p50_ms"`
	BoundP99MS    float64  `json:"bound_p99_ms"`
	ReadyP50MS    float64  `json:"ready_p50_ms"`
	ReadyP99MS    float64  `json:"ready_p99_ms"`
	CPUMSPerLogin *float64 `json:"cpu_ms_per_login"`
}

type idleResult struct {
	header
	N             int      `json:"n"`
	Concurrency   int      `json:"c"`
	Sessions      int64    `json:"sessions"`
	RSSBeforeKiB  *int64   `json:"rss_before_kib"`
	RSSAfterKiB   *int64   `json:"rss_after_kib"`
	KiBPerSession *float64 `json:"kib_per_session"`
}

// flow holds the fields of the scenarios that measure a stream of
// messages (chat, muc).
type flow struct {
	Senders       int      `json:"senders"`
	Window        int      `json:"window"`
	Size          int      `json:"size"`
	DurationS     float64  `json:"duration_s"`
	Sent          int64    `json:"sent"`
	Delivered     int64    `json:"delivered"`
	DeliveredPerS float64  `json:"delivered_per_s"`
	LatP50MS      float64  `json:"latency_p50_ms"`
	LatP99MS      float64  `json:"latency_p99_ms"`
	LatP999MS     float64  `json:"latency_p999_ms"`
	CPUSPer100k   *float64 `json:"cpu_s_per_100k"`
	// BenchCPUSPer100k is hearth-bench's own CPU time per 100k delivered
	// in the window: when it is above the server's, the load generator
	// saturates first.
	BenchCPUSPer100k *float64 `json:"bench_cpu_s_per_100k"`
}

type chatResult struct {
	header
	Pairs int `json:"pairs"`
	flow
}

type mucResult struct {
	header
	Occupants int    `json:"k"`
	Room      string `json:"room"`
	flow
}

type offlineResult struct {
	header
	M               int     `json:"m"`
	Stored          int64   `json:"stored"`
	Delivered       int64   `json:"delivered"`
	LoginToAllMS    float64 `json:"login_to_all_ms"`
	PresenceToAllMS float64 `json:"presence_to_all_ms"`
}

// tally counts failures from concurrent workers and keeps the first
// message.
type tally struct {
	mu    sync.Mutex
	n     int64
	first string
}

func (t *tally) add(err error) {
	t.mu.Lock()
	t.n++
	if t.first == "" {
		t.first = err.Error()
	}
	t.mu.Unlock()
}

func (t *tally) count() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// fill copies the count and first error into h, and err, the error that
// ended the scenario, when there is one.
func (t *tally) fill(h *header, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h.Errors = t.n
	switch {
	case err != nil && t.first != "" && t.first != err.Error():
		h.Error = fmt.Sprintf("%v (first of %d errors: %s)", err, t.n, t.first)
	case err != nil:
		h.Error = err.Error()
	case t.n > 1:
		h.Error = fmt.Sprintf("%s (and %d more)", t.first, t.n-1)
	default:
		h.Error = t.first
	}
	if err != nil && h.Errors == 0 {
		h.Errors = 1
	}
}

// encodeResult returns the JSON line of r, without newline.
func encodeResult(r result) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // the result types always encode
	}
	return b
}

// percentile returns the p-quantile (0 <= p <= 1) of sorted samples by
// the nearest-rank method, in milliseconds; 0 for no samples.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

// round3 keeps three decimals: the JSON stays readable and the figures
// are not that precise anyway.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func sortDurations(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}

func ptr[T any](v T) *T { return &v }

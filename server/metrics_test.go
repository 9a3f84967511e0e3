package server_test

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/xmpptest"
)

const metricsTOML = "[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = [\"127.0.0.1:0\"]\nmetrics = [\"127.0.0.1:0\"]\n"

// scrape fetches /metrics in the Prometheus text format and returns every
// sample by its series as printed: `name{label="value",...}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad sample %q", line)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return samples
}

func metricsAddr(t *testing.T, srv *xmpptest.Server) string {
	t.Helper()
	a := srv.Addrs("metrics")
	if len(a) != 1 {
		t.Fatalf("metrics listeners: %v", a)
	}
	return a[0]
}

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, metricsTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	addr := metricsAddr(t, srv)
	before := scrape(t, addr)

	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	wrong := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	wrong.OpenStream()
	wrong.StartTLS()
	if f := wrong.Auth("SCRAM-SHA-256", "alice", "not-the-password"); f == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	for _, body := range []string{"one", "two", "three"} {
		alice.Send("<message to='bob@localhost/phone' type='chat'><body>" + body + "</body></message>")
		bob.Expect("message "+body, isMessage(body))
	}

	after := scrape(t, addr)
	delta := func(series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`hearth_connections_accepted_total{listener="c2s"}`:                           3,
		`hearth_connections_accepted_total{listener="c2s_tls"}`:                       0,
		`hearth_auth_attempts_total{mechanism="SCRAM-SHA-256",result="success"}`:      2,
		`hearth_auth_attempts_total{mechanism="SCRAM-SHA-256",result="failure"}`:      1,
		`hearth_stanzas_received_total{kind="message",type="c2s"}`:                    3,
		`hearth_stanzas_sent_total{kind="message",type="c2s"}`:                        3,
		`hearth_stanzas_received_total{kind="presence",type="c2s"}`:                   2,
		`hearth_stanzas_received_total{kind="iq",type="c2s"}`:                         0,
		`hearth_output_queue_bytes_count{type="c2s"}`:                                 -1, // > 0
		`hearth_storage_duration_seconds_count{op="accounts.get"}`:                    -1,
		`hearth_storage_duration_seconds_bucket{op="accounts.get",le="+Inf"}`:         -1,
		`hearth_storage_errors_total{op="accounts.get"}`:                              0,
		`hearth_auth_attempts_total{mechanism="SCRAM-SHA-256-PLUS",result="success"}`: 0,
	} {
		got := delta(series)
		if want < 0 && got <= 0 || want >= 0 && got != want {
			if want < 0 {
				t.Errorf("%s moved by %v, want more than 0", series, got)
			} else {
				t.Errorf("%s moved by %v, want %v", series, got, want)
			}
		}
	}
	if got := after[`hearth_sessions{type="c2s"}`]; got != 2 {
		t.Errorf(`hearth_sessions{type="c2s"} = %v, want 2`, got)
	}
	for _, series := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := after[series]; !ok {
			t.Errorf("%s missing from /metrics", series)
		}
	}

	// Sessions are read from the router at scrape time.
	alice.Close()
	deadline := time.Now().Add(5 * time.Second)
	for scrape(t, addr)[`hearth_sessions{type="c2s"}`] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("hearth_sessions did not drop to 1 after a client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsOpenMetrics(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, metricsTOML)
	req, _ := http.NewRequest("GET", "http://"+metricsAddr(t, srv)+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type %q, want OpenMetrics", ct)
	}
	if !strings.HasSuffix(string(body), "# EOF\n") || !strings.Contains(string(body), "hearth_sessions") {
		t.Errorf("not an OpenMetrics exposition of hearth's metrics:\n%s", body)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, metricsTOML)
	resp, err := http.Get("http://" + metricsAddr(t, srv) + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("/health: %s %q, want 200 ok", resp.Status, body)
	}
}

func TestNoMetricsListenerByDefault(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	if a := srv.Addrs("metrics"); len(a) != 0 {
		t.Errorf("metrics listening on %v without [listen] metrics", a)
	}
}

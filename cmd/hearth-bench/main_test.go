package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/xmpptest"
)

// serverConfig is what the benchmark needs of hearth: open registration
// without a per-address quota, and no lockout of the many logins from
// one address.
const serverConfig = `
[registration]
mode = "open"
max_per_ip_per_hour = 0
[limits]
auth_failures_per_ip = 100000
`

// runBench runs the command and returns its JSON lines by scenario.
func runBench(t *testing.T, args ...string) (map[string]map[string]any, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, args, &out, &errOut)
	t.Logf("hearth-bench %s\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	lines := map[string]map[string]any{}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if !strings.HasPrefix(line, "{") {
			if line != "" && !strings.HasPrefix(line, "# ") {
				t.Errorf("output line is neither JSON nor human: %q", line)
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		name, _ := m["scenario"].(string)
		if _, dup := lines[name]; dup {
			t.Errorf("two JSON lines for %s", name)
		}
		lines[name] = m
	}
	return lines, err
}

// num returns the numeric field key of line, failing the test when it is
// missing or not a number.
func num(t *testing.T, line map[string]any, key string) float64 {
	t.Helper()
	v, ok := line[key].(float64)
	if !ok {
		t.Errorf("%s: field %s = %v, want a number", line["scenario"], key, line[key])
	}
	return v
}

// commonFields are in every line.
var commonFields = []string{"tool", "scenario", "label", "addr", "domain", "tls", "mech", "server_pid",
	"started", "elapsed_s", "bench_cpu_s", "ok", "errors", "error"}

func checkLine(t *testing.T, lines map[string]map[string]any, scenario string, wantOK int, positive ...string) map[string]any {
	t.Helper()
	line, ok := lines[scenario]
	if !ok {
		t.Fatalf("no JSON line for %s", scenario)
	}
	for _, f := range commonFields {
		if _, ok := line[f]; !ok {
			t.Errorf("%s: field %s missing", scenario, f)
		}
	}
	if line["error"] != "" || num(t, line, "errors") != 0 {
		t.Errorf("%s: errors %v: %v", scenario, line["errors"], line["error"])
	}
	if got := num(t, line, "ok"); wantOK >= 0 && got != float64(wantOK) || got <= 0 {
		t.Errorf("%s: ok = %v, want %d", scenario, got, wantOK)
	}
	for _, f := range positive {
		if v := num(t, line, f); v <= 0 {
			t.Errorf("%s: %s = %v, want > 0", scenario, f, v)
		}
	}
	return line
}

func TestScenariosAgainstHearth(t *testing.T) {
	srv := xmpptest.NewServer(t, serverConfig)
	pid := strconv.Itoa(os.Getpid()) // the server runs in this process
	common := []string{"-addr", srv.C2S, "-domain", srv.Domain, "-password", "benchpass1", "-c", "8",
		"-pid", pid, "-label", "test", "-maxtime", "40s", "-step-timeout", "5s"}
	lines, err := runBench(t, append(common, "-scenario", "provision,login,idle,chat",
		"-n", "20", "-users", "10", "-settle", "200ms", "-pairs", "5", "-window", "5", "-d", "1s")...)
	if err != nil {
		t.Errorf("run: %v", err)
	}
	p := checkLine(t, lines, "provision", 20, "per_s")
	if num(t, p, "registered") != 20 || num(t, p, "existing") != 0 {
		t.Errorf("provision: registered %v existing %v, want 20 and 0", p["registered"], p["existing"])
	}
	checkLine(t, lines, "login", 20, "logins_per_s", "bound_p50_ms", "bound_p99_ms", "ready_p50_ms", "cpu_ms_per_login")
	idle := checkLine(t, lines, "idle", 20, "sessions", "rss_after_kib")
	if _, ok := idle["kib_per_session"].(float64); !ok {
		t.Errorf("idle: kib_per_session = %v, want a number", idle["kib_per_session"])
	}
	chat := checkLine(t, lines, "chat", -1, "delivered", "sent", "delivered_per_s", "latency_p50_ms",
		"latency_p99_ms", "latency_p999_ms", "cpu_s_per_100k", "duration_s")
	if num(t, chat, "delivered") > num(t, chat, "sent")+5*5 {
		t.Errorf("chat: delivered %v more than sent %v plus the windows", chat["delivered"], chat["sent"])
	}
	if l := lines["login"]; l["tls"] != "starttls" || l["mech"] != "SCRAM-SHA-1" || l["label"] != "test" {
		t.Errorf("login: header %v", l)
	}

	// Provisioning again finds the accounts.
	lines, err = runBench(t, append(common, "-scenario", "provision", "-n", "3")...)
	if err != nil {
		t.Errorf("run: %v", err)
	}
	if p := checkLine(t, lines, "provision", 3); num(t, p, "existing") != 3 {
		t.Errorf("second provision: existing %v, want 3", p["existing"])
	}

	// Offline storage and MUC are features hearth is gaining: where it
	// lacks one, the scenario must say so, quickly, in its JSON line.
	lines, _ = runBench(t, append(common, "-scenario", "offline,muc", "-m", "50", "-k", "3", "-window", "2",
		"-d", "500ms", "-settle", "100ms", "-muc", "muc."+srv.Domain)...)
	for _, tc := range []struct {
		scenario, missing string
		wantOK            int
		positive          []string
	}{
		{"offline", "does not store offline messages", 50, []string{"stored", "delivered", "login_to_all_ms"}},
		{"muc", "is there a MUC service", -1, []string{"delivered_per_s", "latency_p50_ms"}},
	} {
		l := lines[tc.scenario]
		if l == nil {
			t.Errorf("no JSON line for %s", tc.scenario)
			continue
		}
		if e, _ := l["error"].(string); strings.Contains(e, tc.missing) {
			t.Logf("%s: not supported by this hearth: %s", tc.scenario, e)
			continue
		}
		checkLine(t, lines, tc.scenario, tc.wantOK, tc.positive...)
	}
}

// TestLongerRun runs larger figures; it is for humans comparing runs, so
// it needs HEARTH_BENCH=1 and no -short.
func TestLongerRun(t *testing.T) {
	if testing.Short() || os.Getenv("HEARTH_BENCH") != "1" {
		t.Skip("set HEARTH_BENCH=1 (without -short) for the longer benchmark run")
	}
	srv := xmpptest.NewServer(t, serverConfig)
	lines, err := runBench(t, "-addr", srv.C2S, "-domain", srv.Domain, "-password", "benchpass1",
		"-pid", strconv.Itoa(os.Getpid()), "-scenario", "provision,login,idle,chat",
		"-n", "500", "-c", "50", "-pairs", "50", "-window", "10", "-d", "5s", "-maxtime", "50s")
	if err != nil {
		t.Errorf("run: %v", err)
	}
	checkLine(t, lines, "chat", -1, "delivered_per_s")
}

// TestMUCFanOut measures groupchat fan-out (issue 5) at 50 and 200
// occupants, one sender with 10 messages in flight; like TestLongerRun it
// needs HEARTH_BENCH=1 and no -short.
func TestMUCFanOut(t *testing.T) {
	if testing.Short() || os.Getenv("HEARTH_BENCH") != "1" {
		t.Skip("set HEARTH_BENCH=1 (without -short) for the MUC fan-out run")
	}
	srv := xmpptest.NewServer(t, serverConfig)
	for _, k := range []string{"50", "200"} {
		lines, err := runBench(t, "-addr", srv.C2S, "-domain", srv.Domain, "-password", "benchpass1",
			"-pid", strconv.Itoa(os.Getpid()), "-scenario", "provision,muc", "-n", k, "-c", "50",
			"-k", k, "-senders", "1", "-window", "10", "-d", "5s", "-muc", "muc."+srv.Domain, "-maxtime", "50s", "-label", "k"+k)
		if err != nil {
			t.Errorf("run: %v", err)
		}
		checkLine(t, lines, "muc", -1, "delivered_per_s")
	}
}

func TestOptions(t *testing.T) {
	var sink bytes.Buffer
	for _, args := range [][]string{
		{},
		{"-scenario", "nope"},
		{"-scenario", "login", "-addr", "192.0.2.1:5222"},
		{"-scenario", "login", "-addr", "example.com:5222"},
		{"-scenario", "login", "-src", "10.0.0.1"},
		{"-scenario", "login", "-src", "127.0.0.9-127.0.0.2"},
		{"-scenario", "idle", "-n", "19001"},
		{"-scenario", "chat", "-pairs", "10000"},
		{"-scenario", "chat", "-d", "20m"},
	} {
		if _, err := parseOptions(args, &sink); err == nil {
			t.Errorf("parseOptions(%q) accepted", args)
		}
	}
	o, err := parseOptions([]string{"-scenario", "login,chat", "-addr", "[::1]:5222", "-src", "127.0.0.2-127.0.0.4"}, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.sources) != 3 || o.sources[2].String() != "127.0.0.4" || len(o.scenarios) != 2 {
		t.Errorf("options: sources %v scenarios %v", o.sources, o.scenarios)
	}
}

func TestProc(t *testing.T) {
	cpu, err := processCPU(os.Getpid())
	if err != nil || cpu < 0 {
		t.Errorf("processCPU: %v, %v", cpu, err)
	}
	rss, err := processRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("processRSS: %v, %v", rss, err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 1000; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p50, p99, p999 := percentile(d, 0.5), percentile(d, 0.99), percentile(d, 0.999); p50 != 500 || p99 != 990 || p999 != 999 {
		t.Errorf("percentiles %v %v %v", p50, p99, p999)
	}
	if percentile(nil, 0.5) != 0 {
		t.Errorf("percentile of nothing")
	}
}

// TestRawAttributes checks the start-tag reading the chat and muc
// receivers do instead of parsing.
func TestRawAttributes(t *testing.T) {
	tag, ok := rawMessage([]byte(`<message from="r@muc/o1" type = 'groupchat' xml:id='x' id='hb1-a>b'><body>x</body></message>`))
	if !ok || string(tag) != `<message from="r@muc/o1" type = 'groupchat' xml:id='x' id='hb1-a>b'` {
		t.Fatalf("rawMessage: %q, %v", tag, ok)
	}
	for name, want := range map[string]string{"from": "r@muc/o1", "type": "groupchat", "id": "hb1-a>b", "to": ""} {
		if got, _ := rawAttr(tag, name); string(got) != want {
			t.Errorf("rawAttr(%s) = %q, want %q", name, got, want)
		}
	}
	for _, s := range []string{`<messages id='1'/>`, `<presence/>`, `<message id='1'`} {
		if _, ok := rawMessage([]byte(s)); ok {
			t.Errorf("rawMessage(%q) took it", s)
		}
	}
	m := newFlowMeter("r")
	id := m.stamp(nil)
	if _, ok := parseBase36(id[len(m.idPrefix):]); !ok || !m.receivedRaw(&recorder{}, id) {
		t.Errorf("the id %q stamp wrote is not read back", id)
	}
	if m.receivedRaw(&recorder{}, []byte("hbr-A")) || m.receivedRaw(&recorder{}, []byte("other-1")) {
		t.Error("foreign ids are taken")
	}
}

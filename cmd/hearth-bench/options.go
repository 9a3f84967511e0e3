package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"hearth/client"
)

// Bounds every run stays within, whatever the flags say.
const (
	// maxSessions bounds sessions held at once: a process here may open
	// at most 20 000 files, and the server needs one per session too.
	maxSessions = 19000
	// maxCount bounds the units of work of provision and login, and the
	// messages of offline.
	maxCount = 1_000_000
	// maxWindow bounds the stanzas in flight per sender.
	maxWindow = 10_000
	// maxSize bounds the approximate size of one chat stanza.
	maxSize = 64 << 10
)

// options are the parsed command-line flags.
type options struct {
	scenarios []string
	addr      string
	domain    string
	directTLS bool
	mechanism string
	prefix    string
	first     int
	users     int
	password  string
	resource  string
	sources   []net.IP
	pid       int
	label     string
	jsonFile  string

	n, concurrency int
	pairs, window  int
	batch          bool
	duration       time.Duration
	size           int
	messages       int
	occupants      int
	senders        int
	mucService     string

	maxTime     time.Duration
	stepTimeout time.Duration
	settle      time.Duration
	hold        time.Duration
}

var scenarioNames = []string{"provision", "login", "idle", "chat", "offline", "muc"}

// parseOptions parses and checks args.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("hearth-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var scenarios, sources string
	fs.StringVar(&scenarios, "scenario", "", "comma-separated `list` of "+strings.Join(scenarioNames, ", ")+", run in that order")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:5222", "server c2s `host:port` (loopback only)")
	fs.StringVar(&o.domain, "domain", "localhost", "XMPP `domain` of the accounts")
	fs.BoolVar(&o.directTLS, "direct-tls", false, "connect with direct TLS (XEP-0368) instead of STARTTLS")
	fs.StringVar(&o.mechanism, "mech", client.SCRAMSHA1, "SASL `mechanism`: SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN")
	fs.StringVar(&o.prefix, "prefix", "bench", "username `prefix`: accounts are <prefix><index>")
	fs.IntVar(&o.first, "first", 1, "`index` of the first account")
	fs.IntVar(&o.users, "users", 0, "login, idle: cycle over this many accounts (0: one per session)")
	fs.StringVar(&o.password, "password", "benchpass", "`password` of every account (at least 8 characters for hearth)")
	fs.StringVar(&o.resource, "resource", "bench", "resource `prefix` to bind")
	fs.StringVar(&sources, "src", "127.0.0.2-127.0.0.9", "source `addresses` to spread connections over: a range a-b or a comma list; empty for the kernel's choice")
	fs.IntVar(&o.pid, "pid", 0, "server `PID` to sample CPU and RSS from /proc (ejabberd: beam.smp)")
	fs.StringVar(&o.label, "label", "", "free `text` copied into the JSON lines (e.g. hearth-abc123)")
	fs.StringVar(&o.jsonFile, "json", "", "also append the JSON lines to `file`")
	fs.IntVar(&o.n, "n", 1000, "provision, login: accounts or logins; idle: sessions held (at most 19000)")
	fs.IntVar(&o.concurrency, "c", 50, "provision, login, idle, chat, muc: connections negotiating at once")
	fs.IntVar(&o.pairs, "pairs", 100, "chat: sender/receiver pairs (uses accounts first .. first+2*pairs-1)")
	fs.IntVar(&o.window, "window", 10, "chat, muc: stanzas in flight per sender")
	fs.BoolVar(&o.batch, "batch", true, "chat, muc: a sender writes the messages of all its free slots at once (false: one write per message)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "chat, muc: measured `duration`")
	fs.IntVar(&o.size, "size", 230, "chat, muc: approximate size of one message stanza as sent, in `bytes`")
	fs.IntVar(&o.messages, "m", 1000, "offline: messages to store")
	fs.IntVar(&o.occupants, "k", 50, "muc: occupants")
	fs.IntVar(&o.senders, "senders", 1, "muc: occupants that send")
	fs.StringVar(&o.mucService, "muc", "conference.localhost", "muc: MUC service `domain`")
	fs.DurationVar(&o.maxTime, "maxtime", 10*time.Minute, "upper bound for the whole run")
	fs.DurationVar(&o.stepTimeout, "step-timeout", 30*time.Second, "bound for one login, join or wait for delivery")
	fs.DurationVar(&o.settle, "settle", time.Second, "chat, muc: warm-up before measuring; idle: wait before sampling RSS")
	fs.DurationVar(&o.hold, "hold", 0, "idle: keep the sessions this much longer after measuring")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for s := range strings.SplitSeq(scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(scenarioNames, s) {
			return nil, fmt.Errorf("-scenario: unknown %q (known: %s)", s, strings.Join(scenarioNames, ", "))
		}
		o.scenarios = append(o.scenarios, s)
	}
	if len(o.scenarios) == 0 {
		return nil, errors.New("-scenario is required")
	}
	if err := checkLoopbackAddr(o.addr); err != nil {
		return nil, err
	}
	var err error
	if o.sources, err = parseSources(sources); err != nil {
		return nil, err
	}
	if o.users == 0 {
		o.users = o.n
	}
	switch o.mechanism {
	case client.SCRAMSHA1, client.SCRAMSHA256, client.Plain:
	default:
		return nil, fmt.Errorf("-mech: %q is not one of SCRAM-SHA-1, SCRAM-SHA-256, PLAIN", o.mechanism)
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{o.n >= 1 && o.n <= maxCount, fmt.Sprintf("-n must be in 1..%d", maxCount)},
		{!slices.Contains(o.scenarios, "idle") || o.n <= maxSessions, fmt.Sprintf("-n: idle holds at most %d sessions (the open-files limit)", maxSessions)},
		{o.users >= 1 && o.users <= maxCount, "-users must be positive"},
		{o.concurrency >= 1 && o.concurrency <= maxSessions, fmt.Sprintf("-c must be in 1..%d", maxSessions)},
		{o.pairs >= 1 && 2*o.pairs <= maxSessions, fmt.Sprintf("-pairs must be in 1..%d", maxSessions/2)},
		{o.window >= 1 && o.window <= maxWindow, fmt.Sprintf("-window must be in 1..%d", maxWindow)},
		{o.duration > 0 && o.duration <= o.maxTime, "-d must be positive and at most -maxtime"},
		{o.size >= 0 && o.size <= maxSize, fmt.Sprintf("-size must be in 0..%d", maxSize)},
		{o.messages >= 1 && o.messages <= maxCount, fmt.Sprintf("-m must be in 1..%d", maxCount)},
		{o.occupants >= 1 && o.occupants <= maxSessions, fmt.Sprintf("-k must be in 1..%d", maxSessions)},
		{o.senders >= 1 && o.senders <= o.occupants, "-senders must be in 1..k"},
		{o.maxTime > 0, "-maxtime must be positive"},
		{o.stepTimeout > 0, "-step-timeout must be positive"},
		{o.settle >= 0 && o.hold >= 0, "-settle and -hold must not be negative"},
		{o.first >= 0, "-first must not be negative"},
		{len(o.password) >= 1, "-password must not be empty"},
	}
	for _, c := range checks {
		if !c.ok {
			return nil, errors.New(c.msg)
		}
	}
	return o, nil
}

// checkLoopbackAddr refuses a server address that is not on loopback: a
// load generator must not be pointed at someone else's server by
// mistake. A name must resolve to loopback addresses only.
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("-addr %q: only loopback addresses are allowed", addr)
		}
		return nil
	}
	if host != "localhost" {
		return fmt.Errorf("-addr %q: give a loopback IP address or localhost", addr)
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-addr %q: localhost resolves to %s, not loopback", addr, ip)
		}
	}
	return nil
}

// parseSources reads -src: "" (none), "a-b" (an IPv4 range within one
// /24) or "a,b,c". Every address must be loopback.
func parseSources(s string) ([]net.IP, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []net.IP
	add := func(a netip.Addr) error {
		if !a.IsLoopback() {
			return fmt.Errorf("-src: %s is not a loopback address", a)
		}
		out = append(out, net.IP(a.AsSlice()))
		return nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(lo))
		b, err2 := netip.ParseAddr(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() || b.Less(a) || !sameSlash24(a, b) {
			return nil, fmt.Errorf("-src %q: a range is two IPv4 addresses a-b in one /24, a <= b", s)
		}
		for x := a; ; x = x.Next() {
			if err := add(x); err != nil {
				return nil, err
			}
			if x == b {
				break
			}
		}
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("-src: %w", err)
		}
		if err := add(a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sameSlash24(a, b netip.Addr) bool {
	x, y := a.As4(), b.As4()
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2]
}

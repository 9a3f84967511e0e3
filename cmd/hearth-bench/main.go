// Command hearth-bench is hearth's load benchmark. It speaks XMPP over
// real TLS like a client (hearth/client: STARTTLS or direct TLS, SASL
// SCRAM or PLAIN, resource binding, roster get, initial presence) and
// measures any XMPP server — hearth, Prosody, ejabberd — on this machine:
// it connects to loopback addresses only and refuses any other.
//
// Usage:
//
//	hearth-bench -scenario LIST [flags]
//
// LIST is a comma-separated list of scenarios, run in order:
//
//	provision  register accounts <prefix><first> .. <prefix><first+n-1> by
//	           XEP-0077, c at a time (hearth needs [registration]
//	           mode = "open" and max_per_ip_per_hour = 0); existing
//	           accounts count as provisioned
//	login      n full logins (TLS, SASL, bind, roster, presence, close),
//	           c at a time: logins/s, time to bound and to ready, and with
//	           -pid the server's CPU time per login
//	idle       hold n logged-in sessions (n <= 19000, the open-files
//	           limit) and, with -pid, report the growth of the server's
//	           RSS per session; connections are spread over the -src
//	           source addresses
//	chat       pairs of accounts (sender first+2i, receiver first+2i+1);
//	           each sender keeps -window messages of about -size bytes in
//	           flight to its receiver's bare JID for -d after a -settle
//	           warm-up: delivered msg/s, latency percentiles, and with
//	           -pid server CPU-seconds per 100k messages
//	offline    account first sends -m messages to account first+1 while it
//	           is offline, then first+1 logs in: time from the start of its
//	           login (and from its presence) to the last message. Needs
//	           offline storage (XEP-0160); a server that bounces all
//	           the messages gets an error saying so, one that bounces some
//	           (a quota) an error, with the delivery of the others measured
//	muc        -k accounts join a new room at -muc (XEP-0045); the first
//	           -senders send groupchat messages with -window in flight
//	           each: stanzas delivered to all occupants per second. A
//	           server without a MUC service gets an error saying so
//
// Every run is bounded: by -maxtime as a whole, by -step-timeout for each
// login, join or wait, and in count (see the flag ranges). Accounts share
// -password (hearth requires at least 8 characters).
//
// # Output
//
// Human-readable lines start with "# ". Each scenario then prints exactly
// one JSON object on one line (also appended to the -json file). The
// field names are stable; a figure that was not measured (no -pid) is
// null. Durations are in milliseconds (_ms) or seconds (_s).
//
// Every line has:
//
//	tool        "hearth-bench"
//	scenario    provision, login, idle, chat, offline or muc
//	label       the -label flag
//	addr, domain, tls ("starttls" or "direct"), mech, server_pid (0: none)
//	started     RFC 3339 UTC start time
//	elapsed_s   wall time of the scenario
//	bench_cpu_s CPU time hearth-bench itself used in the scenario: when it
//	            nears elapsed_s, the load generator is the bottleneck
//	ok          units that succeeded: accounts provisioned, logins,
//	            sessions held, messages delivered (chat, offline, muc)
//	errors      units that failed (at least 1 when error is set)
//	error       "" on success, else what went wrong (first error, count)
//
// and per scenario:
//
//	provision  n, c, registered, existing, per_s
//	login      n, c, logins_per_s, bound_p50_ms, bound_p99_ms,
//	           ready_p50_ms, ready_p99_ms, cpu_ms_per_login
//	idle       n, c, sessions, rss_before_kib, rss_after_kib,
//	           kib_per_session
//	chat       pairs, senders, window, size, duration_s, sent, delivered,
//	           delivered_per_s, latency_p50_ms, latency_p99_ms,
//	           latency_p999_ms, cpu_s_per_100k, bench_cpu_s_per_100k
//	offline    m, stored, delivered, login_to_all_ms, presence_to_all_ms
//	muc        k, room, and the fields of chat except pairs
//
// In chat and muc, sent and delivered count the measurement window only
// (after the warm-up); latency is from send to receipt in this process.
// bench_cpu_s_per_100k is hearth-bench's own CPU time per 100k delivered
// in the window: when it nears the server's cpu_s_per_100k, the load
// generator, not the server, limits the throughput. To stay below the
// server, a sender writes the messages of all its free slots with one
// write (-batch=false: one write per message, as the referee xmppload
// does), and receivers read the attributes they count from the start tag
// of each message instead of parsing it.
// Server CPU comes from utime+stime in /proc/PID/stat, RSS from VmRSS in
// /proc/PID/status.
//
// The exit status is 0 when every scenario succeeded, 1 when one failed
// (after its JSON line), 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.As(err, new(*usageError)):
		fmt.Fprintln(os.Stderr, "hearth-bench:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "hearth-bench:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

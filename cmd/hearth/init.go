package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"hearth/config"
	"hearth/jid"
)

// Resolver is the DNS lookups hearth init makes; *net.Resolver is one, and
// tests pass a fake.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// initEnv is what hearth init touches outside its folder, replaceable in tests.
type initEnv struct {
	resolver Resolver
	// listen opens a TCP listener (the reachability probe, and whether
	// port 80 is free for http-01).
	listen func(addr string) (net.Listener, error)
	// dial connects to addr (the probe's way back in).
	dial    func(ctx context.Context, addr string) (net.Conn, error)
	timeout time.Duration // per DNS lookup or probe
}

func defaultInitEnv() initEnv {
	d := &net.Dialer{}
	return initEnv{
		resolver: net.DefaultResolver,
		listen:   func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) },
		dial:     func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) },
		timeout:  3 * time.Second,
	}
}

// initPorts are the ports the generated configuration listens on.
type initPorts struct {
	C2S, C2STLS int
	S2S         int // federation (5269)
	HTTPS       int // web services: upload, WebSocket, BOSH, invitation pages (5281)
	// ACMEHTTP is 80 with http-01; 0 with tls-alpn-01, answered on 443
	// by the direct-TLS listener.
	ACMEHTTP int
	ExtraTLS int // 443 with tls-alpn-01, else 0
	// TURN and TURNS are the STUN/TURN ports for calls (3478, also on
	// UDP, and 5349 with TLS); only their TCP side can be probed.
	TURN, TURNS int
}

func cmdInit(args []string, stdout, stderr io.Writer) error {
	return runInit(args, stdout, stderr, defaultInitEnv())
}

func runInit(args []string, stdout, stderr io.Writer, env initEnv) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "folder for hearth.toml; the data goes to DIR/data")
	email := fs.String("email", "", "contact address for the certificate authority (expiry notices)")
	force := fs.Bool("force", false, "overwrite an existing hearth.toml")
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return usageError{errors.New("init: usage: hearth init DOMAIN [-dir DIR] [-email ADDRESS] [-force]")}
	}
	d, err := jid.New("", pos[0], "")
	if err != nil || !strings.Contains(d.Domain(), ".") || net.ParseIP(d.Domain()) != nil {
		return usageError{fmt.Errorf("init: %q is not a public domain name (e.g. example.org)", pos[0])}
	}
	domain := d.Domain()
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	path := filepath.Join(absDir, "hearth.toml")
	if _, err := os.Stat(path); err == nil && !*force {
		return usageError{fmt.Errorf("init: %s exists; move it away or pass -force", path)}
	}

	ports := initPorts{C2S: 5222, C2STLS: 5223, S2S: 5269, HTTPS: 5281, ACMEHTTP: 80, TURN: 3478, TURNS: 5349}
	if ln, err := env.listen(":80"); err != nil {
		// Port 80 is taken (a web server) or not ours to bind: answer
		// tls-alpn-01 on 443 with the direct-TLS listener instead.
		ports.ACMEHTTP, ports.ExtraTLS = 0, 443
	} else {
		ln.Close()
	}
	text, err := initConfig(domain, filepath.Join(absDir, "data"), *email, ports)
	if err != nil {
		return err
	}
	if _, err := config.Parse(text); err != nil {
		return fmt.Errorf("init: the generated configuration does not load (a bug): %w", err)
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s for %s.\n\n", path, domain)

	ctx := context.Background()
	missing := checkDNS(ctx, stdout, env, domain, ports)
	fmt.Fprintln(stdout)
	blocked := checkPorts(ctx, stdout, env, domain, ports)
	fmt.Fprintln(stdout)
	printNextSteps(stdout, path, domain, missing, blocked)
	return nil
}

var configTemplate = template.Must(template.New("config").Parse(`# hearth configuration for {{.Domain}}, written by "hearth init".
#
# Check it after every change:   hearth check-config -c {{.Path}}
# An unknown key is an error, so a typo never goes unnoticed.

# The domain of your users' addresses (alice@{{.Domain}}).
hosts = ["{{.Domain}}"]

# Database, certificates and keys live here.
data_dir = "{{.DataDir}}"

# Administrators may run the server's administration commands from their
# app (add and delete users, announcements, invitations that create
# accounts). Uncomment once the account exists:
# admins = ["you@{{.Domain}}"]

[listen]
# Clients with STARTTLS (the standard port 5222) and with direct TLS
# (XEP-0368).{{if .Ports.ExtraTLS}} Port 443 also answers the certificate authority's
# tls-alpn-01 challenge, and lets clients through firewalls that only allow
# HTTPS.{{end}}
c2s = [":{{.Ports.C2S}}"]
c2s_tls = [":{{.Ports.C2STLS}}"{{if .Ports.ExtraTLS}}, ":{{.Ports.ExtraTLS}}"{{end}}]
# Other servers (federation): your users can talk to anyone on XMPP.
s2s = [":{{.Ports.S2S}}"]
# Web services: file sharing (upload.{{.Domain}}), web clients (WebSocket,
# BOSH) and the invitation pages.
https = [":{{.Ports.HTTPS}}"]

[acme]
# Certificates from Let's Encrypt for {{.Domain}} and its service subdomains
# (muc.{{.Domain}}, upload.{{.Domain}} once those services are enabled),
# renewed 30 days before they expire and swapped in without disconnecting
# anyone. They are kept in data_dir/acme. Enabling this accepts the
# certificate authority's subscriber agreement (Let's Encrypt's by default).
enabled = true
email = "{{.Email}}"           # expiry notices from the certificate authority; may stay empty
# directory = "https://acme-staging-v02.api.letsencrypt.org/directory"   # for trying things out
{{- if .Ports.ACMEHTTP}}
challenge = "http-01"           # the authority fetches a token from port 80 ...
http = ":{{.Ports.ACMEHTTP}}"                   # ... which hearth serves here (forward port 80 to this machine)
{{- else}}
challenge = "tls-alpn-01"       # the authority connects to port 443 (listen.c2s_tls above)
{{- end}}

[registration]
# invite: people register from their app with an invitation link
#         ("hearth invite", or "Invite a friend" in a client's commands).
# closed: accounts come from "hearth adduser" and the admins only.
# open:   anyone may register from their app (rate-limited per address).
mode = "invite"
# min_password_length = 8

[invites]
# users_can_invite = true        # every user may invite friends; admins always can
# expiry = 604800                # seconds an invitation made from an app stays valid (7 days)
# web_base = "https://{{.Domain}}:5281"   # where the invitation web pages are served

# Services on subdomains, on by default: group chats at muc.{{.Domain}}
# and file sharing at upload.{{.Domain}}. Each needs a DNS record (see
# "hearth init"'s output) and is certified automatically.
# [muc]
# create = "local"               # who may create rooms: admins | local | anyone
# [upload]
# max_file_size = 104857600      # bytes

# File transfer proxy (XEP-0065) at proxy.{{.Domain}}, for clients that send
# files peer to peer; off by default. It needs a port of its own, open or
# forwarded (clients are told to connect to {{.Domain}} on it), and, like
# the other services, a DNS record for its certificate.
# [proxy65]
# enabled = true
# listen = [":5000"]

[turn]
# Audio and video calls: a STUN/TURN server relays the calls of apps that
# cannot reach each other directly (phones on mobile data, most home
# networks). Apps find it, with credentials, on their own (XEP-0215).
# Open or forward to this machine: UDP and TCP {{.Ports.TURN}}, TCP {{.Ports.TURNS}} (TLS) and
# the UDP relay ports 49152-65535.
enabled = true
# relay_address = "203.0.113.7"  # the public IPv4 address, when {{.Domain}} does not resolve to it
# min_port = 49152               # the relay port range
# max_port = 65535

[contact]                        # XEP-0157 addresses shown to clients and other servers
# admin = ["xmpp:admin@{{.Domain}}"]
`))

func initConfig(domain, dataDir, email string, ports initPorts) (string, error) {
	var b strings.Builder
	err := configTemplate.Execute(&b, map[string]any{
		"Domain": domain, "DataDir": dataDir, "Email": email, "Ports": ports,
		"Path": filepath.Join(filepath.Dir(dataDir), "hearth.toml"),
	})
	return b.String(), err
}

// dnsRecord is one record hearth init checks.
type dnsRecord struct {
	name, kind string // kind: "A/AAAA" or "SRV"
	service    string // SRV: "xmpp-client"
	port       int    // SRV: the port it must point at
	optional   string // why it may be skipped, or ""
}

// checkDNS looks up the records a working server needs and prints, for
// each missing one, the line to add to the zone. It returns how many
// required records are missing.
func checkDNS(ctx context.Context, w io.Writer, env initEnv, domain string, ports initPorts) int {
	records := []dnsRecord{
		{name: domain, kind: "A/AAAA"},
		{name: "muc." + domain, kind: "A/AAAA", optional: "needed once group chats are enabled"},
		{name: "upload." + domain, kind: "A/AAAA", optional: "needed once file sharing is enabled"},
		{name: domain, kind: "SRV", service: "xmpp-client", port: ports.C2S},
		{name: domain, kind: "SRV", service: "xmpps-client", port: ports.C2STLS},
		{name: domain, kind: "SRV", service: "xmpp-server", port: 5269, optional: "needed for federation with other servers"},
		{name: domain, kind: "SRV", service: "xmpps-server", port: 5270, optional: "direct-TLS federation (XEP-0368)"},
	}
	fmt.Fprintln(w, "DNS:")
	missing := 0
	var add []string
	for _, r := range records {
		ok, detail := lookup(ctx, env, r, domain)
		label := r.name
		if r.kind == "SRV" {
			label = fmt.Sprintf("_%s._tcp.%s", r.service, r.name)
		}
		if ok {
			fmt.Fprintf(w, "  ok       %-36s %s %s\n", label, r.kind, detail)
			continue
		}
		status := "MISSING"
		if r.optional != "" {
			status = "missing"
		} else {
			missing++
		}
		note := detail
		if r.optional != "" {
			note += " (" + r.optional + ")"
		}
		fmt.Fprintf(w, "  %-8s %-36s %s %s\n", status, label, r.kind, note)
		switch {
		case r.kind == "SRV":
			add = append(add, fmt.Sprintf("_%s._tcp.%s. 3600 IN SRV 0 5 %d %s.", r.service, r.name, r.port, domain))
		case r.name == domain:
			add = append(add, fmt.Sprintf("%s. 3600 IN A    <this server's IPv4 address>", domain),
				fmt.Sprintf("%s. 3600 IN AAAA <this server's IPv6 address, if it has one>", domain))
		default:
			add = append(add, fmt.Sprintf("%s. 3600 IN CNAME %s.", r.name, domain))
		}
	}
	if len(add) > 0 {
		fmt.Fprintln(w, "\n  Add these records at your DNS provider:")
		for _, a := range add {
			fmt.Fprintln(w, "    "+a)
		}
	}
	return missing
}

func lookup(ctx context.Context, env initEnv, r dnsRecord, domain string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	if r.kind == "A/AAAA" {
		addrs, err := env.resolver.LookupHost(ctx, r.name)
		if err != nil || len(addrs) == 0 {
			return false, "(no address)"
		}
		return true, strings.Join(addrs, ", ")
	}
	_, srvs, err := env.resolver.LookupSRV(ctx, r.service, "tcp", r.name)
	if err != nil || len(srvs) == 0 {
		return false, "(no record)"
	}
	for _, s := range srvs {
		if int(s.Port) == r.port {
			return true, fmt.Sprintf("-> %s:%d", strings.TrimSuffix(s.Target, "."), s.Port)
		}
	}
	s := srvs[0]
	return false, fmt.Sprintf("(points at %s:%d, hearth listens on %d)", strings.TrimSuffix(s.Target, "."), s.Port, r.port)
}

// checkPorts opens each port hearth will listen on and connects to it
// through the domain's public address, as a client would: that finds a
// port already in use, a firewall, or a missing port forward (on a NAT
// that does not loop back, a failure may be a false alarm: test from
// outside then). It returns the ports that failed.
func checkPorts(ctx context.Context, w io.Writer, env initEnv, domain string, ports initPorts) []int {
	list := []int{ports.C2S, ports.C2STLS, ports.S2S, ports.HTTPS, ports.TURN, ports.TURNS}
	if ports.ExtraTLS != 0 {
		list = append(list, ports.ExtraTLS)
	}
	if ports.ACMEHTTP != 0 {
		list = append(list, ports.ACMEHTTP)
	}
	fmt.Fprintln(w, "Ports (from this machine, through "+domain+"'s address):")
	lctx, cancel := context.WithTimeout(ctx, env.timeout)
	addrs, err := env.resolver.LookupHost(lctx, domain)
	cancel()
	var failed []int
	for _, p := range list {
		ln, err2 := env.listen(":" + strconv.Itoa(p))
		if err2 != nil {
			fmt.Fprintf(w, "  FAIL     %d: cannot listen (%v); stop what uses it or run hearth with the right to bind it\n", p, err2)
			failed = append(failed, p)
			continue
		}
		if err != nil || len(addrs) == 0 {
			ln.Close()
			fmt.Fprintf(w, "  unknown  %d: free here; %s has no address yet to test through\n", p, domain)
			continue
		}
		ok := probe(ctx, env, ln, net.JoinHostPort(addrs[0], strconv.Itoa(p)))
		ln.Close()
		if ok {
			fmt.Fprintf(w, "  ok       %d\n", p)
		} else {
			fmt.Fprintf(w, "  FAIL     %d: not reachable at %s; open it in the firewall / forward it to this machine\n", p, net.JoinHostPort(addrs[0], strconv.Itoa(p)))
			failed = append(failed, p)
		}
	}
	fmt.Fprintf(w, "  (calls also need UDP %d and the UDP relay ports 49152-65535: UDP cannot be tested from here, forward them too)\n", ports.TURN)
	return failed
}

// probe reports whether a connection to addr arrives on ln.
func probe(ctx context.Context, env initEnv, ln net.Listener, addr string) bool {
	accepted := make(chan bool, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err == nil
	}()
	ctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	c, err := env.dial(ctx, addr)
	if err != nil {
		return false
	}
	c.Close()
	select {
	case ok := <-accepted:
		return ok
	case <-ctx.Done():
		return false
	}
}

func printNextSteps(w io.Writer, path, domain string, missingDNS int, blocked []int) {
	fmt.Fprintln(w, "Next steps:")
	n := 1
	if missingDNS > 0 {
		fmt.Fprintf(w, "  %d. Add the DNS records marked MISSING above, wait until they resolve, and run hearth init again (with -force) to check.\n", n)
		n++
	}
	if len(blocked) > 0 {
		fmt.Fprintf(w, "  %d. Make the ports marked FAIL reachable (firewall, router port forwarding).\n", n)
		n++
	}
	fmt.Fprintf(w, "  %d. Start the server:           hearth serve -c %s\n", n, path)
	fmt.Fprintf(w, "     (or install packaging/hearth.service and run: systemctl enable --now hearth)\n")
	fmt.Fprintf(w, "  %d. Create your account:        hearth adduser you@%s -c %s\n", n+1, domain, path)
	fmt.Fprintf(w, "  %d. Invite a friend:            hearth invite -c %s --from you@%s\n", n+2, path, domain)
	fmt.Fprintf(w, "     and send them the link it prints. Log in from any XMPP app (Conversations, Monal, Gajim, Dino) as you@%s.\n", domain)
}

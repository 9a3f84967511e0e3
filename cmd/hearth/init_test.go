package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from fixed tables.
type fakeResolver struct {
	hosts map[string][]string
	srv   map[string][]*net.SRV // "_xmpp-client._tcp.example.org"
}

func (r fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if a := r.hosts[host]; len(a) > 0 {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (r fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	if s := r.srv[key]; len(s) > 0 {
		return key, s, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
}

// fakeNet maps the ports hearth init asks for onto free loopback ports,
// refuses to bind those in taken, and drops connections to those in
// firewalled.
type fakeNet struct {
	taken, firewalled map[int]bool
	mu                sync.Mutex
	real              map[string]string // "5222" → "127.0.0.1:40123"
}

func (f *fakeNet) env(r Resolver) initEnv {
	f.real = map[string]string{}
	return initEnv{
		resolver: r,
		timeout:  time.Second,
		listen: func(addr string) (net.Listener, error) {
			_, port, _ := net.SplitHostPort(addr)
			if f.taken[atoi(port)] {
				return nil, errors.New("address already in use")
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err == nil {
				f.mu.Lock()
				f.real[port] = ln.Addr().String()
				f.mu.Unlock()
			}
			return ln, err
		},
		dial: func(ctx context.Context, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			if f.firewalled[atoi(port)] {
				return nil, errors.New("i/o timeout")
			}
			f.mu.Lock()
			real := f.real[port]
			f.mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", real)
		},
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestInitNothingConfiguredYet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fn := &fakeNet{}
	var out, errOut bytes.Buffer
	err := runInit([]string{"chat.example.org", "-dir", dir, "-email", "me@example.org"}, &out, &errOut, fn.env(fakeResolver{}))
	if err != nil {
		t.Fatalf("init: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"MISSING  chat.example.org",
		"chat.example.org. 3600 IN A    <this server's IPv4 address>",
		"muc.chat.example.org. 3600 IN CNAME chat.example.org.",
		"upload.chat.example.org. 3600 IN CNAME chat.example.org.",
		"_xmpp-client._tcp.chat.example.org. 3600 IN SRV 0 5 5222 chat.example.org.",
		"_xmpps-client._tcp.chat.example.org. 3600 IN SRV 0 5 5223 chat.example.org.",
		"_xmpp-server._tcp.chat.example.org. 3600 IN SRV 0 5 5269 chat.example.org.",
		"unknown  5222: free here; chat.example.org has no address yet",
		"1. Add the DNS records marked MISSING",
		"hearth serve -c " + filepath.Join(dir, "hearth.toml"),
		"hearth adduser you@chat.example.org",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q\n%s", want, text)
		}
	}
	conf, err := os.ReadFile(filepath.Join(dir, "hearth.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`hosts = ["chat.example.org"]`, `challenge = "http-01"`, `http = ":80"`, `email = "me@example.org"`, "enabled = true", `s2s = [":5269"]`, `https = [":5281"]`, "group chats at muc.chat.example.org", "[turn]"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("config lacks %q\n%s", want, conf)
		}
	}
	// The written file passes the server's own check, module sections included.
	if code, stdout, stderr := runCLI(t, "", "check-config", "-c", filepath.Join(dir, "hearth.toml")); code != 0 {
		t.Fatalf("check-config: %d\n%s%s", code, stdout, stderr)
	}
	// A second init does not overwrite it.
	if err := runInit([]string{"chat.example.org", "-dir", dir}, &out, &errOut, fn.env(fakeResolver{})); err == nil {
		t.Fatal("init overwrote an existing hearth.toml")
	}
}

func TestInitAllGoodButOnePort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := "example.org"
	res := fakeResolver{
		hosts: map[string][]string{d: {"127.0.0.1"}, "muc." + d: {"127.0.0.1"}, "upload." + d: {"127.0.0.1"}},
		srv: map[string][]*net.SRV{
			"_xmpp-client._tcp." + d:  {{Target: d + ".", Port: 5222}},
			"_xmpps-client._tcp." + d: {{Target: d + ".", Port: 443}}, // wrong port
			"_xmpp-server._tcp." + d:  {{Target: d + ".", Port: 5269}},
			"_xmpps-server._tcp." + d: {{Target: d + ".", Port: 5270}},
		},
	}
	// Port 80 is taken (a web server): tls-alpn-01 on 443 instead. 5223 is
	// firewalled.
	fn := &fakeNet{taken: map[int]bool{80: true}, firewalled: map[int]bool{5223: true}}
	var out, errOut bytes.Buffer
	if err := runInit([]string{d, "-dir", dir}, &out, &errOut, fn.env(res)); err != nil {
		t.Fatalf("init: %v", err)
	}
	text := out.String()
	for _, want := range []string{
		"ok       " + d,
		"ok       _xmpp-client._tcp." + d,
		"(points at example.org:443, hearth listens on 5223)",
		"_xmpps-client._tcp.example.org. 3600 IN SRV 0 5 5223 example.org.",
		"ok       5222",
		"ok       443",
		"FAIL     5223: not reachable at 127.0.0.1:5223",
		"ok       3478",
		"ok       5349",
		"UDP relay ports 49152-65535",
		"Make the ports marked FAIL reachable",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q\n%s", want, text)
		}
	}
	if strings.Contains(text, "IN A ") || strings.Contains(text, "CNAME") {
		t.Errorf("asks for address records that exist:\n%s", text)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "hearth.toml"))
	if !strings.Contains(string(conf), `challenge = "tls-alpn-01"`) || !strings.Contains(string(conf), `c2s_tls = [":5223", ":443"]`) {
		t.Errorf("with port 80 taken the config should use tls-alpn-01 on 443:\n%s", conf)
	}
	if code, stdout, stderr := runCLI(t, "", "check-config", "-c", filepath.Join(dir, "hearth.toml")); code != 0 {
		t.Fatalf("check-config: %d\n%s%s", code, stdout, stderr)
	}
}

func TestInitRejectsBadDomain(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"localhost", "10.0.0.1", "a b.org", ""} {
		var out, errOut bytes.Buffer
		err := runInit([]string{d, "-dir", t.TempDir()}, &out, &errOut, (&fakeNet{}).env(fakeResolver{}))
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("init %q: %v, want a usage error", d, err)
		}
	}
}

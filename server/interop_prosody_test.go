package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// TestProsodyFederation federates hearth (a.example) with Debian's
// Prosody (p.example), started by the test on loopback ports with a
// configuration of its own. Prosody finds hearth the way it finds any
// server: no SRV record, so a.example:5269, which a hosts file given to
// its resolver (libunbound) maps to a loopback address of hearth's own;
// hearth reaches Prosody through a pinned address.
//
// With certificates from a CA both trust, the servers authenticate with
// SASL EXTERNAL; with hearth's self-signed certificate and
// require_valid_certs = false on both sides, with dialback over TLS.
// Set PROSODY_LOG=1 to get Prosody's debug log in the test output.
func TestProsodyFederation(t *testing.T) {
	t.Parallel()
	prosody := requireProsody(t)
	for _, c := range []struct {
		name   string
		secure bool
	}{{"external", true}, {"dialback", false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ca := newTestCA(t)
			// A loopback address of hearth's own, so that port 5269 is free.
			ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(250)+1, rand.IntN(250)+1)
			extra := "require_valid_certs = false\n"
			hearthCA := (*testCA)(nil)
			if c.secure {
				extra, hearthCA = "", ca
			}
			a := fedServerAt(t, "a.example", hearthCA, ip+":5269", extra)
			a.AddUser(t, "alice", "pw-alice-1")
			p := startProsody(t, prosody, ca, "p.example", map[string]string{"a.example": ip}, c.secure)
			a.S2S().Pin("p.example", p.s2s)
			alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
			bob := p.login(t, "bob", "pw-bob-123", "phone")

			alice.Send("<message to='bob@p.example/phone' type='chat' id='i1'><body>hello prosody</body></message>")
			m := bob.Expect("alice's message", isMessageFrom("alice@a.example/laptop"))
			if m.ChildText(stanza.NSClient, "body") != "hello prosody" {
				t.Errorf("bob got %s", m)
			}
			bob.Send("<message to='alice@a.example/laptop' type='chat' id='i2'><body>hello hearth</body></message>")
			m = alice.Expect("bob's message", isMessageFrom("bob@p.example/phone"))
			if m.ChildText(stanza.NSClient, "body") != "hello hearth" {
				t.Errorf("alice got %s", m)
			}
			res := alice.IQ("<iq to='p.example' type='get' id='i3'><ping xmlns='urn:xmpp:ping'/></iq>")
			if res.Get("type") != "result" {
				t.Errorf("ping p.example: %s", res)
			}
		})
	}
}

// requireProsody returns the path of Debian's prosody. In CI its absence
// fails the test (scripts/test installs it); elsewhere the test is
// skipped, loudly.
func requireProsody(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("prosody")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("prosody is not installed (scripts/test installs it): %v", err)
		}
		t.Skip("SKIPPING INTEROP TEST: prosody is not installed; run scripts/test or apt-get install prosody")
	}
	return path
}

// fedServerAt is fedServer with the s2s listener at s2sAddr.
func fedServerAt(t *testing.T, domain string, ca *testCA, s2sAddr, s2sTOML string) *xmpptest.Server {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "hosts = [%q]\n", domain)
	fmt.Fprintf(&b, "[listen]\nc2s = [\"127.0.0.1:0\"]\ns2s = [%q]\n", s2sAddr)
	if ca != nil {
		cert, key := ca.issue(t, domain)
		fmt.Fprintf(&b, "[tls]\ncert = %q\nkey = %q\n[s2s]\nca_file = %q\n", cert, key, ca.file)
	} else {
		b.WriteString("[s2s]\n")
	}
	b.WriteString(s2sTOML)
	return xmpptest.NewServer(t, b.String())
}

type prosodyServer struct {
	domain   string
	c2s, s2s string
	log      string
}

// startProsody runs prosody for domain with a certificate from ca, the
// account bob, and hosts (domain -> IP) for its resolver; secure sets
// s2s_secure_auth (certificates must validate, against ca).
func startProsody(t *testing.T, bin string, ca *testCA, domain string, hosts map[string]string, secure bool) *prosodyServer {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.issue(t, domain)
	var hostsTxt strings.Builder
	for d, ip := range hosts {
		fmt.Fprintf(&hostsTxt, "%s %s\n", ip, d)
	}
	must(t, os.WriteFile(filepath.Join(dir, "hosts"), []byte(hostsTxt.String()), 0o644))
	accounts := filepath.Join(dir, "data", strings.ReplaceAll(domain, ".", "%2e"), "accounts")
	must(t, os.MkdirAll(accounts, 0o700))
	must(t, os.WriteFile(filepath.Join(accounts, "bob.dat"), []byte(`return { ["password"] = "pw-bob-123"; };`+"\n"), 0o600))
	c2sPort, s2sPort := freePort(t), freePort(t)
	p := &prosodyServer{
		domain: domain,
		c2s:    net.JoinHostPort("127.0.0.1", strconv.Itoa(c2sPort)),
		s2s:    net.JoinHostPort("127.0.0.1", strconv.Itoa(s2sPort)),
		log:    filepath.Join(dir, "prosody.log"),
	}
	cfg := fmt.Sprintf(`-- written by hearth's TestProsodyFederation
run_as_root = true
pidfile = %[1]q
data_path = %[2]q
log = { debug = %[3]q }
interfaces = { "127.0.0.1" }
c2s_ports = { %[4]d }
s2s_ports = { %[5]d }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco", "ping", "presence" }
modules_disabled = { "posix" }
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = %[6]t
unbound = { hoststxt = %[7]q }
ssl = { certificate = %[8]q, key = %[9]q, cafile = %[10]q }
VirtualHost %[11]q
`, filepath.Join(dir, "prosody.pid"), filepath.Join(dir, "data"), p.log, c2sPort, s2sPort, secure,
		filepath.Join(dir, "hosts"), cert, key, ca.file, domain)
	cfgFile := filepath.Join(dir, "prosody.cfg.lua")
	must(t, os.WriteFile(cfgFile, []byte(cfg), 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-F", "--config", cfgFile)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() || os.Getenv("PROSODY_LOG") != "" {
			logText, _ := os.ReadFile(p.log)
			t.Logf("prosody output:\n%s\nprosody log:\n%s", out.String(), logText)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", p.s2s, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			logText, _ := os.ReadFile(p.log)
			t.Fatalf("prosody did not start: %v\n%s\n%s", err, out.String(), logText)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// login logs user in to Prosody (STARTTLS, PLAIN), binds resource and
// sends initial presence.
func (p *prosodyServer) login(t *testing.T, user, password, resource string) *xmpptest.Conn {
	t.Helper()
	c := xmpptest.Dial(t, p.c2s, p.domain, false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("PLAIN", user, password); f != nil {
		t.Fatalf("login to prosody: %s", f)
	}
	c.OpenStream()
	c.Bind(resource)
	c.Send("<presence/>")
	return c
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

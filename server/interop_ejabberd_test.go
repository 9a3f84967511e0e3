package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// TestEjabberdFederation federates hearth with Debian's ejabberd,
// started by the test with a configuration of its own. ejabberd resolves
// names with the system's resolver only, so hearth serves an IP-literal
// domain (a loopback address of its own, RFC 7622 allows it), which
// ejabberd reaches on port 5269 once SRV lookups fail; hearth reaches
// ejabberd through a pinned address. The certificates do not validate
// (hearth's are self-signed), so the servers authenticate each other
// with dialback over TLS.
func TestEjabberdFederation(t *testing.T) {
	t.Parallel()
	ctl := requireEjabberd(t)
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(250)+1, rand.IntN(250)+1)
	a := fedServerAt(t, ip, nil, ip+":5269", "require_valid_certs = false\n")
	a.AddUser(t, "alice", "pw-alice-1")
	e := startEjabberd(t, ctl, "e.example")
	a.S2S().Pin("e.example", e.s2s)
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := e.login(t, "bob", "pw-bob-123", "phone")

	aliceJID := "alice@" + ip + "/laptop"
	alice.Send("<message to='bob@e.example/phone' type='chat' id='e1'><body>hello ejabberd</body></message>")
	m := bob.Expect("alice's message", isMessageFrom(aliceJID))
	if m.ChildText(stanza.NSClient, "body") != "hello ejabberd" {
		t.Errorf("bob got %s", m)
	}
	bob.Send("<message to='" + aliceJID + "' type='chat' id='e2'><body>hello hearth</body></message>")
	m = alice.Expect("bob's message", isMessageFrom("bob@e.example/phone"))
	if m.ChildText(stanza.NSClient, "body") != "hello hearth" {
		t.Errorf("alice got %s", m)
	}
	res := alice.IQ("<iq to='e.example' type='get' id='e3'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "result" {
		t.Errorf("ping e.example: %s", res)
	}
}

// requireEjabberd returns the path of Debian's ejabberdctl, which must be
// run as root or as the ejabberd user. In CI its absence fails the test
// (scripts/test installs it); elsewhere the test is skipped, loudly.
func requireEjabberd(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ejabberdctl")
	if err == nil && os.Geteuid() != 0 {
		if u, uerr := user.Current(); uerr != nil || u.Username != "ejabberd" {
			err = fmt.Errorf("ejabberdctl runs as root or ejabberd only")
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ejabberd is not usable (scripts/test installs it, as root): %v", err)
		}
		t.Skip("SKIPPING INTEROP TEST: ejabberd is not usable; run scripts/test as root or apt-get install ejabberd: ", err)
	}
	return path
}

type ejabberdServer struct {
	domain   string
	c2s, s2s string
}

// startEjabberd runs ejabberd for domain on loopback ports, in a folder
// of its own that the ejabberd user can read, with the account bob.
func startEjabberd(t *testing.T, ctl, domain string) *ejabberdServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "hearth-ejabberd-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, domain)
	certPEM, err := os.ReadFile(certFile)
	must(t, err)
	keyPEM, err := os.ReadFile(keyFile)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), append(certPEM, keyPEM...), 0o600))
	c2sPort, s2sPort := freePort(t), freePort(t)
	e := &ejabberdServer{
		domain: domain,
		c2s:    net.JoinHostPort("127.0.0.1", strconv.Itoa(c2sPort)),
		s2s:    net.JoinHostPort("127.0.0.1", strconv.Itoa(s2sPort)),
	}
	cfg := fmt.Sprintf(`# written by hearth's TestEjabberdFederation
hosts:
  - %[1]q
loglevel: debug
log_rotate_count: 0
certfiles:
  - %[2]q
listen:
  -
    port: %[3]d
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
  -
    port: %[4]d
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
s2s_use_starttls: required
s2s_dns_timeout: 2
s2s_dns_retries: 1
auth_method: internal
auth_password_format: plain
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_s2s_dialback: {}
`, domain, filepath.Join(dir, "cert.pem"), c2sPort, s2sPort)
	must(t, os.WriteFile(filepath.Join(dir, "ejabberd.yml"), []byte(cfg), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "inetrc"), nil, 0o644))
	for _, sub := range []string{"spool", "logs"} {
		must(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
	}
	// As root, ejabberdctl would start erl through su, in a session of
	// its own that the test could not stop: run it as the ejabberd user
	// directly, in a process group of its own, stopped at the end.
	attr := &syscall.SysProcAttr{Setpgid: true}
	env := os.Environ()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("ejabberd")
		must(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}))
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		env = append(env, "HOME="+u.HomeDir, "USER=ejabberd", "LOGNAME=ejabberd")
	}
	node := fmt.Sprintf("hearthtest%d@localhost", rand.Uint32())
	args := func(cmd ...string) []string {
		return append([]string{"--config-dir", dir, "--config", filepath.Join(dir, "ejabberd.yml"),
			"--spool", filepath.Join(dir, "spool"), "--logs", filepath.Join(dir, "logs"), "--node", node}, cmd...)
	}
	command := func(ctx context.Context, cmd ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, ctl, args(cmd...)...)
		c.Dir, c.Env, c.SysProcAttr = dir, env, attr
		return c
	}
	cmd := command(context.Background(), "foreground")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() || os.Getenv("EJABBERD_LOG") != "" {
			t.Logf("ejabberd output:\n%s", out.String())
			logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
			for _, l := range logs {
				text, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", filepath.Base(l), text)
			}
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", e.c2s, time.Second)
		if err == nil {
			nc.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("ejabberd exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ejabberd did not start: %v\n%s", err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := command(ctx, "register", "bob", domain, "pw-bob-123")
	if b, err := reg.CombinedOutput(); err != nil {
		t.Fatalf("ejabberdctl register: %v\n%s", err, b)
	}
	return e
}

// login logs user in to ejabberd (STARTTLS, PLAIN), binds resource and
// sends initial presence.
func (e *ejabberdServer) login(t *testing.T, user, password, resource string) *xmpptest.Conn {
	t.Helper()
	c := xmpptest.Dial(t, e.c2s, e.domain, false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("PLAIN", user, password); f != nil {
		t.Fatalf("login to ejabberd: %s", f)
	}
	c.OpenStream()
	c.Bind(resource)
	c.Send("<presence/>")
	return c
}

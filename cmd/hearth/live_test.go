package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hearth/xmpptest"
)

// TestAccountCommandsWhileServing runs the account commands against the
// SQLite database of a running server, as an operator does.
func TestAccountCommandsWhileServing(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	cfg := filepath.Join(t.TempDir(), "hearth.toml")
	body := fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n", srv.DataDir)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "carols-password\n", "adduser", "carol@localhost", "-c", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("adduser: exit %d, %s %s", code, out, errOut)
	}
	c := srv.Login(t, "carol", "carols-password", "laptop")
	res := c.IQ("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("ping: %s", res)
	}
	if code, out, _ := runCLI(t, "", "users", "-c", cfg); code != 0 || !strings.Contains(out, "carol@localhost") {
		t.Errorf("users: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI(t, "new-password-1\n", "passwd", "carol@localhost", "-c", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("passwd: %s", errOut)
	}
	srv.Login(t, "carol", "new-password-1", "phone")
	if code, _, errOut := runCLI(t, "", "deluser", "carol@localhost", "-c", cfg); code != 0 {
		t.Fatalf("deluser: %s", errOut)
	}
	d := xmpptest.Dial(t, srv.C2S, "localhost", false)
	d.OpenStream()
	d.StartTLS()
	if f := d.Auth("SCRAM-SHA-256", "carol", "new-password-1"); f == nil {
		t.Errorf("a deleted account still logs in")
	}
}

// TestStatusWhileServing: hearth status reads the running server's
// sessions from its metrics listener and the certificates' expiry.
func TestStatusWhileServing(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[listen]\nc2s = [\"127.0.0.1:0\"]\nmetrics = [\"127.0.0.1:0\"]")
	srv.AddUser(t, "alice", "pw")
	srv.LoginAvailable(t, "alice", "pw", "a")
	metrics := srv.Addrs("metrics")[0]
	cfg := filepath.Join(t.TempDir(), "hearth.toml")
	body := fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nmetrics = [%q]\n", srv.DataDir, metrics)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	for _, want := range []string{"localhost", "days), issued by localhost [self-signed]", "client sessions: 1", "server links:    0"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// Without a metrics listener it says how to get one.
	os.WriteFile(cfg, []byte(fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n", srv.DataDir)), 0o600)
	if _, out, _ := runCLI(t, "", "status", "-c", cfg); !strings.Contains(out, "add [listen] metrics") {
		t.Errorf("status without metrics:\n%s", out)
	}
}

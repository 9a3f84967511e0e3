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

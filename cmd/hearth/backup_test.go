package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hearth/xmpptest"
)

// TestBackupRestore backs up a running server's data, then restores it
// into an empty installation and logs in there.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "alice-pw-1")
	c := srv.Login(t, "alice", "alice-pw-1", "phone")
	if r := c.IQ("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='spam@example.org'/></block></iq>"); r.Get("type") != "result" {
		t.Fatalf("block: %s", r)
	}

	cfg := filepath.Join(t.TempDir(), "hearth.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n", srv.DataDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	backups := t.TempDir()
	code, out, errOut := runCLI(t, "", "backup", backups, "-c", cfg)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	snaps, _ := filepath.Glob(filepath.Join(backups, "hearth-backup-*"))
	if len(snaps) != 1 || !strings.Contains(out, snaps[0]) {
		t.Fatalf("backup wrote %v; said %q", snaps, out)
	}
	snap := snaps[0]
	for _, f := range []string{"hearth.db", "hearth.toml", "data/certs/localhost.crt"} {
		if fi, err := os.Stat(filepath.Join(snap, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup lacks %s or it is not private: %v %v", f, fi, err)
		}
	}
	if _, err := os.Stat(filepath.Join(snap, "data", "hearth.db-wal")); err == nil {
		t.Errorf("the live WAL file was copied")
	}

	// While the first server runs on its ports, a restore onto a
	// configuration with those ports refuses.
	busy := filepath.Join(t.TempDir(), "busy.toml")
	os.WriteFile(busy, []byte(fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = [%q]\n", t.TempDir(), srv.C2S)), 0o600)
	if code, _, errOut := runCLI(t, "", "restore", snap, "-c", busy); code != 1 || !strings.Contains(errOut, "stop hearth") {
		t.Errorf("restore next to a running server: exit %d, %q", code, errOut)
	}

	// Restore into a fresh installation, then serve it.
	dir2 := t.TempDir()
	cfg2 := filepath.Join(t.TempDir(), "hearth.toml")
	os.WriteFile(cfg2, []byte(fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = []\n", dir2)), 0o600)
	if code, out, errOut := runCLI(t, "", "restore", snap, "-c", cfg2); code != 0 {
		t.Fatalf("restore: exit %d: %s %s", code, out, errOut)
	}
	crt1, _ := os.ReadFile(filepath.Join(srv.DataDir, "certs", "localhost.crt"))
	crt2, _ := os.ReadFile(filepath.Join(dir2, "certs", "localhost.crt"))
	if len(crt1) == 0 || string(crt1) != string(crt2) {
		t.Errorf("the generated certificate was not restored")
	}
	srv2, stop2 := xmpptest.NewServerAt(t, dir2, "")
	c2 := srv2.Login(t, "alice", "alice-pw-1", "laptop")
	res := c2.IQ("<iq type='get' id='b2'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	if !strings.Contains(res.String(), "spam@example.org") {
		t.Errorf("the restored blocklist: %s", res)
	}

	// Restoring again keeps the database it replaces.
	stop2()
	code, out, errOut = runCLI(t, "", "restore", snap, "-c", cfg2)
	if code != 0 || !strings.Contains(out, "previous database is kept as") {
		t.Fatalf("second restore: exit %d: %s %s", code, out, errOut)
	}
	kept, _ := filepath.Glob(filepath.Join(dir2, "hearth.db.before-restore-*"))
	if len(kept) == 0 {
		t.Errorf("no kept database in %s", dir2)
	}
}

func TestBackupOtherDrivers(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "[storage]\ndriver = \"postgres\"\ndsn = \"postgres://hearth@localhost/hearth\"\n")
	for cmd, want := range map[string]string{"backup": "pg_dump", "restore": "pg_restore"} {
		code, _, errOut := runCLI(t, "", cmd, t.TempDir(), "-c", cfg)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%s on postgres: exit %d, %q", cmd, code, errOut)
		}
	}
	if code, _, _ := runCLI(t, "", "backup", "-c", cfg); code != 2 {
		t.Errorf("backup without DIR: exit %d, want 2", code)
	}
}

package dump

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestProsodySQLLive has the Prosody installed here create accounts in
// its SQL storage with SQLite (prosodyctl register, hashed and plaintext
// authentication), imports the database and checks the passwords. The
// other stores are covered by TestReadProsodySQL on a database Prosody
// wrote (running its admin shell here would need a running server).
func TestProsodySQLLive(t *testing.T) {
	ctl, err := exec.LookPath("prosodyctl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("prosody is not installed (scripts/test installs it): %v", err)
		}
		t.Skip("SKIPPING PROSODY SQL IMPORT TEST: prosody is not installed; run scripts/test or apt-get install prosody lua-dbi-sqlite3")
	}
	for _, auth := range []string{"internal_hashed", "internal_plain"} {
		t.Run(auth, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "hearth-prosody-sql-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "prosody.cfg.lua")
			conf := fmt.Sprintf(`data_path = %[1]q
pidfile = %[1]q .. "/prosody.pid"
log = { { levels = { min = "error" }, to = "file", filename = %[1]q .. "/prosody.log" } }
storage = "sql"
sql = { driver = "SQLite3", database = "prosody.sqlite" }
authentication = %[2]q
VirtualHost "example.org"
`, dir, auth)
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, u := range [][2]string{{"alice", "s3cret-pass"}, {"bob", "pässwörd"}} {
				cmd := exec.Command(ctl, "--config", cfg, "register", u[0], "example.org", u[1])
				if os.Geteuid() == 0 {
					pu, err := user.Lookup("prosody")
					if err != nil {
						t.Fatalf("running as root and there is no prosody user: %v", err)
					}
					uid, _ := strconv.Atoi(pu.Uid)
					gid, _ := strconv.Atoi(pu.Gid)
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					log, _ := os.ReadFile(filepath.Join(dir, "prosody.log"))
					t.Fatalf("prosodyctl register %s: %v\n%s\n%s (SQLite storage needs lua-dbi-sqlite3)", u[0], err, out, log)
				}
			}
			st := openSQLite(t)
			im := &Importer{Store: st, Sections: Sections(), Iterations: 4096}
			n := 0
			err = ReadProsodySQL(t.Context(), filepath.Join(dir, "prosody.sqlite"), "example.org", func(u User) error {
				n++
				_, err := im.Import(t.Context(), u)
				return err
			})
			if err != nil || n != 2 {
				t.Fatalf("import: %d users, %v", n, err)
			}
			for u, pw := range map[string]string{"alice": "s3cret-pass", "bob": "pässwörd"} {
				a, err := st.Accounts().Get(t.Context(), "example.org", u)
				if err != nil {
					t.Fatal(err)
				}
				if !a.Credentials.Verify(pw) || a.Credentials.Verify(pw+"x") {
					t.Errorf("%s: imported credentials do not check the password", u)
				}
				// Plaintext passwords become both SCRAM keys.
				if auth == "internal_plain" && len(a.Credentials.SHA256.StoredKey) == 0 {
					t.Errorf("%s: no SCRAM-SHA-256 key derived from the plaintext password", u)
				}
			}
		})
	}
}

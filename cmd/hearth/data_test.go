package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "hosts = [\"example.org\"]\n")
	for _, s := range []struct {
		name    string
		args    []string
		wantOut string
	}{
		{"check a new database", []string{"migrate", "--check", "-c", cfg}, "schema version 0 (sqlite): 1 migration(s) pending, up to version 1"},
		{"migrate", []string{"migrate", "-c", cfg}, "schema version 0 -> 1 (sqlite): applied 1 migration(s)"},
		{"migrate again", []string{"migrate", "-c", cfg}, "schema version 1 (sqlite): up to date, nothing applied"},
		{"check", []string{"migrate", "-c", cfg, "--check"}, "schema version 1 (sqlite): up to date"},
	} {
		code, out, errOut := runCLI(t, "", s.args...)
		if code != 0 || !strings.Contains(out, s.wantOut) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want stdout containing %q", s.name, code, out, errOut, s.wantOut)
		}
	}
	if code, _, errOut := runCLI(t, "", "migrate", "extra", "-c", cfg); code != 2 || !strings.Contains(errOut, "unexpected argument") {
		t.Errorf("migrate with an argument: exit %d, %q", code, errOut)
	}
}

func TestExportImportCommands(t *testing.T) {
	t.Parallel()
	hosts := "hosts = [\"example.org\", \"example.net\"]\n"
	src := writeConfig(t, hosts)
	dst := writeConfig(t, hosts)
	dumpFile := filepath.Join(t.TempDir(), "dump.xml")
	step := func(name, stdin string, wantCode int, wantOut string, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, stdin, args...)
		if code != wantCode || !strings.Contains(out, wantOut) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q", name, code, out, errOut, wantCode, wantOut)
		}
		return out
	}
	step("add alice", "alice-pass\n", 0, "created", "adduser", "alice@example.org", "-c", src, "--password-stdin")
	step("add zed", "zed-pass\n", 0, "created", "adduser", "zed@example.net", "-c", src, "--password-stdin")
	step("export", "", 0, "exported to "+dumpFile, "export", "-c", src, dumpFile)
	fi, err := os.Stat(dumpFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("dump file mode %v, want 0600 (it holds password hashes)", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(dumpFile)
	if !bytes.Contains(first, []byte("<user name='alice'>")) || !bytes.Contains(first, []byte("mechanism=\"SCRAM-SHA-256\"")) {
		t.Errorf("dump:\n%s", first)
	}
	step("export one host to stdout", "", 0, "<host jid='example.net'>", "export", "--host", "example.net", "-", "-c", src)
	if out := step("export one host to stdout", "", 0, "", "export", "--host", "example.net", "-", "-c", src); strings.Contains(out, "alice") {
		t.Errorf("export --host example.net has alice:\n%s", out)
	}

	step("import", "", 0, "zed@example.net: created\nalice@example.org: created\n2 created, 0 replaced, 0 skipped", "import", "-c", dst, dumpFile)
	step("import again", "", 0, "0 created, 0 replaced, 2 skipped (existing; use --replace to overwrite them)", "import", dumpFile, "-c", dst)
	step("import with --replace from stdin", string(first), 0, "0 created, 2 replaced, 0 skipped", "import", "--replace", "-", "-c", dst)
	if second := step("export the copy", "", 0, "", "export", "-", "-c", dst); second != string(first) {
		t.Errorf("export after import differs:\n%s\n---\n%s", first, second)
	}
	step("the password survived", "", 0, "alice@example.org", "users", "-c", dst)

	narrow := writeConfig(t, "hosts = [\"example.org\"]\n")
	step("import of a host not served", "", 0, "skipped 1 user(s) of example.net: not served here (hosts: example.org)", "import", "-c", narrow, dumpFile)

	prosody := writeConfig(t, "hosts = [\"example.org\", \"old-host.example.net\"]\n")
	step("prosody import", "", 0, "alice@example.org: created\n  warning: SCRAM-SHA-1 credentials only", "import", "-c", prosody, "--prosody", "../../dump/testdata/prosody")
	step("prosody import of one host", "", 0, "0 created, 0 replaced, 1 skipped", "import", "-c", prosody, "--prosody", "../../dump/testdata/prosody", "--host", "old-host.example.net")

	prosodySQL := writeConfig(t, "hosts = [\"example.org\"]\n")
	step("prosody sql import", "", 0, "bob@example.org: created\n  warning: SCRAM-SHA-1 credentials only: SCRAM-SHA-256 logins fail until the password is set again\n2 created, 0 replaced, 0 skipped", "import", "-c", prosodySQL, "--prosody", "../../dump/testdata/prosody.sqlite")
	sqlDir := t.TempDir()
	if b, err := os.ReadFile("../../dump/testdata/prosody.sqlite"); err != nil || os.WriteFile(filepath.Join(sqlDir, "prosody.sqlite"), b, 0o600) != nil {
		t.Fatal("copying prosody.sqlite")
	}
	step("prosody sql import of a data directory", "", 0, "0 created, 0 replaced, 2 skipped", "import", "-c", prosodySQL, "--prosody", sqlDir)

	for _, args := range [][]string{
		{"import", "-c", dst},
		{"import", "-c", dst, "--prosody", "x", "file"},
		{"import", "-c", dst, "--host", "example.org", "file"},
		{"export", "-c", dst},
	} {
		if code, _, _ := runCLI(t, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := runCLI(t, "", "import", "-c", dst, filepath.Join(t.TempDir(), "missing.xml")); code != 1 || !strings.Contains(errOut, "missing.xml") {
		t.Errorf("import of a missing file: exit %d, %q", code, errOut)
	}
}

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// runCLI runs one command line and returns its exit code and output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "hearth.toml")
	full := fmt.Sprintf("data_dir = %q\n%s", filepath.Join(dir, "data"), body)
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAccountCommands(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "hosts = [\"example.org\", \"example.net\"]\n")
	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{"add alice", "s3cret-pass\n", []string{"adduser", "alice@example.org", "-c", cfg, "--password-stdin"}, 0, "created alice@example.org", ""},
		{"add bob on the second host", "another-pass\n", []string{"adduser", "-c", cfg, "--password-stdin", "Bob@Example.NET"}, 0, "created bob@example.net", ""},
		{"add alice again", "x-password\n", []string{"adduser", "alice@example.org", "-c", cfg, "--password-stdin"}, 1, "", "already exists"},
		{"add on a host not served", "x-password\n", []string{"adduser", "carol@elsewhere.org", "-c", cfg, "--password-stdin"}, 2, "", "not served"},
		{"add a malformed JID", "x-password\n", []string{"adduser", "not a jid@", "-c", cfg, "--password-stdin"}, 2, "", "not a valid account"},
		{"add with an empty password", "\n", []string{"adduser", "dave@example.org", "-c", cfg, "--password-stdin"}, 2, "", "empty password"},
		{"add without a terminal", "", []string{"adduser", "dave@example.org", "-c", cfg}, 2, "", "--password-stdin"},
		{"list all (by host, then user)", "", []string{"users", "-c", cfg}, 0, "bob@example.net\nalice@example.org\n", ""},
		{"list one host", "", []string{"users", "example.net", "-c", cfg}, 0, "bob@example.net\n", ""},
		{"passwd", "new-password\n", []string{"passwd", "alice@example.org", "-c", cfg, "--password-stdin"}, 0, "changed the password", ""},
		{"passwd unknown", "new-password\n", []string{"passwd", "zed@example.org", "-c", cfg, "--password-stdin"}, 1, "", "does not exist"},
		{"deluser", "", []string{"deluser", "bob@example.net", "-c", cfg}, 0, "deleted bob@example.net", ""},
		{"deluser again", "", []string{"deluser", "bob@example.net", "-c", cfg}, 1, "", "does not exist"},
		{"list after delete", "", []string{"users", "-c", cfg}, 0, "alice@example.org\n", ""},
		{"unknown command", "", []string{"frobnicate"}, 2, "", "unknown command"},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, s.stdin, s.args...)
		if code != s.wantCode || !strings.Contains(out, s.wantOut) || !strings.Contains(errOut, s.wantErr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
				s.name, code, out, errOut, s.wantCode, s.wantOut, s.wantErr)
		}
	}
	if code, out, _ := runCLI(t, "", "users", "-c", cfg); code != 0 || strings.Contains(out, "bob") {
		t.Errorf("users after deluser: %q", out)
	}
}

func TestConfigErrorsExit2(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // subtests run after this function returns
	tests := []struct {
		name, config, wantErr string
	}{
		{"unknown top-level key", "hots = [\"x\"]\n", `unknown key "hots"`},
		{"unknown nested key", "[listen]\nc2s = [\"127.0.0.1:0\"]\nc2ss = []\n", "listen.c2ss"},
		{"unknown section", "[frobnicator]\nx = 1\n", "[frobnicator]"},
		{"unknown key in a module section", "[registration]\nmode = \"open\"\nmoed = 1\n", "registration.moed"},
		{"bad value in a module section", "[registration]\nmode = 7\n", "registration"},
		{"missing certificate", "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n", "/nonexistent/cert.pem"},
		{"port in use", "[listen]\nc2s = [\"" + busy.Addr().String() + "\"]\nc2s_tls = []\n", busy.Addr().String()},
		{"bad storage driver", "[storage]\ndriver = \"oracle\"\n", "storage.driver"},
		{"syntax error", "hosts = [\n", "hearth.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := writeConfig(t, tc.config)
			type result struct {
				code   int
				errOut string
			}
			done := make(chan result, 1)
			go func() {
				var out, errOut bytes.Buffer
				code := run([]string{"serve", "-c", cfg}, strings.NewReader(""), &out, &errOut)
				done <- result{code, errOut.String()}
			}()
			var code int
			var errOut string
			select {
			case r := <-done:
				code, errOut = r.code, r.errOut
			case <-time.After(30 * time.Second):
				t.Fatalf("serve started although the configuration is wrong")
			}
			if code != 2 || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %q", code, errOut, tc.wantErr)
			}
		})
	}
}

// binDir holds the hearth binary the tests that run `hearth serve` as a
// process share; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// builtBinary builds the hearth binary once for the whole test run.
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hearth-test-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "hearth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// hearthBinary returns the path of the hearth binary built from this
// package, building it on first use.
func hearthBinary(t *testing.T) string {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

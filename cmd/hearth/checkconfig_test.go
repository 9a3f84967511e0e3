package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names, valid until
// notAfter, as dir/base.crt and dir/base.key, and returns their paths.
func writeCert(t *testing.T, dir, base string, notAfter time.Time, names ...string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    notAfter.AddDate(-1, 0, 0),
		NotAfter:     notAfter,
		DNSNames:     names,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestCheckConfigOK(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nextYear := time.Now().AddDate(1, 0, 0)
	cert, key := writeCert(t, dir, "pair", nextYear, "example.org", "*.example.org", "example.net")
	writeCert(t, filepath.Join(dir, "certs"), "example.org", nextYear, "example.org")
	writeCert(t, filepath.Join(dir, "certs", "example.net"), "fullchain", nextYear, "example.net")
	os.Rename(filepath.Join(dir, "certs", "example.net", "fullchain.key"), filepath.Join(dir, "certs", "example.net", "privkey.pem"))
	os.Rename(filepath.Join(dir, "certs", "example.net", "fullchain.crt"), filepath.Join(dir, "certs", "example.net", "fullchain.pem"))

	tests := []struct {
		name, config string
		wantWarning  string // "" means no warning at all
	}{
		{"one pair for every host", `hosts = ["example.org", "example.net"]
[tls]
cert = "` + cert + `"
key = "` + key + `"
[listen]
c2s = ["127.0.0.1:5222"]
metrics = ["127.0.0.1:5290"]
[registration]
mode = "open"
[log]
levels = { stream = "debug" }
trace = ["alice@example.org"]
`, ""},
		{"a folder with both layouts", `hosts = ["example.org", "example.net"]
[tls]
dir = "` + filepath.Join(dir, "certs") + `"
`, ""},
		{"self-signed", `hosts = ["example.org"]`, "self-signed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tc.config)
			code, out, errOut := runCLI(t, "", "check-config", "-c", path)
			if code != 0 || !strings.Contains(out, "configuration OK") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and configuration OK", code, out, errOut)
			}
			if tc.wantWarning == "" && errOut != "" || !strings.Contains(errOut, tc.wantWarning) {
				t.Errorf("stderr %q, want warnings %q", errOut, tc.wantWarning)
			}
			// Nothing was started: no database, no generated certificate.
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "data")); !os.IsNotExist(err) {
				t.Errorf("check-config created the data directory (%v)", err)
			}
		})
	}
}

func TestCheckConfigWarnings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other, otherKey := writeCert(t, dir, "other", time.Now().AddDate(1, 0, 0), "other.example")
	old, oldKey := writeCert(t, dir, "old", time.Now().AddDate(0, 0, -1), "example.org")
	tests := []struct{ name, config, want string }{
		{"certificate not covering a host", `hosts = ["example.org"]
[tls]
cert = "` + other + `"
key = "` + otherKey + `"
`, "does not cover example.org (it names other.example)"},
		{"expired certificate", `hosts = ["example.org"]
[tls]
cert = "` + old + `"
key = "` + oldKey + `"
`, "expired on"},
		{"upload without a web listener", `hosts = ["example.org"]
[tls]
cert = "` + other + `"
key = "` + otherKey + `"
[upload]
max_file_size = 1000
`, "file upload is off"},
		{"plain http only", `hosts = ["example.org"]
[listen]
http = [":5280"]
[tls]
cert = "` + other + `"
key = "` + otherKey + `"
`, "web clients cannot log in"},
		{"self-signed certificates with federation", `hosts = ["example.org"]
[listen]
s2s = [":5269"]
`, "other servers accept only by dialback"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, "", "check-config", "-c", writeConfig(t, tc.config))
			if code != 0 || !strings.Contains(out, "configuration OK") || !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 0, configuration OK and a warning %q", code, out, errOut, tc.want)
			}
		})
	}
}

func TestCheckConfigProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "certs"), "example.org", time.Now().AddDate(1, 0, 0), "example.org")
	tests := []struct {
		name, config string
		want         []string // each in stderr
	}{
		{"syntax error", "hosts = [\n", []string{"problem: ", "hearth.toml"}},
		{"unknown key", "hots = [\"x\"]\n", []string{`unknown key "hots"`}},
		{"unknown nested key", "[listen]\nc2ss = []\n", []string{"listen.c2ss"}},
		{"bad core value", "[storage]\ndriver = \"oracle\"\n", []string{"storage.driver"}},
		{"unknown log subsystem", "[log]\nlevels = { streams = \"debug\" }\n", []string{`unknown subsystem "streams"`}},
		{"bad log level", "[log]\nlevels = { stream = \"loud\" }\n", []string{"log.levels.stream"}},
		{"unknown section", "[frobnicator]\nx = 1\n", []string{"[frobnicator]"}},
		{"unknown key in a module section", "[registration]\nmode = \"open\"\nmoed = 1\n", []string{"registration.moed"}},
		{"bad value in a module section", "[registration]\nmode = 7\n", []string{"registration"}},
		{"missing certificate", "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n", []string{"/nonexistent/cert.pem"}},
		{"host missing from the certificate folder", "hosts = [\"example.org\", \"example.net\"]\n[tls]\ndir = \"" + filepath.Join(dir, "certs") + "\"\n", []string{"no certificate for example.net"}},
		{"bad turn address", "[turn]\nenabled = true\nudp = [\"3478\"]\n", []string{`turn.udp: "3478"`}},
		{"bad turn port range", "[turn]\nenabled = true\nmin_port = 60000\nmax_port = 50000\n", []string{"turn.min_port"}},
		{"IPv6 relay bind", "[turn]\nrelay_bind = \"::\"\n", []string{"turn.relay_bind"}},
		{"bad denied peer", "[turn]\ndenied_peers = [\"10.0.0.1\"]\n", []string{"turn.denied_peers"}},
		{"bad extdisco service", "[[extdisco.services]]\ntype = \"ftp\"\nhost = \"x\"\n", []string{"extdisco.services[0].type"}},
		{"several problems, each reported", "[listen]\nc2s = [\"5222\"]\nmetrics = [\"localhost:http-ish\"]\n[log]\ntrace = [\"example.org\"]\n[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
			[]string{`listen.c2s: "5222"`, `listen.metrics: "localhost:http-ish"`, `log.trace: "example.org"`, "/nonexistent/cert.pem", "4 problems"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, "", "check-config", "-c", writeConfig(t, tc.config))
			if code != 2 || strings.Contains(out, "configuration OK") {
				t.Errorf("exit %d, stdout %q; want exit 2 and no OK", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
		})
	}
	if code, _, errOut := runCLI(t, "", "check-config", "extra"); code != 2 || !strings.Contains(errOut, "unexpected argument") {
		t.Errorf("check-config extra: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "check-config", "-c", filepath.Join(dir, "missing.toml")); code != 2 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("check-config of a missing file: exit %d, stderr %q", code, errOut)
	}
}

// TestPackagedConfig checks that packaging/hearth.toml, with its domain and
// paths moved into a test folder, passes check-config.
func TestPackagedConfig(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../packaging/hearth.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := strings.NewReplacer(
		"example.org", "hearth.test",
		"/var/lib/hearth", filepath.Join(dir, "data"),
		"/etc/hearth", filepath.Join(dir, "etc"),
	).Replace(string(data))
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && (strings.Contains(line, "\"/var/") || strings.Contains(line, "\"/etc/")) {
			t.Fatalf("the packaged configuration names a path the test does not move: %s", line)
		}
	}
	path := filepath.Join(dir, "hearth.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "check-config", "-c", path)
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("exit %d, stdout %q, stderr %q; want configuration OK", code, out, errOut)
	}
	// Uncommenting the documented examples must keep it valid.
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		for _, key := range []string{"# metrics = ", "# levels = ", "# trace = ", "# admin = ", "# max_stanza_size ", "# scram_iterations ",
			"# s2s_tls = ", "# component = ", "# require_valid_certs ", "# static = ", "# connect_timeout ", "# [components]", "# \"irc."} {
			if strings.HasPrefix(line, key) {
				line = strings.TrimPrefix(line, "# ")
			}
		}
		b.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(b.String(), "example.org", "hearth.test")), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "", "check-config", "-c", path); code != 0 {
		t.Errorf("with the examples uncommented: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestSystemdUnit asks systemd-analyze, when installed, to verify the unit
// with ExecStart pointing at a real binary.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile("../../packaging/hearth.service")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.Executable() // any executable file will do
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hearth.service")
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/hearth", bin)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// Outside a booted systemd (containers, CI) verify also reports on
	// the host's own units; only lines about ours matter.
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "hearth.service") {
			ours = append(ours, line)
		}
	}
	if len(ours) > 0 {
		t.Errorf("systemd-analyze verify (%v):\n%s", err, strings.Join(ours, "\n"))
	}
}

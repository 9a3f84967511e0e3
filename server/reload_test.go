package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/stanza"
	"hearth/xmpptest"
)

// TestReload changes the configuration of a running server: new
// certificates and limits apply to new connections, a session that was
// logged in stays and keeps its settings, and what cannot change live is
// reported.
func TestReload(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "alice-pw-1")
	alice := srv.LoginAvailable(t, "alice", "alice-pw-1", "before")
	oldCert := peerCert(t, srv)

	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir, "localhost")
	base := fmt.Sprintf("data_dir = %q\n[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = [\"127.0.0.1:0\"]\n", srv.DataDir)
	path := filepath.Join(dir, "hearth.toml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`hosts = ["localhost", "example.net"]
` + base + fmt.Sprintf(`[tls]
cert = %q
key = %q
[limits]
max_stanza_size = 4096
[log]
levels = { stream = "warn" }
[stream_management]
resume_timeout = 60
[offline]
max_messages = 1
[mam]
max_page = 20
`, certFile, keyFile))

	res, err := srv.Reload(path)
	if err != nil {
		t.Fatal(err)
	}
	wantApplied := []string{
		"tls: certificates reloaded (new for [localhost])",
		"limits.max_stanza_size: 262144 -> 4096",
		"log.levels: {} -> {stream=warn}",
		"module offline: settings reloaded",
	}
	if !slices.Equal(res.Applied, wantApplied) {
		t.Errorf("applied:\n%s\nwant:\n%s", strings.Join(res.Applied, "\n"), strings.Join(wantApplied, "\n"))
	}
	wantRestart := []string{
		"hosts: [localhost] -> [localhost example.net]",
		"stream_management.resume_timeout: 300 -> 60",
		"module mam: settings changed",
	}
	if !slices.Equal(res.NeedsRestart, wantRestart) {
		t.Errorf("needs restart:\n%s\nwant:\n%s", strings.Join(res.NeedsRestart, "\n"), strings.Join(wantRestart, "\n"))
	}

	// A stanza above the new limit (and below the old one).
	big := "<message type='chat' id='big' to='alice@localhost/before'><body>" + strings.Repeat("x", 6000) + "</body></message>"

	// The session logged in before the reload is still there, with the
	// limits it started with.
	alice.Send(big)
	if r := alice.Expect("the big message", func(el *stanza.Element) bool { return el.Get("id") == "big" }); r.Get("type") != "chat" {
		t.Errorf("old session, big message: %s", r)
	}

	// New connections get the new certificate and the new limit.
	if got := peerCert(t, srv); !bytes.Equal(got, readCertDER(t, certFile)) || bytes.Equal(got, oldCert) {
		t.Errorf("a new connection does not get the reloaded certificate")
	}
	bob := srv.Login(t, "alice", "alice-pw-1", "after")
	bob.Send(big)
	bob.Expect("policy-violation", func(el *stanza.Element) bool {
		return el.Name.Local == "error" && el.Child("", "policy-violation") != nil
	})

	// The offline module took its new limit: one message is stored for
	// carol, the second comes back.
	srv.AddUser(t, "carol", "carol-pw-1")
	alice.Send("<message type='chat' id='m1' to='carol@localhost'><body>one</body></message>")
	alice.Send("<message type='chat' id='m2' to='carol@localhost'><body>two</body></message>")
	bounce := alice.Expect("a bounce", func(el *stanza.Element) bool { return el.Get("type") == "error" })
	if bounce.Get("id") != "m2" {
		t.Errorf("bounced %s, want m2 only", bounce)
	}

	// Disabling offline storage changes what is advertised: restart.
	write("hosts = [\"localhost\"]\n" + base + fmt.Sprintf("[tls]\ncert = %q\nkey = %q\n[offline]\nmax_messages = 0\n", certFile, keyFile))
	res, err = srv.Reload(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.NeedsRestart, "module offline: settings changed") {
		t.Errorf("disabling offline storage live: %v", res)
	}

	// A broken file changes nothing.
	write("hosts = [\"localhost\"]\n" + base + "[log]\nlevel = \"loud\"\n")
	_, err = srv.Reload(path)
	var ce *server.ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("reload of a bad file: %v, want a ConfigError", err)
	}
	if got := peerCert(t, srv); !bytes.Equal(got, readCertDER(t, certFile)) {
		t.Errorf("a failed reload changed the certificate")
	}
	alice.IQ("<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
}

// peerCert returns the certificate a new direct TLS connection gets.
func peerCert(t *testing.T, srv *xmpptest.Server) []byte {
	t.Helper()
	c, err := xmpptest.DialTLSConfig(t, srv.C2STLS, srv.Domain, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.NetConn().Close()
	return c.TLSState().PeerCertificates[0].Raw
}

func readCertDER(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	return blk.Bytes
}

// writeTestCert writes a self-signed certificate for domain into dir.
func writeTestCert(t *testing.T, dir, domain string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{domain},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// TestReloadLogLevels changes [log] levels live: the reload's own
// "configuration reloaded" (info, subsystem server) is silenced by
// levels = { server = "error" } and heard again without it.
func TestReloadLogLevels(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	srv := serverLoggingTo(t, &out, "")
	path := filepath.Join(t.TempDir(), "hearth.toml")
	base := fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = []\n", srv.DataDir)
	reload := func(extra string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(base+extra), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Reload(path); err != nil {
			t.Fatal(err)
		}
	}
	reload("[log]\nlevels = { server = \"error\" }\n")
	if strings.Contains(out.String(), "configuration reloaded") {
		t.Errorf("server info logged at level error:\n%s", out.String())
	}
	reload("")
	if !strings.Contains(out.String(), "configuration reloaded") {
		t.Errorf("server info not logged after the level went back:\n%s", out.String())
	}
}

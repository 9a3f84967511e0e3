// Package xmpptest runs hearth in-process on loopback ports and speaks XMPP
// to it over real TCP and TLS, as clients do. It is imported only by tests.
package xmpptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"hearth/config"
	"hearth/jid"
	"hearth/sasl"
	"hearth/server"
)

// Server is an in-process hearth listening on 127.0.0.1 ports.
type Server struct {
	*server.Server
	Domain  string // first host
	DataDir string
	C2S     string // STARTTLS listener address
	C2STLS  string // direct TLS listener address
	Config  *config.File
}

// NewServer starts a server for the test. extraTOML is added to a base
// configuration that sets data_dir (a temporary folder), loopback
// listeners on free ports and, unless extraTOML sets them, hosts =
// ["localhost"]. The server stops at the end of the test and Cleanup fails
// the test if it does not stop in time.
func NewServer(t testing.TB, extraTOML string) *Server {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	if !strings.Contains(extraTOML, "hosts") {
		b.WriteString("hosts = [\"localhost\"]\n")
	}
	fmt.Fprintf(&b, "data_dir = %q\n", dir)
	b.WriteString(extraTOML)
	b.WriteString("\n")
	if !strings.Contains(extraTOML, "[listen]") {
		b.WriteString("[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = [\"127.0.0.1:0\"]\n")
	}
	cfg, err := config.Parse(b.String())
	if err != nil {
		t.Fatalf("config: %v\n%s", err, b.String())
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("HEARTH_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, server.Options{Log: log})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		srv.Serve(ctx)
		close(done)
	}()
	s := &Server{Server: srv, Domain: cfg.Hosts[0], DataDir: dir, Config: cfg}
	if a := srv.Addrs("c2s"); len(a) > 0 {
		s.C2S = a[0]
	}
	if a := srv.Addrs("c2s_tls"); len(a) > 0 {
		s.C2STLS = a[0]
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("server did not shut down within 10s")
		}
		srv.Close()
	})
	return s
}

// AddUser creates the account user (a bare JID or a localpart on Domain).
func (s *Server) AddUser(t testing.TB, user, password string) jid.JID {
	t.Helper()
	if !strings.Contains(user, "@") {
		user += "@" + s.Domain
	}
	j, err := jid.Parse(user)
	if err != nil {
		t.Fatalf("AddUser %q: %v", user, err)
	}
	cred, err := sasl.NewCredentials(password, 4096)
	if err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	if err := s.Store().Accounts().Create(context.Background(), j.Domain(), j.Local(), cred); err != nil {
		t.Fatalf("AddUser %s: %v", j, err)
	}
	return j
}

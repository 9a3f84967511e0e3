package xmpptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/config"
	"hearth/server"
)

// NewServerAt starts a server (NewServer calls it with a fresh folder) with data_dir set to
// dir, which the caller owns (usually a t.TempDir shared by several
// servers), so that a test can stop a server and start another one on the
// same data: a restart. extraTOML must not set data_dir.
//
// It returns the server and its stop function, which shuts the server
// down as the end of the test would (sessions get <system-shutdown/>),
// waits for it and closes its storage, so that the next server can open
// dir. Stop may be called more than once; the test's cleanup calls it
// too, and fails the test if the server does not stop within 10s.
func NewServerAt(t testing.TB, dir, extraTOML string) (*Server, func()) {
	t.Helper()
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
	if a := srv.Addrs("http"); len(a) > 0 {
		s.HTTP = a[0]
	}
	if a := srv.Addrs("https"); len(a) > 0 {
		s.HTTPS = a[0]
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("server did not shut down within 10s")
			}
			srv.Close()
		})
	}
	t.Cleanup(stop)
	return s, stop
}

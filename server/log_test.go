package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/config"
	"hearth/server"
	"hearth/xmpptest"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serverLoggingTo runs a server whose debug-level log goes to w, with
// extraTOML added to a loopback configuration.
func serverLoggingTo(t *testing.T, w *syncBuffer, extraTOML string) *xmpptest.Server {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = []\n%s", dir, extraTOML))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, server.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		srv.Serve(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("server did not shut down within 10s")
		}
		srv.Close()
	})
	return &xmpptest.Server{Server: srv, Domain: "localhost", DataDir: dir, C2S: srv.Addrs("c2s")[0], Config: cfg}
}

// chat logs alice and bob in (with SCRAM, PLAIN and a wrong password),
// has alice send body to bob, and ends both streams.
func chat(t *testing.T, srv *xmpptest.Server, alicePassword, bobPassword, body string) {
	t.Helper()
	srv.AddUser(t, "alice", alicePassword)
	srv.AddUser(t, "bob", bobPassword)
	wrong := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	wrong.OpenStream()
	wrong.StartTLS()
	if wrong.Auth("PLAIN", "alice", bobPassword) == nil {
		t.Fatal("PLAIN with the wrong password succeeded")
	}
	wrong.Close()

	plain := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	plain.OpenStream()
	plain.StartTLS()
	if f := plain.Auth("PLAIN", "bob", bobPassword); f != nil {
		t.Fatalf("PLAIN login failed: %s", f)
	}
	plain.OpenStream()
	plain.Bind("plain")
	plain.Send("<presence/>")

	alice := srv.LoginAvailable(t, "alice", alicePassword, "laptop")
	alice.Send("<message to='bob@localhost/plain' type='chat' id='m1'><body>" + body + "</body></message>")
	plain.Expect("the message", isMessage(body))
	plain.Send("<message to='alice@localhost' type='chat' id='m2'><body>" + body + " back</body></message>")
	alice.Expect("the reply", isMessage(body+" back"))
	alice.Close()
	plain.Close()
}

func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv := serverLoggingTo(t, &logs, "[log]\nlevel = \"debug\"\n")
	const alicePW, bobPW, body = "alice-pw-ZEBRA-71", "bob-pw-OKAPI-42", "body-QUOKKA-93"
	chat(t, srv, alicePW, bobPW, body)
	srv.Shutdown() // flush what closing streams log

	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") {
		// Authentication is logged at debug level: without it this test
		// would check nothing.
		t.Errorf("nothing was logged at debug level:\n%s", out)
	}
	secrets := []string{
		alicePW, bobPW, body,
		base64.StdEncoding.EncodeToString([]byte("\x00bob\x00" + bobPW)),
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + bobPW)),
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log holds %q:\n%s", s, out)
		}
	}
}

func TestTraceLogsOneAccount(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	// Only alice is traced; the level of the other subsystems stays info.
	srv := serverLoggingTo(t, &logs, "[log]\ntrace = [\"Alice@LocalHost\"]\nlevels = { stream = \"info\", router = \"info\", modules = \"info\", server = \"info\" }\n")
	const alicePW, bobPW, body = "alice-pw-ZEBRA-71", "bob-pw-OKAPI-42", "body-QUOKKA-93"
	chat(t, srv, alicePW, bobPW, body)
	srv.Shutdown()

	var in, out int
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, alicePW) || strings.Contains(line, bobPW) {
			t.Errorf("a password reached the log: %s", line)
		}
		if !strings.Contains(line, body) {
			continue
		}
		if !strings.Contains(line, "subsystem=trace") || !strings.Contains(line, "jid=alice@localhost") || !strings.Contains(line, "level=DEBUG") {
			t.Errorf("a body reached the log outside alice's trace: %s", line)
		}
		switch {
		case strings.Contains(line, `msg="stanza in"`):
			in++
		case strings.Contains(line, `msg="stanza out"`):
			out++
		}
	}
	// alice sent the message and received the reply: once in each direction.
	if in != 1 || out != 1 {
		t.Errorf("traced %d incoming and %d outgoing stanzas with the body, want 1 and 1:\n%s", in, out, logs.String())
	}
}

func TestTraceRefusesBadJID(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(fmt.Sprintf("data_dir = %q\n[log]\ntrace = [\"localhost\"]\n", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.New(cfg, server.Options{Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "log.trace") {
		t.Errorf("New with a domain in log.trace: %v, want an error naming log.trace", err)
	}
}

func TestSubsystemLevels(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := server.NewLogger(config.Log{
		Level:  "info",
		Format: "text",
		Levels: map[string]string{"stream": "debug", "router": "warn"},
	}, &buf)
	log.With("subsystem", "stream").Debug("stream-debug")
	log.With("subsystem", "router").Info("router-info")
	log.With("subsystem", "router").Warn("router-warn")
	log.With("subsystem", "server").Debug("server-debug")
	log.With("subsystem", "server").Info("server-info")
	log.With("subsystem", "stream").With("module", "x").Debug("stream-derived-debug")
	log.WithGroup("g").With("subsystem", "stream").Debug("grouped-debug")
	out := buf.String()
	for msg, want := range map[string]bool{
		"stream-debug": true, "router-info": false, "router-warn": true,
		"server-debug": false, "server-info": true, "stream-derived-debug": true,
		"grouped-debug": false, // a "subsystem" inside a group is not the subsystem
	} {
		if got := strings.Contains(out, "msg="+msg); got != want {
			t.Errorf("%s logged: %v, want %v\n%s", msg, got, want, out)
		}
	}
	if !strings.Contains(out, "subsystem=stream") {
		t.Errorf("records lack the subsystem attribute:\n%s", out)
	}
}

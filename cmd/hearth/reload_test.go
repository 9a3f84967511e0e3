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
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeSIGHUP runs the hearth binary and reloads it with SIGHUP, as
// systemctl reload does: the log says what was applied and what needs a
// restart, and the server keeps serving.
func TestServeSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := hearthBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "hearth.toml")
	base := fmt.Sprintf("data_dir = %q\n[listen]\nc2s = [%q]\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte("hosts = [\"localhost\"]\n"+base), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-c", cfg)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("hearth did not stop on SIGTERM")
		}
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); {
			select {
			case err := <-exited:
				t.Fatalf("hearth exited (%v) waiting for %s:\n%s", err, what, out.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s:\n%s", what, out.String())
			}
		}
	}
	waitFor("the welcome", func() bool { return strings.Contains(out.String(), "is running") })

	body := "hosts = [\"localhost\", \"example.net\"]\n" + base + "[limits]\nmax_stanza_size = 100000\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the reload", func() bool { return strings.Contains(out.String(), "configuration reloaded") })
	log := out.String()
	for _, want := range []string{"limits.max_stanza_size: 262144 -> 100000", "needs a restart", "hosts: [localhost] -> [localhost example.net]"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("not serving after the reload: %v", err)
	}
	c.Close()
}

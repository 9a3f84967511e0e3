package server_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/xmpptest"
)

// TestSlixmppMobileInterop runs Debian's python3-slixmpp with its
// XEP-0198 (stream resumption after a dropped connection), XEP-0280
// (carbons) and XEP-0313 (MAM paged with RSM) plugins against hearth.
// Set SLIXMPP_DEBUG=1 to get slixmpp's wire log in the failure output.
func TestSlixmppMobileInterop(t *testing.T) {
	t.Parallel()
	python := requireSlixmpp(t)
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	host, port, _ := net.SplitHostPort(srv.C2S)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/slixmpp_mobile.py", host, port, srv.Domain).CombinedOutput()
	if err != nil || !slices.Contains(strings.Split(string(out), "\n"), "OK") {
		t.Fatalf("slixmpp mobile interop failed: %v\n%s", err, out)
	}
	if os.Getenv("SLIXMPP_DEBUG") != "" {
		t.Logf("slixmpp output:\n%s", out)
	}
}

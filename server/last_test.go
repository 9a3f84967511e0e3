package server_test

import (
	"strconv"
	"testing"

	"hearth/xmpptest"
)

// TestLastActivitySurvivesRestart: a logout time written in a batch after
// the logout (mod/last) is on disk once the server has stopped, even when
// it stops right after the logout.
func TestLastActivitySurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	alice.Close()
	stop()

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	again := srv.Login(t, "alice", "pw-alice-1", "phone")
	res := again.IQ("<iq type='get' id='l1' to='alice@localhost'><query xmlns='jabber:iq:last'/></iq>")
	q := res.Child("jabber:iq:last", "query")
	if res.Get("type") != "result" || q == nil {
		t.Fatalf("last activity after a restart: %s", res)
	}
	if sec, err := strconv.Atoi(q.Get("seconds")); err != nil || sec < 0 || sec > 60 {
		t.Errorf("seconds since logout = %q, want the logout before the restart", q.Get("seconds"))
	}
}

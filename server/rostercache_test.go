package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"hearth/mod/roster"
	"hearth/xmpptest"
)

// rosterJIDs fetches c's roster and returns its items' JIDs, sorted.
func rosterJIDs(t *testing.T, c *xmpptest.Client) []string {
	t.Helper()
	var out []string
	for _, it := range fetchRoster(t, c).Elements() {
		out = append(out, it.Get("jid"))
	}
	slices.Sort(out)
	return out
}

// TestRosterCacheWhileOnline: an online account's roster is read from
// storage once and kept in memory; a change through the server replaces
// it, and once the account's last session has ended the next login reads
// storage again.
func TestRosterCacheWhileOnline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	owner := "alice@" + srv.Domain
	behind := func(contact string) { // a write that bypasses the server
		t.Helper()
		if err := srv.Store().Map(roster.MapName).Set(ctx, owner, contact+"@"+srv.Domain, []byte(`{"s":"both"}`)); err != nil {
			t.Fatal(err)
		}
	}

	a := srv.Login(t, "alice", "pw-alice-1", "a")
	if got := rosterJIDs(t, a); len(got) != 0 {
		t.Fatalf("new account's roster: %v", got)
	}
	behind("carol")
	if got := rosterJIDs(t, a); len(got) != 0 {
		t.Errorf("roster while online = %v, want the cached empty roster", got)
	}
	res := a.IQ("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='dave@" + srv.Domain + "'/></query></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("roster set: %s", res)
	}
	want := []string{"carol@" + srv.Domain, "dave@" + srv.Domain}
	if got := rosterJIDs(t, a); !slices.Equal(got, want) {
		t.Errorf("roster after a set = %v, want %v (read again from storage)", got, want)
	}
	a.Close()

	behind("eve")
	want = append(want, "eve@"+srv.Domain)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b := srv.Login(t, "alice", "pw-alice-1", "b")
		got := rosterJIDs(t, b)
		b.Close()
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster after every session ended = %v, want %v: the cache outlived the sessions", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRosterCacheAccountDeleted: an account deleted while online and
// registered again starts with an empty roster, not the cached one.
func TestRosterCacheAccountDeleted(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	a := srv.Login(t, "alice", "pw-alice-1", "a")
	res := a.IQ("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='carol@" + srv.Domain + "'/></query></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("roster set: %s", res)
	}
	if got := rosterJIDs(t, a); len(got) != 1 {
		t.Fatalf("roster = %v, want carol", got)
	}
	res = a.IQ("<iq type='set' id='rm' to='" + srv.Domain + "'><query xmlns='jabber:iq:register'><remove/></query></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("account removal: %s", res)
	}
	srv.AddUser(t, "alice", "pw-alice-2")
	b := srv.Login(t, "alice", "pw-alice-2", "b")
	if got := rosterJIDs(t, b); len(got) != 0 {
		t.Errorf("roster of the new account = %v, want empty", got)
	}
}

package server_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"hearth/xmpptest"
)

// TestAckWaitsForArchive: an XEP-0198 <a/> tells the sender that the
// server is responsible for its messages; with MAM on, that includes the
// archive copies, which are written off the delivery path. While another
// process holds SQLite's write lock, a message to an online contact is
// delivered at once but not acknowledged; when the lock goes, the
// acknowledgement follows and both archives have the message
// (docs/durability.md).
func TestAckWaitsForArchive(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	enableSM(t, alice)

	db, err := sql.Open("sqlite", filepath.Join(srv.DataDir, "hearth.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	lock, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("taking the write lock: %v", err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := lock.ExecContext(ctx, "COMMIT"); err != nil {
				t.Errorf("releasing the write lock: %v", err)
			}
		}
	}
	defer release()

	alice.Send("<message to='bob@localhost' type='chat' id='d1'><body>durable</body></message><r xmlns='urn:xmpp:sm:3'/>")
	if m := bob.Expect("the message", isAnyMessage); m.ChildText("", "body") != "durable" {
		t.Fatalf("bob got %s", m)
	}
	alice.ExpectNone("<a/> before the archive write", isSM("a"), 500*time.Millisecond)
	release()
	if a := alice.Expect("<a/>", isSM("a")); a.Get("h") != "1" {
		t.Fatalf("h = %s, want 1", a.Get("h"))
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM archive WHERE store = 'mam'").Scan(&n); err != nil {
		t.Fatalf("counting archive rows: %v", err)
	}
	if n != 2 {
		t.Errorf("archive rows after <a/> = %d, want 2 (alice's and bob's copies)", n)
	}
}

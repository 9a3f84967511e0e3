package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"hearth/mod/offline"
	"hearth/stanza"
	"hearth/storage"
	"hearth/xmpptest"
)

// Tests of issue 3's promises across restarts, large backlogs and bounces.

// storedOffline returns how many messages wait in user's offline storage.
func storedOffline(t *testing.T, srv *xmpptest.Server, user string) int {
	t.Helper()
	n, err := srv.Store().Archive(offline.ArchiveName).Count(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitStoredOffline polls until user has want stored messages.
func waitStoredOffline(t *testing.T, srv *xmpptest.Server, user string, want int) {
	t.Helper()
	deadline := time.Now().Add(xmpptest.Timeout)
	for {
		n := storedOffline(t, srv, user)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d offline messages, want %d", user, n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRestartBetweenSends restarts the server between sends to an
// offline user: every message is delivered once, in order, after both.
func TestRestartBetweenSends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	for round := range 3 {
		bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
		for i := range 3 {
			bob.Send(fmt.Sprintf("<message to='alice@localhost' type='chat'><body>%s</body></message>", body(round*3+i)))
		}
		offlineSync(t, bob)
		stop()
		srv, stop = xmpptest.NewServerAt(t, dir, "")
	}
	p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
	p.login(false)
	if err := p.read(9, xmpptest.Timeout, true); err != nil {
		t.Fatalf("saw %d of 9: %v", len(p.seen), err)
	}
	p.ackConfirmed()
	p.checkExactlyOnce(bodiesRange(0, 9))
	waitStoredOffline(t, srv, "alice@localhost", 0)
}

// TestSMTimeoutThenRestart: messages a session did not acknowledge when it
// timed out go to offline storage, which survives a restart.
func TestSMTimeoutThenRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "[stream_management]\nresume_timeout = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
	p.login(false)
	for i := range 4 {
		bob.Send(fmt.Sprintf("<message to='alice@localhost' type='chat'><body>%s</body></message>", body(i)))
	}
	offlineSync(t, bob)
	p.cut() // nothing read, nothing acknowledged
	waitSession(t, srv, "alice@localhost/phone", "gone")
	waitStoredOffline(t, srv, "alice@localhost", 4)
	stop()

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	p = newPhone(t, srv, "alice", "pw-alice-1", "phone")
	p.login(false)
	if err := p.read(4, xmpptest.Timeout, true); err != nil {
		t.Fatalf("saw %d of 4: %v", len(p.seen), err)
	}
	p.ackConfirmed()
	p.c.ExpectNone("a duplicate", isAnyMessage, 200*time.Millisecond)
	p.checkExactlyOnce(bodiesRange(0, 4))
}

// TestShutdownWhileHibernating: a session hibernating at shutdown ends
// with it; what it held goes to offline storage and survives.
func TestShutdownWhileHibernating(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
	p.login(false)
	bob.Send(fmt.Sprintf("<message to='alice@localhost' type='chat'><body>%s</body></message>", body(0)))
	p.read(1, xmpptest.Timeout, false)
	p.cut() // m0000 handled but not acknowledged
	waitSession(t, srv, "alice@localhost/phone", "hibernating")
	bob.Send(fmt.Sprintf("<message to='alice@localhost' type='chat'><body>%s</body></message>", body(1)))
	offlineSync(t, bob)
	stop()

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	p.srv = srv
	p.login(false)
	if err := p.read(2, xmpptest.Timeout, true); err != nil {
		t.Fatalf("saw %d of 2: %v", len(p.seen), err)
	}
	p.ackConfirmed()
	p.checkExactlyOnce(bodiesRange(0, 2))
	if len(p.dups) != 1 || p.dups[0] != body(0) {
		t.Errorf("sent again: %v, want only the unacknowledged %s", p.dups, body(0))
	}
}

// TestOfflineDeletedOnAck: stored messages sent to a session that never
// acknowledges them stay stored — across its end and a restart — and are
// deleted once a session acknowledges them.
func TestOfflineDeletedOnAck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	for i := range 3 {
		bob.Send(fmt.Sprintf("<message to='alice@localhost' type='chat'><body>%s</body></message>", body(i)))
	}
	offlineSync(t, bob)

	// A session with stream management gets them and acknowledges one.
	p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
	p.login(false)
	p.read(3, xmpptest.Timeout, false)
	h := p.handled[body(0)]
	p.c.Send(fmt.Sprintf("<a xmlns='urn:xmpp:sm:3' h='%d'/>", h))
	waitStoredOffline(t, srv, "alice@localhost", 2)
	p.cut()
	waitSession(t, srv, "alice@localhost/phone", "hibernating")
	stop() // the session ends unacknowledged: m0001 and m0002 stay stored

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	if n := storedOffline(t, srv, "alice@localhost"); n != 2 {
		t.Fatalf("after the restart %d stored, want 2", n)
	}
	// A client without stream management: deleted once written.
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	if got := messageBodies(offlineSync(t, alice)); strings.Join(got, ",") != body(1)+","+body(2) {
		t.Errorf("second login got %v", got)
	}
	waitStoredOffline(t, srv, "alice@localhost", 0)
}

// TestOfflinePacedDelivery: 2 000 stored messages of 1 KiB each for a
// session whose output queue holds 64 KiB. Delivery waits for the client
// (its acknowledgements, or the writes to its connection) instead of
// overflowing the queue: every message arrives once, in order.
func TestOfflinePacedDelivery(t *testing.T) {
	t.Parallel()
	for _, sm := range []bool{false, true} {
		t.Run(fmt.Sprintf("sm=%v", sm), func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.NewServer(t, "[limits]\nmax_queue_size = 65536\n[offline]\nmax_messages = 3000\n")
			srv.AddUser(t, "alice", "pw-alice-1")
			srv.AddUser(t, "bob", "pw-bob-123")
			// The messages are put into offline storage directly, as
			// mod/offline stores them: storing 2 000 through the router is
			// slow on SQLite (a count and an append each) and is not what
			// this test is about.
			const n = 2000
			pad := strings.Repeat("x", 1000)
			arch := srv.Store().Archive(offline.ArchiveName)
			start := time.Now()
			for i := range n {
				msg := fmt.Sprintf("<message xmlns='jabber:client' from='bob@localhost/desk' to='alice@localhost' type='chat'><body>%s%s</body>"+
					"<delay xmlns='urn:xmpp:delay' from='localhost' stamp='2026-01-02T03:04:05Z'/></message>", body(i), pad)
				if _, err := arch.Append(context.Background(), "alice@localhost", storage.Item{With: "bob@localhost/desk", Data: []byte(msg)}); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("stored %d messages in %v", n, time.Since(start))
			start = time.Now()
			defer func() { t.Logf("delivered them in %v", time.Since(start)) }()
			var order []string
			seen := map[string]int{}
			add := func(el *stanza.Element) {
				if b := el.ChildText("", "body"); el.Name.Local == "message" && b != "" {
					b = strings.TrimRight(b, "x")
					seen[b]++
					order = append(order, b)
				}
			}
			if sm {
				p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
				p.login(false)
				if err := p.read(n, xmpptest.Timeout, true); err != nil {
					t.Fatalf("saw %d of %d: %v", len(p.seen), n, err)
				}
				p.ackConfirmed()
				order = nil
				for _, b := range p.order {
					b = strings.TrimRight(b, "x")
					seen[b]++
					order = append(order, b)
				}
			} else {
				alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
				for len(order) < n {
					el, err := alice.ReadElement(xmpptest.Timeout)
					if err != nil {
						t.Fatalf("saw %d of %d: %v", len(order), n, err)
					}
					if el.Name.Space == stanza.NSStream {
						t.Fatalf("stream error after %d messages: %s", len(order), el)
					}
					add(el)
				}
				alice.ExpectNone("a duplicate", isAnyMessage, 200*time.Millisecond)
			}
			for i := range n {
				if seen[body(i)] != 1 {
					t.Fatalf("%s seen %d times", body(i), seen[body(i)])
				}
			}
			if strings.Join(order, ",") != strings.Join(bodiesRange(0, n), ",") {
				t.Errorf("out of order")
			}
			waitStoredOffline(t, srv, "alice@localhost", 0)
		})
	}
}

// TestBouncedMessageLeavesArchives: a message bounced because offline
// storage is full is in neither archive.
func TestBouncedMessageLeavesArchives(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[offline]\nmax_messages = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	bob.Send("<message to='alice@localhost' type='chat' id='k'><body>kept</body></message>")
	bob.Send("<message to='alice@localhost' type='chat' id='x'><body>bounced</body></message>")
	errEl := bob.Expect("the bounce", func(el *stanza.Element) bool { return el.Get("id") == "x" })
	if errEl.Get("type") != "error" || errEl.Child(stanza.NSStanzas, "service-unavailable") == nil {
		if e := errEl.Child(stanza.NSClient, "error"); e == nil || e.Child(stanza.NSStanzas, "service-unavailable") == nil {
			t.Fatalf("bounce: %s", errEl)
		}
	}
	if got := mamQuery(t, bob, mamForm("with", "alice@localhost")).bodies(); got != "kept" {
		t.Errorf("bob's archive: %q, want kept", got)
	}
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	if got := mamQuery(t, alice, mamForm("with", "bob@localhost")).bodies(); got != "kept" {
		t.Errorf("alice's archive: %q, want kept", got)
	}
}

// TestHibernatedSessionMemory measures what a session hibernating for
// XEP-0198 resumption costs the server, with its presence and an empty
// queue: the heap before and after 100 phones drop their connections
// (connections, TLS and buffers are gone then; the session remains).
// Measured 1.7 KB per session (2026-11; docs/design/004-stream-management.md).
// Not parallel: other tests' allocations would blur the figure.
func TestHibernatedSessionMemory(t *testing.T) {
	srv := xmpptest.NewServer(t, "")
	const warm, n = 10, 100
	for i := range warm + n {
		srv.AddUser(t, fmt.Sprintf("u%d", i), "pw-user-123")
	}
	// Each client runs in a subtest, whose cleanup releases the client
	// side of its connection when it ends.
	hibernate := func(from, to int) {
		t.Run(fmt.Sprintf("u%d-u%d", from, to-1), func(t *testing.T) {
			for i := from; i < to; i++ {
				p := newPhone(t, srv, fmt.Sprintf("u%d", i), "pw-user-123", "phone")
				p.login(false)
				p.ackConfirmed()
				p.cut()
				waitSession(t, srv, fmt.Sprintf("u%d@localhost/phone", i), "hibernating")
			}
		})
		// A closed stream keeps its connection for the close grace period
		// (stream.closeGrace, 2s) before letting it go.
		time.Sleep(2500 * time.Millisecond)
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// A few sessions first, so that one-time costs (pools, caches, the
	// first TLS handshake) are not counted.
	hibernate(0, warm)
	before := heap()
	hibernate(warm, warm+n)
	after := heap()
	per := (int64(after) - int64(before)) / n
	t.Logf("heap per hibernated session: %d bytes (%d sessions, heap %d -> %d)", per, n, before, after)
	if per > 8<<10 {
		t.Errorf("a hibernated session costs %d bytes, more than 8 KiB", per)
	}
}

// TestUnackedCopiesNotRedelivered: a session that ends without
// acknowledging its archive query's results or its carbons does not pass
// them to the account's other session, nor to offline storage: they were
// copies made for it alone.
func TestUnackedCopiesNotRedelivered(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[stream_management]\nresume_timeout = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	laptop := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob.Send("<message to='alice@localhost' type='chat'><body>archived</body></message>")
	laptop.Expect("the message", isMessage("archived"))

	p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
	p.login(false)
	p.c.Send("<iq type='set' id='cc'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
	p.readUntil(func(el *stanza.Element) bool { return el.Get("id") == "cc" }, false)
	p.c.Send("<iq type='set' id='q'><query xmlns='urn:xmpp:mam:2' queryid='q'/></iq>")
	p.readUntil(func(el *stanza.Element) bool { return el.Get("id") == "q" }, false)
	laptop.Send("<message to='bob@localhost' type='chat'><body>from the laptop</body></message>")
	bob.Expect("the laptop's message", isMessage("from the laptop"))
	p.readUntil(func(el *stanza.Element) bool { return el.Child("urn:xmpp:carbons:2", "sent") != nil }, false)
	p.cut() // the result and the carbon are unacknowledged
	waitSession(t, srv, "alice@localhost/phone", "gone")
	laptop.ExpectNone("the phone's copies", isAnyMessage, 300*time.Millisecond)
	if n := storedOffline(t, srv, "alice@localhost"); n != 0 {
		t.Errorf("%d messages stored offline, want none", n)
	}
}

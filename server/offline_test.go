package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/offline"
	"hearth/stanza"
	"hearth/storage"
	"hearth/xmpptest"
)

// Tests of XEP-0160 offline messages (mod/offline) over real sockets.

const nsDelay = "urn:xmpp:delay"

// offlineSync pings the server from c and returns what c received before
// the pong. A client's stanzas are handled in order and the server's
// output to a client is first in, first out, so once it returns,
// everything c sent before was routed (stored, or bounced back to c), and
// everything the server sent c meanwhile — the stored messages delivered
// at its initial presence, for instance — is in the result.
func offlineSync(t *testing.T, c *xmpptest.Client) []*stanza.Element {
	t.Helper()
	id := "sync-" + c.NextID()
	c.Send("<iq type='get' id='" + id + "' to='" + c.JID.Domain() + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	var got []*stanza.Element
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Get("id") == id {
			if el.Get("type") != "result" {
				t.Fatalf("%s: ping failed: %s", c.JID, el)
			}
			return got
		}
		got = append(got, el)
	}
}

// messages returns the <message/> elements of els.
func messages(els []*stanza.Element) []*stanza.Element {
	var out []*stanza.Element
	for _, el := range els {
		if el.Name.Local == "message" {
			out = append(out, el)
		}
	}
	return out
}

func messageBodies(els []*stanza.Element) []string {
	var out []string
	for _, el := range messages(els) {
		out = append(out, el.ChildText("", "body"))
	}
	return out
}

// loginAt logs user in as resource and sends initial presence with
// priority prio, consuming its reflection.
func loginAt(t *testing.T, srv *xmpptest.Server, user, password, resource string, prio int) *xmpptest.Client {
	t.Helper()
	c := srv.Login(t, user, password, resource)
	c.Send(fmt.Sprintf("<presence><priority>%d</priority></presence>", prio))
	c.Expect("own initial presence", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == c.JID.String()
	})
	return c
}

// wantNoReply fails the test if the server sent c anything about the
// stanzas with the given ids (an error bounce), after syncing.
func wantNoReply(t *testing.T, c *xmpptest.Client, ids ...string) {
	t.Helper()
	for _, el := range offlineSync(t, c) {
		if slices.Contains(ids, el.Get("id")) {
			t.Errorf("sender got a reply: %s", el)
		}
	}
}

// checkDelay fails the test unless msg carries the server's XEP-0203 delay
// stamped between notBefore and now.
func checkDelay(t *testing.T, msg *stanza.Element, domain string, notBefore time.Time) {
	t.Helper()
	d := msg.Child(nsDelay, "delay")
	if d == nil || d.Get("from") != domain {
		t.Errorf("no <delay from='%s'/> in %s", domain, msg)
		return
	}
	stamp, err := time.Parse(time.RFC3339, d.Get("stamp"))
	if err != nil || !strings.HasSuffix(d.Get("stamp"), "Z") {
		t.Errorf("stamp %q is not a UTC XEP-0082 DateTime: %v", d.Get("stamp"), err)
		return
	}
	if stamp.Before(notBefore.Truncate(time.Second)) || stamp.After(time.Now()) {
		t.Errorf("stamp %s outside [%s, now]", stamp, notBefore)
	}
}

func TestOfflineMessageDeliveredOnce(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")

	info := alice.IQ("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !slices.ContainsFunc(info.Child("http://jabber.org/protocol/disco#info", "query").Elements(), func(el *stanza.Element) bool {
		return el.Name.Local == "feature" && el.Get("var") == "msgoffline"
	}) {
		t.Errorf("server disco#info lacks msgoffline (XEP-0160 §4): %s", info)
	}

	sent := time.Now()
	alice.Send("<message to='bob@localhost' type='chat' id='o1'><body>while you were out</body></message>")
	wantNoReply(t, alice, "o1")

	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	got := messages(offlineSync(t, bob))
	if len(got) != 1 {
		t.Fatalf("bob got %d messages at login, want 1: %v", len(got), got)
	}
	m := got[0]
	if m.Get("from") != "alice@localhost/laptop" || m.Get("id") != "o1" || m.Get("type") != "chat" || m.ChildText("", "body") != "while you were out" {
		t.Errorf("delivered %s", m)
	}
	checkDelay(t, m, "localhost", sent)

	// Exactly once: neither a second resource nor a later login gets it again.
	desk := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	if got := messages(offlineSync(t, desk)); len(got) != 0 {
		t.Errorf("second resource got %v", got)
	}
	bob.Close()
	desk.Close()
	again := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	if got := messages(offlineSync(t, again)); len(got) != 0 {
		t.Errorf("next login got %v", got)
	}
}

func TestOfflineOrderPreserved(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	var want []string
	for i := range 50 {
		body := fmt.Sprintf("message %02d", i)
		want = append(want, body)
		alice.Send(fmt.Sprintf("<message to='bob@localhost' type='chat' id='n%d'><body>%s</body></message>", i, body))
	}
	for _, el := range offlineSync(t, alice) {
		if el.Get("type") == "error" {
			t.Fatalf("sender got %s", el)
		}
	}
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	got := offlineSync(t, bob)
	if bodies := messageBodies(got); !slices.Equal(bodies, want) {
		t.Fatalf("delivered in order %q", bodies)
	}
	for _, m := range messages(got) {
		if m.Child(nsDelay, "delay") == nil {
			t.Errorf("no delay on %s", m)
		}
	}
}

func TestOfflineLimit(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[offline]\nmax_messages = 3\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	for i := range 3 {
		alice.Send(fmt.Sprintf("<message to='bob@localhost' type='chat' id='l%d'><body>%d</body></message>", i, i))
	}
	wantNoReply(t, alice, "l0", "l1", "l2")

	// XEP-0160 §2 step 3: the queue is full, the sender gets
	// <service-unavailable/>.
	alice.Send("<message to='bob@localhost' type='chat' id='l3'><body>one too many</body></message>")
	el := alice.Expect("bounce", func(el *stanza.Element) bool { return el.Get("id") == "l3" })
	if el.Get("type") != "error" || errorCondition(el) != "service-unavailable" || el.Get("from") != "bob@localhost" {
		t.Errorf("got %s", el)
	}

	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	if got := messageBodies(offlineSync(t, bob)); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Errorf("bob got %q", got)
	}
}

func TestOfflineHints(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")

	// XEP-0334 §4.3: not stored, so the sender learns it was not delivered.
	alice.Send("<message to='bob@localhost' type='chat' id='h1'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>")
	el := alice.Expect("bounce", func(el *stanza.Element) bool { return el.Get("id") == "h1" })
	if el.Get("type") != "error" || errorCondition(el) != "service-unavailable" {
		t.Errorf("no-store: got %s", el)
	}
	// XEP-0334 §3, §4.2: offline storage is the temporary storage a
	// no-permanent-store sender accepts.
	alice.Send("<message to='bob@localhost' type='chat' id='h2'><body>off the record</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>")
	// XEP-0160 §3: chat states alone are not stored, and not bounced.
	alice.Send("<message to='bob@localhost' type='chat' id='h3'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	// XEP-0334 §4.4: <store/> keeps what would not be stored.
	alice.Send("<message to='bob@localhost' type='chat' id='h4'><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>")
	wantNoReply(t, alice, "h2", "h3", "h4")

	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	var ids []string
	for _, m := range messages(offlineSync(t, bob)) {
		ids = append(ids, m.Get("id"))
	}
	if !slices.Equal(ids, []string{"h2", "h4"}) {
		t.Errorf("bob got messages %q, want [h2 h4]", ids)
	}
}

// TestOfflineNegativePriority: a session of negative priority gets neither
// messages to the bare JID (RFC 6121 §8.5.2.1.1) nor the stored ones
// (XEP-0160 §2), which wait for a non-negative initial presence.
func TestOfflineNegativePriority(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	alice.Send("<message to='bob@localhost' type='chat' id='p1'><body>first</body></message>")
	wantNoReply(t, alice, "p1")

	bot := loginAt(t, srv, "bob", "pw-bob-123", "bot", -1)
	if got := messages(offlineSync(t, bot)); len(got) != 0 {
		t.Errorf("negative priority session got %v", got)
	}
	// Still offline as far as messages go: this one is stored too.
	alice.Send("<message to='bob@localhost' type='chat' id='p2'><body>second</body></message>")
	wantNoReply(t, alice, "p2")
	if got := messages(offlineSync(t, bot)); len(got) != 0 {
		t.Errorf("negative priority session got %v", got)
	}

	phone := loginAt(t, srv, "bob", "pw-bob-123", "phone", 0)
	if got := messageBodies(offlineSync(t, phone)); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("non-negative login got %q", got)
	}
	if got := messages(offlineSync(t, bot)); len(got) != 0 {
		t.Errorf("negative priority session got %v", got)
	}
}

func TestOfflineSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	sent := time.Now()
	for i := range 3 {
		alice.Send(fmt.Sprintf("<message to='bob@localhost' type='chat' id='r%d'><body>before restart %d</body></message>", i, i))
	}
	wantNoReply(t, alice, "r0", "r1", "r2")
	stop()

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	got := offlineSync(t, bob)
	if bodies := messageBodies(got); !slices.Equal(bodies, []string{"before restart 0", "before restart 1", "before restart 2"}) {
		t.Fatalf("after restart bob got %q", bodies)
	}
	for _, m := range messages(got) {
		checkDelay(t, m, "localhost", sent)
	}
}

// TestOfflineKnownEmpty: a login that found no stored messages spares the
// next logins the storage read, until a message is stored through the
// server, which delivers what storage holds from then on.
func TestOfflineKnownEmpty(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	if got := messages(offlineSync(t, bob)); len(got) != 0 {
		t.Fatalf("bob got %v", got)
	}
	bob.Close()

	// Stored behind the module's back: not looked for.
	behind := "<message xmlns='jabber:client' from='carol@localhost/x' to='bob@localhost' type='chat' id='b1'><body>behind</body></message>"
	if _, err := srv.Store().Archive(offline.ArchiveName).Append(context.Background(), "bob@localhost", storage.Item{Data: []byte(behind)}); err != nil {
		t.Fatal(err)
	}
	again := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	if got := messages(offlineSync(t, again)); len(got) != 0 {
		t.Fatalf("a login of an account known to have nothing stored read storage: %v", got)
	}
	again.Close()
	bare := jid.MustParse("bob@localhost")
	for deadline := time.Now().Add(5 * time.Second); len(srv.Router().Sessions(bare)) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("bob's session did not end")
		}
		time.Sleep(time.Millisecond)
	}

	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	alice.Send("<message to='bob@localhost' type='chat' id='o1'><body>through the server</body></message>")
	wantNoReply(t, alice, "o1")
	bob = srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	if got := messageBodies(offlineSync(t, bob)); !slices.Equal(got, []string{"behind", "through the server"}) {
		t.Errorf("after a message stored through the server bob got %v, want both", got)
	}
}

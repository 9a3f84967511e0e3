package server_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

const nsSM = "urn:xmpp:sm:3"

func isSM(local string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Name.Space == nsSM && el.Name.Local == local }
}

// enableSM enables resumable stream management and returns the resumption id.
func enableSM(t testing.TB, c *xmpptest.Client) string {
	t.Helper()
	if c.Features.Child(nsSM, "sm") == nil {
		t.Fatalf("no XEP-0198 stream feature: %s", c.Features)
	}
	c.Send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	en := c.Expect("<enabled/>", isSM("enabled"))
	if en.Get("id") == "" || en.Get("resume") != "true" || en.Get("max") == "" {
		t.Fatalf("enabled = %s", en)
	}
	return en.Get("id")
}

// resume logs in again as user and resumes previd having handled h stanzas;
// it returns the new connection and the server's <resumed/>.
func resume(t testing.TB, srv *xmpptest.Server, user, password, previd string, h int) (*xmpptest.Conn, *stanza.Element) {
	t.Helper()
	c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("SCRAM-SHA-256", user, password); f != nil {
		t.Fatalf("auth: %s", f)
	}
	c.OpenStream()
	c.Send(fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='%d'/>", previd, h))
	return c, c.Next()
}

func bodies(t *testing.T, c *xmpptest.Conn, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		el := c.Expect("message", isAnyMessage)
		got = append(got, el.ChildText("", "body"))
	}
	return got
}

func TestStreamManagementAcks(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	enableSM(t, alice)

	// Every stanza the client sends is counted, including the session IQ
	// the stream answers itself.
	alice.Send("<presence/>")
	alice.IQ("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	alice.IQ("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
	alice.Send("<r xmlns='urn:xmpp:sm:3'/>")
	if a := alice.Expect("<a/>", isSM("a")); a.Get("h") != "3" {
		t.Errorf("server h = %s, want 3", a.Get("h"))
	}

	// The server asks for acknowledgements as it sends.
	for i := 0; i < 6; i++ {
		bob.Send(fmt.Sprintf("<message to='alice@localhost/phone' type='chat'><body>m%d</body></message>", i))
	}
	if got := bodies(t, alice.Conn, 6); got[5] != "m5" {
		t.Errorf("got %v", got)
	}
	alice.Expect("<r/> from the server", isSM("r"))
	alice.Send("<a xmlns='urn:xmpp:sm:3' h='1000'/>")
	if got := streamErrorCondition(t, alice.Conn); got != "undefined-condition" {
		t.Errorf("h beyond what was sent: %s, want undefined-condition", got)
	}
}

func TestStreamManagementResume(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	id := enableSM(t, alice)
	alice.Send("<presence/>") // handled stanza 1
	alice.Expect("own presence", isPresence("alice@localhost/phone", ""))
	// Stanzas sent to alice after <enable/>: her own presence (1), m1..m3.
	for i := 1; i <= 3; i++ {
		bob.Send(fmt.Sprintf("<message to='alice@localhost/phone' type='chat'><body>m%d</body></message>", i))
	}
	bodies(t, alice.Conn, 3)
	// alice handled her presence and m1, then the connection drops.
	alice.NetConn().Close()
	time.Sleep(200 * time.Millisecond)
	for i := 4; i <= 5; i++ {
		bob.Send(fmt.Sprintf("<message to='alice@localhost/phone' type='chat' id='b%d'><body>m%d</body></message>", i, i))
	}
	bob.ExpectNone("an error for messages to a hibernating session", func(el *stanza.Element) bool {
		return el.Get("type") == "error"
	}, 300*time.Millisecond)

	c, resumed := resume(t, srv, "alice", "pw-alice-1", id, 2)
	if resumed.Name.Local != "resumed" || resumed.Get("previd") != id || resumed.Get("h") != "1" {
		t.Fatalf("resume: %s", resumed)
	}
	if got := fmt.Sprint(bodies(t, c, 4)); got != "[m2 m3 m4 m5]" {
		t.Errorf("replayed %s, want [m2 m3 m4 m5] (each unacknowledged message once, in order)", got)
	}
	c.ExpectNone("a duplicate", isAnyMessage, 300*time.Millisecond)
	// The resumed session keeps its JID and works.
	res := c.IQ("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "result" || res.Get("to") != "alice@localhost/phone" {
		t.Errorf("ping after resume: %s", res)
	}
	// A second resume of the same id takes the session over again; a
	// bogus id fails and the client can bind instead.
	c2, failed := resume(t, srv, "alice", "pw-alice-1", "no-such-id", 0)
	if failed.Name.Local != "failed" || failed.Child(stanza.NSStanzas, "item-not-found") == nil {
		t.Fatalf("resume of an unknown id: %s", failed)
	}
	if j := c2.Bind("tablet"); j.Resource() != "tablet" {
		t.Errorf("bind after a failed resume: %s", j)
	}
}

func TestStreamManagementResumeTimeoutStoresOffline(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[stream_management]\nresume_timeout = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	id := enableSM(t, alice)
	alice.Send("<presence/>")
	alice.Expect("own presence", isPresence("alice@localhost/phone", ""))
	bob.Send("<message to='alice@localhost' type='chat'><body>unacked</body></message>")
	bodies(t, alice.Conn, 1)
	alice.NetConn().Close() // never acknowledged
	time.Sleep(200 * time.Millisecond)
	bob.Send("<message to='alice@localhost' type='chat'><body>while away</body></message>")
	time.Sleep(1500 * time.Millisecond) // past the resume timeout

	if _, failed := resume(t, srv, "alice", "pw-alice-1", id, 0); failed.Name.Local != "failed" {
		t.Fatalf("resume after the timeout: %s", failed)
	}
	again := srv.Login(t, "alice", "pw-alice-1", "phone")
	again.Send("<presence/>")
	got := bodies(t, again.Conn, 2)
	if fmt.Sprint(got) != "[unacked while away]" {
		t.Errorf("after the timeout, offline storage gave %v, want [unacked while away]", got)
	}
	again.ExpectNone("a duplicate", isAnyMessage, 300*time.Millisecond)
}

func TestStreamManagementCounterWraps(t *testing.T) {
	t.Parallel()
	// h is a 32-bit counter (XEP-0198 §5): an ack that wraps is accepted.
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	enableSM(t, alice)
	alice.Send("<a xmlns='urn:xmpp:sm:3' h='0'/>")
	alice.Send("<a xmlns='urn:xmpp:sm:3' h='" + strconv.FormatUint(1<<32-1, 10) + "'/>")
	if got := streamErrorCondition(t, alice.Conn); got != "undefined-condition" {
		t.Errorf("an ack of 2^32-1 unsent stanzas: %s, want undefined-condition", got)
	}
}

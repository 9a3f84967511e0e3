package server_test

import (
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

const (
	nsBlocking       = "urn:xmpp:blocking"
	nsBlockingErrors = "urn:xmpp:blocking:errors"
)

// befriend makes a and b subscribe to each other's presence (RFC 6121 §3)
// and waits until each sees the other available.
func befriend(t *testing.T, a, b *xmpptest.Client) {
	t.Helper()
	ab, bb := a.JID.Bare().String(), b.JID.Bare().String()
	a.Send("<presence to='" + bb + "' type='subscribe'/>")
	b.Expect("subscribe", isPresence(ab, "subscribe"))
	b.Send("<presence to='" + ab + "' type='subscribed'/>")
	a.Expect("b's presence", isPresence(b.JID.String(), ""))
	b.Send("<presence to='" + ab + "' type='subscribe'/>")
	a.Expect("subscribe", isPresence(bb, "subscribe"))
	a.Send("<presence to='" + bb + "' type='subscribed'/>")
	b.Expect("a's presence", isPresence(a.JID.String(), ""))
}

func blockCommand(t *testing.T, c *xmpptest.Client, el string, jids ...string) *stanza.Element {
	t.Helper()
	var items strings.Builder
	for _, j := range jids {
		items.WriteString("<item jid='" + j + "'/>")
	}
	return c.IQ("<iq type='set' id='" + c.NextID() + "'><" + el + " xmlns='urn:xmpp:blocking'>" + items.String() + "</" + el + "></iq>")
}

func wantResult(t *testing.T, res *stanza.Element) {
	t.Helper()
	if res.Get("type") != "result" {
		t.Fatalf("got %s, want a result", res)
	}
}

func blocklist(t *testing.T, c *xmpptest.Client) []string {
	t.Helper()
	res := c.IQ("<iq type='get' id='" + c.NextID() + "'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	l := res.Child(nsBlocking, "blocklist")
	if res.Get("type") != "result" || l == nil {
		t.Fatalf("blocklist: %s", res)
	}
	var out []string
	for _, it := range l.Elements() {
		out = append(out, it.Get("jid"))
	}
	return out
}

// isPush matches a blocking push whose payload is el (block or unblock).
func isPush(el string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return st.Name.Local == "iq" && st.Get("type") == "set" && st.Child(nsBlocking, el) != nil
	}
}

func pushItems(push *stanza.Element) []string {
	var out []string
	for _, it := range push.FirstElement().Elements() {
		out = append(out, it.Get("jid"))
	}
	return out
}

func isPresenceFromAccount(bare string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && (el.Get("from") == bare || strings.HasPrefix(el.Get("from"), bare+"/"))
	}
}

func isReplyTo(id string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Get("id") == id }
}

// wantBlockedError checks an error reply as XEP-0191 §3.3 has the user's
// server refuse a stanza to a blocked JID.
func wantBlockedError(t *testing.T, el *stanza.Element) {
	t.Helper()
	e := stanza.ParseError(el)
	if el.Get("type") != "error" || e == nil || e.Condition != "not-acceptable" || e.App == nil || e.App.Name.Space != nsBlockingErrors || e.App.Name.Local != "blocked" {
		t.Errorf("got %s, want not-acceptable with <blocked/>", el)
	}
}

// TestBlocking runs XEP-0191 between two local users who see each other's
// presence: alice blocks bob, and neither messages, IQs nor presence pass
// in either direction until she unblocks him.
func TestBlocking(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	laptop := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	befriend(t, laptop, bob)
	phone := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	tablet := srv.LoginAvailable(t, "alice", "pw-alice-1", "tablet")
	if !serverFeatures(t, laptop)[nsBlocking] {
		t.Fatal("the server does not advertise urn:xmpp:blocking")
	}
	// laptop and phone ask for the list (and so get pushes); tablet does not.
	if l := blocklist(t, laptop); len(l) != 0 {
		t.Fatalf("initial blocklist %v", l)
	}
	blocklist(t, phone)
	for _, c := range []*xmpptest.Client{laptop, phone, tablet, bob} {
		drain(t, c)
	}

	wantResult(t, blockCommand(t, laptop, "block", "bob@localhost"))
	t.Run("pushes to interested resources only", func(t *testing.T) {
		for _, c := range []*xmpptest.Client{laptop, phone} {
			p := c.Expect("block push", isPush("block"))
			if got := pushItems(p); len(got) != 1 || got[0] != "bob@localhost" || p.Get("to") != c.JID.String() {
				t.Errorf("push %s", p)
			}
		}
		tablet.ExpectNone("push", isPush("block"), 300*time.Millisecond)
		if l := blocklist(t, tablet); len(l) != 1 || l[0] != "bob@localhost" {
			t.Errorf("blocklist %v", l)
		}
	})
	t.Run("unavailable presence to the blocked contact", func(t *testing.T) {
		for _, res := range []string{"laptop", "phone", "tablet"} {
			bob.Expect("alice offline on "+res, isPresence("alice@localhost/"+res, "unavailable"))
		}
	})

	t.Run("messages from the blocked contact", func(t *testing.T) {
		bob.Send("<message to='alice@localhost' type='chat' id='in1'><body>hello?</body></message>")
		el := bob.Expect("error", isReplyTo("in1"))
		if errorCondition(el) != "service-unavailable" {
			t.Errorf("got %s", el)
		}
		bob.Send("<message to='alice@localhost/laptop' type='chat' id='in2'><body>hello laptop?</body></message>")
		if el := bob.Expect("error", isReplyTo("in2")); errorCondition(el) != "service-unavailable" {
			t.Errorf("got %s", el)
		}
		for _, c := range []*xmpptest.Client{laptop, phone, tablet} {
			c.ExpectNone("message", isAnyMessage, 200*time.Millisecond)
		}
	})
	t.Run("IQs from the blocked contact", func(t *testing.T) {
		for i, to := range []string{"alice@localhost", "alice@localhost/laptop"} {
			id := "iqin" + string(rune('0'+i))
			bob.Send("<iq type='get' id='" + id + "' to='" + to + "'><ping xmlns='urn:xmpp:ping'/></iq>")
			if el := bob.Expect("error", isReplyTo(id)); el.Get("type") != "error" || errorCondition(el) != "service-unavailable" {
				t.Errorf("iq to %s: got %s", to, el)
			}
		}
		laptop.ExpectNone("iq", func(el *stanza.Element) bool { return el.Name.Local == "iq" }, 200*time.Millisecond)
	})
	t.Run("messages and IQs to the blocked contact", func(t *testing.T) {
		phone.Send("<message to='bob@localhost' type='chat' id='out1'><body>can you hear me?</body></message>")
		el := phone.Expect("error", isReplyTo("out1"))
		wantBlockedError(t, el)
		if el.Get("from") != "bob@localhost" || el.ChildText("", "body") != "can you hear me?" {
			t.Errorf("error %s", el)
		}
		phone.Send("<iq type='get' id='out2' to='bob@localhost/desk'><ping xmlns='urn:xmpp:ping'/></iq>")
		wantBlockedError(t, phone.Expect("error", isReplyTo("out2")))
		bob.ExpectNone("anything from alice", func(el *stanza.Element) bool {
			return strings.HasPrefix(el.Get("from"), "alice@localhost")
		}, 300*time.Millisecond)
	})
	t.Run("presence in neither direction", func(t *testing.T) {
		bob.Send("<presence><show>away</show></presence>")
		alice4 := srv.LoginAvailable(t, "alice", "pw-alice-1", "desktop") // probes bob
		laptop.Send("<presence><show>dnd</show></presence>")
		laptop.Send("<presence to='bob@localhost'/>")                  // directed
		laptop.Send("<presence to='bob@localhost' type='subscribe'/>") // dropped, no error
		bob.Send("<presence to='alice@localhost' type='probe'/>")
		bob.Send("<presence to='alice@localhost' type='subscribe'/>")
		for _, c := range []*xmpptest.Client{laptop, phone, tablet, alice4} {
			c.ExpectNone("bob's presence", isPresenceFromAccount("bob@localhost"), 300*time.Millisecond)
		}
		bob.ExpectNone("alice's presence", isPresenceFromAccount("alice@localhost"), 300*time.Millisecond)
		alice4.Close()
		bob.ExpectNone("alice's presence", isPresenceFromAccount("alice@localhost"), 300*time.Millisecond)
		laptop.ExpectNone("error", func(el *stanza.Element) bool { return el.Get("type") == "error" }, 100*time.Millisecond)
	})

	wantResult(t, blockCommand(t, phone, "unblock", "bob@localhost"))
	t.Run("unblock", func(t *testing.T) {
		for _, c := range []*xmpptest.Client{laptop, phone} {
			if got := pushItems(c.Expect("unblock push", isPush("unblock"))); len(got) != 1 || got[0] != "bob@localhost" {
				t.Errorf("push items %v", got)
			}
		}
		// XEP-0191 §3.4: bob gets alice's current presence again.
		p := bob.Expect("laptop's presence", isPresence("alice@localhost/laptop", ""))
		if p.ChildText("", "show") != "dnd" {
			t.Errorf("presence %s", p)
		}
		bob.Expect("phone's presence", isPresence("alice@localhost/phone", ""))
		bob.Send("<message to='alice@localhost/laptop' type='chat'><body>hello again</body></message>")
		laptop.Expect("message", isMessage("hello again"))
		laptop.Send("<message to='bob@localhost' type='chat'><body>hi bob</body></message>")
		bob.Expect("message", isMessage("hi bob"))
		bob.Send("<presence><show>chat</show></presence>")
		laptop.Expect("bob's presence", func(el *stanza.Element) bool {
			return isPresence("bob@localhost/desk", "")(el) && el.ChildText("", "show") == "chat"
		})
	})
}

// TestBlockDomainAndUnblockAll blocks a whole domain (another virtual host
// of the server), checks both directions for two users there and one at
// the user's own domain, then unblocks everything with an empty unblock.
func TestBlockDomainAndUnblockAll(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `hosts = ["a.example", "b.example"]`)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "carol@a.example", "pw-carol-1")
	srv.AddUser(t, "mallory@b.example", "pw-mallory")
	srv.AddUser(t, "eve@b.example", "pw-eve-1234")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "one")
	alice2 := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "two")
	carol := srv.LoginAvailable(t, "carol@a.example", "pw-carol-1", "c")
	mallory := srv.LoginAvailable(t, "mallory@b.example", "pw-mallory", "m")
	eve := srv.LoginAvailable(t, "eve@b.example", "pw-eve-1234", "e")
	befriend(t, alice, mallory)
	blocklist(t, alice2)
	for _, c := range []*xmpptest.Client{alice, alice2, carol, mallory, eve} {
		drain(t, c)
	}

	wantResult(t, blockCommand(t, alice, "block", "b.example"))
	if p := pushItems(alice2.Expect("push", isPush("block"))); len(p) != 1 || p[0] != "b.example" {
		t.Errorf("push %v", p)
	}
	alice.ExpectNone("push", isPush("block"), 200*time.Millisecond) // alice/one never asked
	mallory.Expect("alice offline (one)", isPresence("alice@a.example/one", "unavailable"))
	mallory.Expect("alice offline (two)", isPresence("alice@a.example/two", "unavailable"))

	for i, c := range []*xmpptest.Client{mallory, eve} {
		id := "dom" + string(rune('0'+i))
		c.Send("<message to='alice@a.example' type='chat' id='" + id + "'><body>from b</body></message>")
		if el := c.Expect("error", isReplyTo(id)); errorCondition(el) != "service-unavailable" {
			t.Errorf("%s: got %s", c.JID, el)
		}
		alice.Send("<message to='" + c.JID.Bare().String() + "' type='chat' id='o" + id + "'><body>to b</body></message>")
		wantBlockedError(t, alice.Expect("error", isReplyTo("o"+id)))
	}
	alice.Send("<message to='b.example' type='chat' id='todomain'><body>to the domain</body></message>")
	wantBlockedError(t, alice.Expect("error", isReplyTo("todomain")))
	mallory.Send("<presence><show>xa</show></presence>")
	alice.ExpectNone("mallory's presence", isPresenceFromAccount("mallory@b.example"), 300*time.Millisecond)
	alice.Send("<presence><show>away</show></presence>")
	mallory.ExpectNone("alice's presence", isPresenceFromAccount("alice@a.example"), 300*time.Millisecond)
	// carol, at alice's own domain, is not concerned.
	carol.Send("<message to='alice@a.example/one' type='chat'><body>from a</body></message>")
	alice.Expect("carol's message", isMessage("from a"))
	mallory.ExpectNone("messages", isAnyMessage, 100*time.Millisecond)
	eve.ExpectNone("messages", isAnyMessage, 100*time.Millisecond)

	wantResult(t, blockCommand(t, alice, "block", "eve@b.example/e"))
	wantResult(t, blockCommand(t, alice, "unblock")) // everything
	alice2.Expect("push", isPush("block"))
	push := alice2.Expect("push", isPush("unblock"))
	if items := pushItems(push); len(items) != 0 {
		t.Errorf("unblock-all push carries items %v", items)
	}
	if l := blocklist(t, alice); len(l) != 0 {
		t.Errorf("blocklist after unblock all: %v", l)
	}
	p := mallory.Expect("alice's presence again", isPresence("alice@a.example/one", ""))
	if p.ChildText("", "show") != "away" {
		t.Errorf("presence %s", p)
	}
	mallory.Send("<message to='alice@a.example' type='chat'><body>unblocked</body></message>")
	alice.Expect("message", isMessage("unblocked"))
	eve.Send("<message to='alice@a.example/one' type='chat'><body>eve unblocked</body></message>")
	alice.Expect("message", isMessage("eve unblocked"))
}

// TestBlockingCommandErrors checks the error cases of XEP-0191 §3.3 over
// the wire.
func TestBlockingCommandErrors(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.Login(t, "alice", "pw-alice-1", "laptop")
	for _, tc := range []struct{ name, iq, cond string }{
		{"empty block", "<iq type='set' id='e1'><block xmlns='urn:xmpp:blocking'/></iq>", "bad-request"},
		{"malformed jid", "<iq type='set' id='e2'><block xmlns='urn:xmpp:blocking'><item jid='a@@b'/></block></iq>", "jid-malformed"},
		{"another user's list", "<iq type='get' id='e3' to='bob@localhost'><blocklist xmlns='urn:xmpp:blocking'/></iq>", "forbidden"},
		{"another user's block", "<iq type='set' id='e4' to='bob@localhost'><block xmlns='urn:xmpp:blocking'><item jid='x@y.z'/></block></iq>", "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if el := alice.IQ(tc.iq); el.Get("type") != "error" || errorCondition(el) != tc.cond {
				t.Errorf("got %s, want %s", el, tc.cond)
			}
		})
	}
}

package server_test

import (
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

func isMessage(body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.ChildText("", "body") == body
	}
}

func isAnyMessage(el *stanza.Element) bool { return el.Name.Local == "message" }

func errorCondition(el *stanza.Element) string {
	if e := stanza.ParseError(el); e != nil {
		return e.Condition
	}
	return ""
}

func TestMessageRouting(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bobPhone := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	bobDesk := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")

	t.Run("full JID reaches only that resource", func(t *testing.T) {
		alice.Send("<message to='bob@localhost/phone' type='chat' id='m1'><body>to phone</body></message>")
		got := bobPhone.Expect("message", isMessage("to phone"))
		if got.Get("from") != "alice@localhost/laptop" || got.Get("to") != "bob@localhost/phone" {
			t.Errorf("delivered %s", got)
		}
		bobDesk.ExpectNone("message", isAnyMessage, 300*time.Millisecond)
	})
	t.Run("bare JID reaches every available resource", func(t *testing.T) {
		alice.Send("<message to='bob@localhost' type='chat' id='m2'><body>to all</body></message>")
		bobPhone.Expect("message on phone", isMessage("to all"))
		bobDesk.Expect("message on desk", isMessage("to all"))
	})
	t.Run("negative priority resource gets no bare JID messages", func(t *testing.T) {
		bobDesk.Send("<presence><priority>-1</priority></presence>")
		time.Sleep(100 * time.Millisecond)
		alice.Send("<message to='bob@localhost' type='chat'><body>not for desk</body></message>")
		bobPhone.Expect("message on phone", isMessage("not for desk"))
		bobDesk.ExpectNone("message", isAnyMessage, 300*time.Millisecond)
		bobDesk.Send("<presence/>")
		time.Sleep(100 * time.Millisecond)
	})
	t.Run("unknown resource falls back to the bare JID", func(t *testing.T) {
		alice.Send("<message to='bob@localhost/gone' type='chat'><body>fallback</body></message>")
		bobPhone.Expect("message on phone", isMessage("fallback"))
	})
	t.Run("unknown user gets service-unavailable", func(t *testing.T) {
		alice.Send("<message to='nobody@localhost' type='chat' id='m3'><body>hello?</body></message>")
		el := alice.Expect("error", func(el *stanza.Element) bool { return el.Get("id") == "m3" })
		if el.Get("type") != "error" || errorCondition(el) != "service-unavailable" || el.Get("from") != "nobody@localhost" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("groupchat to a user is refused", func(t *testing.T) {
		alice.Send("<message to='bob@localhost' type='groupchat' id='m4'><body>x</body></message>")
		el := alice.Expect("error", func(el *stanza.Element) bool { return el.Get("id") == "m4" })
		if errorCondition(el) != "service-unavailable" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("remote domain without federation", func(t *testing.T) {
		alice.Send("<message to='someone@elsewhere.example' type='chat' id='m5'><body>x</body></message>")
		el := alice.Expect("error", func(el *stanza.Element) bool { return el.Get("id") == "m5" })
		if errorCondition(el) != "remote-server-not-found" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("malformed to", func(t *testing.T) {
		alice.Send("<message to='a@b@c/' type='chat' id='m6'><body>x</body></message>")
		el := alice.Expect("error", func(el *stanza.Element) bool { return el.Get("id") == "m6" })
		if errorCondition(el) != "jid-malformed" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("message with no to goes to own account", func(t *testing.T) {
		bobPhone.Send("<message type='chat'><body>note to self</body></message>")
		bobDesk.Expect("own message on desk", isMessage("note to self"))
	})
}

func TestMessageToOfflineUserIsNotLostSilently(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	alice.Send("<message to='bob@localhost' type='chat' id='off1'><body>are you there</body></message>")
	// Offline storage (XEP-0160) takes it: no error comes back, and bob
	// gets it at his next initial presence. (Without storage, RFC 6121
	// §8.5.2.2.1 requires <service-unavailable/>: see TestOfflineLimit.)
	alice.ExpectNone("reply", func(el *stanza.Element) bool { return el.Get("id") == "off1" }, 300*time.Millisecond)
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	el := bob.Expect("stored message", isMessage("are you there"))
	if el.Get("from") != "alice@localhost/laptop" || el.Child("urn:xmpp:delay", "delay") == nil {
		t.Errorf("delivered %s", el)
	}
}

func TestIQRouting(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")

	t.Run("unknown namespace to server", func(t *testing.T) {
		el := alice.IQ("<iq type='get' id='q1' to='localhost'><query xmlns='urn:example:unknown'/></iq>")
		if el.Get("type") != "error" || errorCondition(el) != "service-unavailable" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("iq to full JID is routed and the result returns", func(t *testing.T) {
		alice.Send("<iq type='get' id='q2' to='bob@localhost/phone'><query xmlns='urn:example:custom'/></iq>")
		req := bob.Expect("iq", func(el *stanza.Element) bool { return el.Get("id") == "q2" })
		if req.Get("from") != "alice@localhost/laptop" {
			t.Fatalf("routed %s", req)
		}
		bob.Send("<iq type='result' id='q2' to='alice@localhost/laptop'/>")
		res := alice.Expect("result", func(el *stanza.Element) bool { return el.Get("id") == "q2" })
		if res.Get("type") != "result" || res.Get("from") != "bob@localhost/phone" {
			t.Errorf("result %s", res)
		}
	})
	t.Run("iq to unavailable full JID", func(t *testing.T) {
		el := alice.IQ("<iq type='get' id='q3' to='bob@localhost/nope'><query xmlns='urn:example:custom'/></iq>")
		if errorCondition(el) != "service-unavailable" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("iq without payload", func(t *testing.T) {
		el := alice.IQ("<iq type='get' id='q4' to='localhost'/>")
		if errorCondition(el) != "bad-request" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("iq with bad type", func(t *testing.T) {
		el := alice.IQ("<iq type='fetch' id='q5' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		if errorCondition(el) != "bad-request" {
			t.Errorf("got %s", el)
		}
	})
	t.Run("iq to unknown account", func(t *testing.T) {
		el := alice.IQ("<iq type='get' id='q6' to='nobody@localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		if errorCondition(el) != "service-unavailable" {
			t.Errorf("got %s", el)
		}
	})
}

func TestServerInfoIQs(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[contact]\nadmin = [\"xmpp:admin@localhost\"]\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "laptop")
	tests := []struct {
		name, iq, child string
	}{
		{"ping server", "<iq type='get' id='i1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", ""},
		{"ping own account", "<iq type='get' id='i2'><ping xmlns='urn:xmpp:ping'/></iq>", ""},
		{"version", "<iq type='get' id='i3' to='localhost'><query xmlns='jabber:iq:version'/></iq>", "query"},
		{"time", "<iq type='get' id='i4' to='localhost'><time xmlns='urn:xmpp:time'/></iq>", "time"},
		{"last (uptime)", "<iq type='get' id='i5' to='localhost'><query xmlns='jabber:iq:last'/></iq>", "query"},
		{"disco items", "<iq type='get' id='i6' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>", "query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			el := alice.IQ(tc.iq)
			if el.Get("type") != "result" {
				t.Fatalf("got %s", el)
			}
			if tc.child != "" && el.Child("", tc.child) == nil {
				t.Errorf("result without <%s/>: %s", tc.child, el)
			}
		})
	}
	t.Run("disco info advertises what is implemented", func(t *testing.T) {
		el := alice.IQ("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		q := el.Child("http://jabber.org/protocol/disco#info", "query")
		if q == nil {
			t.Fatalf("got %s", el)
		}
		have := map[string]bool{}
		for _, f := range q.Elements() {
			if f.Name.Local == "feature" {
				have[f.Get("var")] = true
			}
		}
		for _, want := range []string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time", "jabber:iq:last"} {
			if !have[want] {
				t.Errorf("disco#info lacks %s: %s", want, el)
			}
		}
		var identity bool
		for _, id := range q.Elements() {
			if id.Name.Local == "identity" && id.Get("category") == "server" && id.Get("type") == "im" {
				identity = true
			}
		}
		if !identity {
			t.Errorf("no server/im identity: %s", el)
		}
		if x := q.Child(stanza.NSData, "x"); x == nil || !strings.Contains(x.String(), "xmpp:admin@localhost") {
			t.Errorf("no XEP-0157 contact addresses: %s", el)
		}
	})
}

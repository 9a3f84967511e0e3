package server_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

const (
	nsCarbons = "urn:xmpp:carbons:2"
	nsForward = "urn:xmpp:forward:0"
	nsDisco   = "http://jabber.org/protocol/disco#info"
)

// drain discards what c received so far, waiting until nothing arrives
// for a moment, so that later ExpectNone calls see only new stanzas.
func drain(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	for {
		_, err := c.ReadElement(200 * time.Millisecond)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if err != nil {
			t.Fatalf("draining %s: %v", c.JID, err)
		}
	}
}

// carbon returns the message a carbon copy of kind ("sent" or "received")
// forwards, or nil when el is not such a copy.
func carbon(el *stanza.Element, kind string) *stanza.Element {
	if el.Name.Local != "message" {
		return nil
	}
	w := el.Child(nsCarbons, kind)
	if w == nil {
		return nil
	}
	f := w.Child(nsForward, "forwarded")
	if f == nil {
		return nil
	}
	return f.Child("", "message")
}

func isCarbon(kind, body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		m := carbon(el, kind)
		return m != nil && m.ChildText("", "body") == body
	}
}

func isAnyCarbon(el *stanza.Element) bool {
	return carbon(el, "sent") != nil || carbon(el, "received") != nil
}

func enableCarbons(t *testing.T, c *xmpptest.Client, on bool) {
	t.Helper()
	el := "enable"
	if !on {
		el = "disable"
	}
	res := c.IQ("<iq type='set' id='" + c.NextID() + "'><" + el + " xmlns='urn:xmpp:carbons:2'/></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("%s carbons: %s", el, res)
	}
}

func serverFeatures(t *testing.T, c *xmpptest.Client) map[string]bool {
	t.Helper()
	res := c.IQ("<iq type='get' id='" + c.NextID() + "' to='" + c.JID.Domain() + "'><query xmlns='" + nsDisco + "'/></iq>")
	q := res.Child(nsDisco, "query")
	if res.Get("type") != "result" || q == nil {
		t.Fatalf("disco#info: %s", res)
	}
	f := map[string]bool{}
	for _, el := range q.Elements() {
		if el.Name.Local == "feature" {
			f[el.Get("var")] = true
		}
	}
	return f
}

// TestCarbons runs XEP-0280 across three resources of one user: phone and
// laptop enable carbons, tablet does not.
func TestCarbons(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	phone := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	laptop := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	tablet := srv.LoginAvailable(t, "alice", "pw-alice-1", "tablet")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	if !serverFeatures(t, phone)[nsCarbons] {
		t.Fatal("the server does not advertise urn:xmpp:carbons:2")
	}
	enableCarbons(t, phone, true)
	enableCarbons(t, laptop, true)
	enableCarbons(t, laptop, true) // §9.1: enabling twice is fine
	for _, c := range []*xmpptest.Client{phone, laptop, tablet, bob} {
		drain(t, c)
	}

	t.Run("received copy", func(t *testing.T) {
		bob.Send("<message to='alice@localhost/phone' type='chat' id='r1'><body>to phone</body></message>")
		orig := phone.Expect("original", isMessage("to phone"))
		if orig.Get("from") != "bob@localhost/desk" {
			t.Errorf("original %s", orig)
		}
		cp := laptop.Expect("received carbon", isCarbon("received", "to phone"))
		if cp.Get("from") != "alice@localhost" || cp.Get("to") != "alice@localhost/laptop" || cp.Get("type") != "chat" {
			t.Errorf("carbon envelope %s", cp)
		}
		inner := carbon(cp, "received")
		if inner.Get("from") != "bob@localhost/desk" || inner.Get("to") != "alice@localhost/phone" || inner.Get("id") != "r1" {
			t.Errorf("forwarded message %s", inner)
		}
		tablet.ExpectNone("carbon or message", isAnyMessage, 300*time.Millisecond)
		phone.ExpectNone("carbon", isAnyCarbon, 100*time.Millisecond)
	})

	t.Run("bare JID message reaches all, no copies", func(t *testing.T) {
		bob.Send("<message to='alice@localhost' type='chat'><body>to all</body></message>")
		for _, c := range []*xmpptest.Client{phone, laptop, tablet} {
			c.Expect("original", isMessage("to all"))
		}
		for _, c := range []*xmpptest.Client{phone, laptop, tablet} {
			c.ExpectNone("carbon", isAnyCarbon, 200*time.Millisecond)
		}
	})

	t.Run("sent copies from a resource without carbons", func(t *testing.T) {
		tablet.Send("<message to='bob@localhost' type='chat' id='s1'><body>from tablet</body></message>")
		bob.Expect("message", isMessage("from tablet"))
		for _, c := range []*xmpptest.Client{phone, laptop} {
			cp := c.Expect("sent carbon", isCarbon("sent", "from tablet"))
			inner := carbon(cp, "sent")
			if cp.Get("from") != "alice@localhost" || cp.Get("to") != c.JID.String() || inner.Get("from") != "alice@localhost/tablet" || inner.Get("to") != "bob@localhost" {
				t.Errorf("sent carbon %s", cp)
			}
		}
		tablet.ExpectNone("carbon", isAnyCarbon, 200*time.Millisecond)
	})

	t.Run("sent copy skips the sender", func(t *testing.T) {
		phone.Send("<message to='bob@localhost' type='chat'><body>from phone</body></message>")
		bob.Expect("message", isMessage("from phone"))
		laptop.Expect("sent carbon", isCarbon("sent", "from phone"))
		phone.ExpectNone("carbon", isAnyCarbon, 200*time.Millisecond)
		tablet.ExpectNone("carbon", isAnyCarbon, 100*time.Millisecond)
	})

	t.Run("private messages are not copied", func(t *testing.T) {
		bob.Send("<message to='alice@localhost/phone' type='chat'><body>secret in</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>")
		in := phone.Expect("original", isMessage("secret in"))
		// §8: the receiving server does not strip <private/>.
		if in.Child(nsCarbons, "private") == nil {
			t.Errorf("private element stripped: %s", in)
		}
		phone.Send("<message to='bob@localhost' type='chat'><body>secret out</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>")
		bob.Expect("original", isMessage("secret out"))
		laptop.ExpectNone("carbon", isAnyCarbon, 300*time.Millisecond)
	})

	t.Run("message to another own resource", func(t *testing.T) {
		tablet.Send("<message to='alice@localhost/phone' type='chat'><body>note</body></message>")
		phone.Expect("original", isMessage("note"))
		cp := laptop.Expect("one copy", isCarbon("sent", "note"))
		if cp.Get("from") != "alice@localhost" {
			t.Errorf("copy %s", cp)
		}
		laptop.ExpectNone("second copy", isAnyCarbon, 300*time.Millisecond)
		phone.ExpectNone("copy", isAnyCarbon, 100*time.Millisecond)
	})

	t.Run("eligibility", func(t *testing.T) {
		for _, tc := range []struct {
			name, payload string
			copied        bool
		}{
			{"chat", "<message type='chat'><body>%s</body></message>", true},
			{"normal with body", "<message><body>%s</body></message>", true},
			{"chat state", "<message type='chat'><thread>%s</thread><active xmlns='http://jabber.org/protocol/chatstates'/></message>", true},
			{"receipt", "<message><thread>%s</thread><received xmlns='urn:xmpp:receipts' id='x'/></message>", true},
			{"marker", "<message><thread>%s</thread><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>", true},
			{"direct invitation", "<message><thread>%s</thread><x xmlns='jabber:x:conference' jid='room@muc.localhost'/></message>", true},
			{"headline", "<message type='headline'><body>%s</body></message>", false},
			{"normal without body", "<message><thread>%s</thread></message>", false},
			{"groupchat", "<message type='groupchat'><body>%s</body></message>", false},
			{"MUC private message", "<message type='chat'><body>%s</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", false},
			{"no-copy hint", "<message type='chat'><body>%s</body><no-copy xmlns='urn:xmpp:hints'/></message>", false},
			{"forged carbon", "<message type='chat'><thread>%s</thread><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><body>forged</body></message></forwarded></received></message>", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				mark := "elig-" + tc.name
				bob.Send(fmt.Sprintf(strings.Replace(tc.payload, "<message", "<message to='alice@localhost/phone'", 1), mark))
				// Every message here is to phone's full JID: phone gets it.
				phone.Expect("original", func(el *stanza.Element) bool {
					return el.Name.Local == "message" && (el.ChildText("", "body") == mark || el.ChildText("", "thread") == mark)
				})
				// A sentinel that is always copied tells when to stop waiting.
				bob.Send("<message to='alice@localhost/phone' type='chat'><body>sentinel " + mark + "</body></message>")
				var copied bool
				for {
					el := laptop.Next()
					m := carbon(el, "received")
					if m == nil {
						continue
					}
					if m.ChildText("", "body") == "sentinel "+mark {
						break
					}
					if m.ChildText("", "body") == mark || m.ChildText("", "thread") == mark {
						copied = true
					}
				}
				if copied != tc.copied {
					t.Errorf("copied = %v, want %v", copied, tc.copied)
				}
			})
		}
	})

	t.Run("disabled session gets nothing", func(t *testing.T) {
		enableCarbons(t, laptop, false)
		bob.Send("<message to='alice@localhost/phone' type='chat'><body>after disable</body></message>")
		phone.Expect("original", isMessage("after disable"))
		tablet.Send("<message to='bob@localhost' type='chat'><body>sent after disable</body></message>")
		phone.Expect("sent carbon", isCarbon("sent", "sent after disable"))
		laptop.ExpectNone("carbon", isAnyCarbon, 300*time.Millisecond)
	})
}

package carbons_test

import (
	"context"
	"fmt"
	"testing"

	"hearth/jid"
	"hearth/mod/carbons"
	"hearth/mod/internal/modtest"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage/memstore"
)

const alice = "alice@example.com"

func newEnv(t *testing.T) *modtest.Env {
	t.Helper()
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, carbons.Module, nil)
	env.Freeze(t)
	return env
}

func toggle(t *testing.T, env *modtest.Env, from, el string) modtest.Reply {
	t.Helper()
	return env.IQ(t, fmt.Sprintf(`<iq xmlns='jabber:client' type='set' id='c' from='%s'><%s xmlns='urn:xmpp:carbons:2'/></iq>`, from, el))
}

func TestEnableDisable(t *testing.T) {
	env := newEnv(t)
	s := env.Router.Bind(t, alice+"/one")
	if carbons.Enabled(s) {
		t.Fatal("enabled before asking")
	}
	toggle(t, env, alice+"/one", "enable").WantResult(t, "")
	toggle(t, env, alice+"/one", "enable").WantResult(t, "") // §9.1: not an error
	if !carbons.Enabled(s) {
		t.Fatal("not enabled")
	}
	toggle(t, env, alice+"/one", "disable").WantResult(t, "")
	toggle(t, env, alice+"/one", "disable").WantResult(t, "")
	if carbons.Enabled(s) {
		t.Fatal("still enabled")
	}
	// For another account, or from no local session: not-allowed (§4.1, §5.1).
	env.Router.Bind(t, "bob@example.com/b")
	env.IQ(t, `<iq xmlns='jabber:client' type='set' id='c' from='bob@example.com/b' to='alice@example.com'><enable xmlns='urn:xmpp:carbons:2'/></iq>`).WantError(t, stanza.Cancel, "not-allowed")
	env.IQ(t, `<iq xmlns='jabber:client' type='set' id='c' from='carol@example.com/c'><enable xmlns='urn:xmpp:carbons:2'/></iq>`).WantError(t, stanza.Cancel, "not-allowed")
}

func TestEligible(t *testing.T) {
	for _, tc := range []struct {
		name     string
		xml      string
		sent     bool // eligible at the sender's server
		received bool // eligible at the recipient's server
	}{
		{"chat", `<message type='chat'><body>x</body></message>`, true, true},
		{"chat without body", `<message type='chat'><thread>t</thread></message>`, true, true},
		{"normal with body", `<message type='normal'><body>x</body></message>`, true, true},
		{"no type with body", `<message><body>x</body></message>`, true, true},
		{"normal without body", `<message><subject>s</subject></message>`, false, false},
		{"headline", `<message type='headline'><body>x</body></message>`, false, false},
		{"pubsub event", `<message><event xmlns='http://jabber.org/protocol/pubsub#event'/></message>`, false, false},
		{"receipt request", `<message><request xmlns='urn:xmpp:receipts'/></message>`, true, true},
		{"receipt", `<message><received xmlns='urn:xmpp:receipts' id='x'/></message>`, true, true},
		{"chat state", `<message><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`, true, true},
		{"marker", `<message><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>`, true, true},
		{"error", `<message type='error'><body>x</body><error type='cancel'/></message>`, false, false},
		{"groupchat", `<message type='groupchat'><body>x</body></message>`, false, false},
		{"groupchat with muc#user", `<message type='groupchat'><body>x</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`, false, false},
		{"MUC private message", `<message type='chat'><body>x</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`, true, false},
		{"direct invitation", `<message><x xmlns='jabber:x:conference' jid='room@muc.example'/></message>`, true, true},
		{"mediated invitation", `<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b.c'/></x></message>`, true, true},
		{"private", `<message type='chat'><body>x</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>`, false, false},
		{"private alone", `<message type='chat'><body>x</body><private xmlns='urn:xmpp:carbons:2'/></message>`, false, false},
		{"no-copy alone", `<message type='chat'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>`, false, false},
		{"private invitation", `<message><x xmlns='jabber:x:conference' jid='r@m.e'/><private xmlns='urn:xmpp:carbons:2'/></message>`, false, false},
		{"other hint", `<message type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>`, true, true},
		{"a sent carbon", `<message type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'/></sent></message>`, false, false},
		{"a received carbon", `<message type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'/></received></message>`, false, false},
		{"body in another namespace", `<message><body xmlns='urn:example'>x</body></message>`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := modtest.Parse(t, tc.xml)
			if got := carbons.Eligible(msg, carbons.Sent); got != tc.sent {
				t.Errorf("sent: %v, want %v", got, tc.sent)
			}
			if got := carbons.Eligible(msg, carbons.Received); got != tc.received {
				t.Errorf("received: %v, want %v", got, tc.received)
			}
		})
	}
}

// three binds alice/one, alice/two, alice/three; one and two enable
// carbons.
func three(t *testing.T, env *modtest.Env) (one, two, three *modtest.Session) {
	t.Helper()
	one = env.Router.Bind(t, alice+"/one")
	two = env.Router.Bind(t, alice+"/two")
	three = env.Router.Bind(t, alice+"/three")
	toggle(t, env, alice+"/one", "enable").WantResult(t, "")
	toggle(t, env, alice+"/two", "enable").WantResult(t, "")
	return one, two, three
}

func TestSentCopies(t *testing.T) {
	env := newEnv(t)
	one, two, three := three(t, env)
	ctx := context.Background()
	msg := modtest.Parse(t, `<message xmlns='jabber:client' from='alice@example.com/three' to='bob@example.net' type='chat' id='m1'><body>hi</body></message>`)
	// Sent by three, which did not enable carbons: copies go to the other
	// enabled sessions all the same (§7).
	out, err := env.Registry.RunInbound(ctx, msg, jid.MustParse(alice+"/three"), jid.MustParse("bob@example.net"))
	if out != msg || err != nil {
		t.Fatalf("inbound hook returned %v, %v; want the message unchanged", out, err)
	}
	for _, s := range []*modtest.Session{one, two} {
		got := s.Sent()
		if len(got) != 1 {
			t.Fatalf("%s got %v", s.JID(), got)
		}
		modtest.Equal(t, got[0], fmt.Sprintf(`<message xmlns='jabber:client' from='alice@example.com' to='%s' type='chat'>
			<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>
				<message xmlns='jabber:client' from='alice@example.com/three' to='bob@example.net' type='chat' id='m1'><body>hi</body></message>
			</forwarded></sent></message>`, s.JID()))
	}
	if n := len(three.Sent()); n != 0 {
		t.Errorf("the sender got %d copies", n)
	}

	// Sent by one: two gets a copy, not one itself (§7).
	msg = modtest.Parse(t, `<message xmlns='jabber:client' from='alice@example.com/one' to='bob@example.net'><body>hello</body></message>`)
	env.Registry.RunInbound(ctx, msg, jid.MustParse(alice+"/one"), jid.MustParse("bob@example.net"))
	if n := len(one.Sent()); n != 1 {
		t.Errorf("one has %d stanzas, want only the first copy", n)
	}
	if got := two.Sent(); len(got) != 2 || got[1].Get("type") != "" || got[1].Child(carbons.NS, "sent") == nil {
		t.Errorf("two got %v", got)
	}

	// Not eligible, private, or not a message: nothing.
	for _, x := range []string{
		`<message xmlns='jabber:client' type='chat'><body>p</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>`,
		`<message xmlns='jabber:client' type='headline'><body>h</body></message>`,
		`<presence xmlns='jabber:client'/>`,
		`<iq xmlns='jabber:client' type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>`,
	} {
		env.Registry.RunInbound(ctx, modtest.Parse(t, x), jid.MustParse(alice+"/three"), jid.MustParse("bob@example.net"))
	}
	if len(one.Sent()) != 1 || len(two.Sent()) != 2 {
		t.Errorf("copies of ineligible stanzas: %v %v", one.Sent(), two.Sent())
	}
}

func TestReceivedCopies(t *testing.T) {
	env := newEnv(t)
	one, two, three := three(t, env)
	ctx := context.Background()
	msg := modtest.Parse(t, `<message xmlns='jabber:client' from='bob@example.net/desk' to='alice@example.com/three' type='chat'><body>hi</body></message>`)
	env.Registry.RunDelivered(ctx, msg, jid.MustParse(alice), []module.Session{three})
	for _, s := range []*modtest.Session{one, two} {
		got := s.Sent()
		if len(got) != 1 {
			t.Fatalf("%s got %v", s.JID(), got)
		}
		modtest.Equal(t, got[0], fmt.Sprintf(`<message xmlns='jabber:client' from='alice@example.com' to='%s' type='chat'>
			<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>
				<message xmlns='jabber:client' from='bob@example.net/desk' to='alice@example.com/three' type='chat'><body>hi</body></message>
			</forwarded></received></message>`, s.JID()))
	}
	if n := len(three.Sent()); n != 0 {
		t.Errorf("three, which has carbons off, got %d copies", n)
	}

	// Delivered to one and two (a message to the bare JID): no copies (§6).
	msg = modtest.Parse(t, `<message xmlns='jabber:client' from='bob@example.net/desk' to='alice@example.com' type='chat'><body>all</body></message>`)
	env.Registry.RunDelivered(ctx, msg, jid.MustParse(alice), []module.Session{one, two})
	if len(one.Sent()) != 1 || len(two.Sent()) != 1 {
		t.Errorf("copies to sessions that got the original: %v %v", one.Sent(), two.Sent())
	}
	// A private message from a MUC participant, or a private one: none.
	for _, x := range []string{
		`<message xmlns='jabber:client' from='room@muc.example.net/nick' type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`,
		`<message xmlns='jabber:client' from='bob@example.net/desk' type='chat'><body>p</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>`,
	} {
		env.Registry.RunDelivered(ctx, modtest.Parse(t, x), jid.MustParse(alice), []module.Session{three})
	}
	if len(one.Sent()) != 1 || len(two.Sent()) != 1 {
		t.Errorf("copies of ineligible messages: %v %v", one.Sent(), two.Sent())
	}
}

// TestMessageToOwnResource checks that a message from one resource of the
// account to another reaches every other enabled resource exactly once:
// the addressee gets the original, the sender nothing, the rest a <sent/>
// copy.
func TestMessageToOwnResource(t *testing.T) {
	env := newEnv(t)
	one, two, three := three(t, env)
	toggle(t, env, alice+"/three", "enable").WantResult(t, "")
	ctx := context.Background()
	msg := modtest.Parse(t, `<message xmlns='jabber:client' from='alice@example.com/one' to='alice@example.com/two' type='chat'><body>note</body></message>`)
	env.Registry.RunInbound(ctx, msg, jid.MustParse(alice+"/one"), jid.MustParse(alice+"/two"))
	env.Registry.RunDelivered(ctx, msg, jid.MustParse(alice), []module.Session{two})
	if n, m := len(one.Sent()), len(two.Sent()); n != 0 || m != 0 {
		t.Errorf("sender got %d copies, addressee %d", n, m)
	}
	got := three.Sent()
	if len(got) != 1 || got[0].Child(carbons.NS, "sent") == nil || got[0].Get("from") != alice {
		t.Fatalf("three got %v", got)
	}
}

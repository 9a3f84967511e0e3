package server_test

import (
	"fmt"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

func TestClientStateIndication(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	if alice.Features.Child("urn:xmpp:csi:0", "csi") == nil {
		t.Fatalf("no XEP-0352 stream feature: %s", alice.Features)
	}
	alice.Send("<inactive xmlns='urn:xmpp:csi:0'/>")
	time.Sleep(100 * time.Millisecond)

	// Presence updates and chat states are held back and collapsed.
	bob.Send("<presence to='alice@localhost/phone'><status>one</status></presence>")
	bob.Send("<presence to='alice@localhost/phone'><status>two</status></presence>")
	bob.Send("<message to='alice@localhost/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	bob.Send("<message to='alice@localhost/phone' type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/></message>")
	alice.ExpectNone("anything while inactive", func(*stanza.Element) bool { return true }, 400*time.Millisecond)

	// An IQ is urgent: what was held goes first, collapsed, in order.
	bob.Send("<iq type='get' id='v1' to='alice@localhost/phone'><query xmlns='jabber:iq:version'/></iq>")
	if got := csiNext(t, alice, 3); got != "[presence:two paused iq:v1]" {
		t.Fatalf("urgent IQ: got %s, want [presence:two paused iq:v1]", got)
	}

	// So is a message with a body.
	bob.Send("<presence to='alice@localhost/phone'><status>three</status></presence>")
	bob.Send("<message to='alice@localhost/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	alice.ExpectNone("anything while inactive", func(*stanza.Element) bool { return true }, 300*time.Millisecond)
	bob.Send("<message to='alice@localhost/phone' type='chat'><body>wake up</body></message>")
	if got := csiNext(t, alice, 3); got != "[presence:three composing body:wake up]" {
		t.Fatalf("after the message: %s, want [presence:three composing body:wake up]", got)
	}

	// <active/> sends what was held.
	bob.Send("<presence to='alice@localhost/phone'><status>five</status></presence>")
	alice.ExpectNone("presence while inactive", isAnyPresence, 300*time.Millisecond)
	alice.Send("<active xmlns='urn:xmpp:csi:0'/>")
	if el := alice.Expect("held presence", isAnyPresence); el.ChildText("", "status") != "five" {
		t.Errorf("flushed %s", el)
	}
	// Active again: presence flows at once.
	bob.Send("<presence to='alice@localhost/phone'><status>four</status></presence>")
	if el := alice.Expect("live presence", isAnyPresence); el.ChildText("", "status") != "four" {
		t.Errorf("live %s", el)
	}
}

func isAnyPresence(el *stanza.Element) bool { return el.Name.Local == "presence" }

// csiNext reads n stanzas and describes them compactly.
func csiNext(t *testing.T, c *xmpptest.Client, n int) string {
	t.Helper()
	var got []string
	for len(got) < n {
		el := c.Next()
		switch {
		case el.Name.Local == "iq":
			got = append(got, "iq:"+el.Get("id"))
		case el.Name.Local == "presence":
			got = append(got, "presence:"+el.ChildText("", "status"))
		case el.Child("http://jabber.org/protocol/chatstates", "paused") != nil:
			got = append(got, "paused")
		case el.Child("http://jabber.org/protocol/chatstates", "composing") != nil:
			got = append(got, "composing")
		case el.Name.Local == "message":
			got = append(got, "body:"+el.ChildText("", "body"))
		}
	}
	return fmt.Sprint(got)
}

package server_test

import (
	"testing"
	"time"

	"hearth/stanza"
)

// TestS2SPEPEvents: a contact on another server gets PEP notifications
// filtered by the caps that the publisher's server learnt over federation
// (its disco#info query crosses servers too), and fetches an open node.
func TestS2SPEPEvents(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	a := fedServer(t, "a.example", ca, "")
	b := fedServer(t, "b.example", ca, "")
	pin(a, b)
	pin(b, a)
	a.AddUser(t, "alice", "pw-alice-1")
	b.AddUser(t, "bob", "pw-bob-123")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	befriend(t, alice, bob)

	// Bob's caps reach his own server's PEP and alice's, which asks him
	// across federation.
	announceCapsN(t, bob, 2, nsOMEMODevices+"+notify")

	publish(t, alice, nsOMEMODevices, "current", "<devices xmlns='urn:xmpp:omemo:2'><device id='4711'/></devices>",
		"pubsub#access_model", "open")
	ev := bob.Expect("alice's device list event", isEvent("alice@a.example", nsOMEMODevices, "items"))
	if ev.Get("to") != "bob@b.example/desk" {
		t.Errorf("event %s", ev)
	}
	// A node bob did not ask for (no +notify) sends him nothing.
	publish(t, alice, nsAvatarMeta, "", "<metadata xmlns='urn:xmpp:avatar:metadata'/>")
	// Fetching across servers: the item is there.
	res := fetchItems(bob, "alice@a.example", nsOMEMODevices, "")
	if items := itemsOf(t, res); len(items) != 1 || items[0].Get("id") != "current" {
		t.Errorf("bob fetched %s", res)
	}
	bob.ExpectNone("an avatar event", isEvent("alice@a.example", nsAvatarMeta, "items"), 300*time.Millisecond)
}

// TestS2SMUC: a user of another server joins a room, chats in it with a
// local occupant and gets private messages, all across federation.
func TestS2SMUC(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	a := fedServer(t, "a.example", ca, "")
	b := fedServer(t, "b.example", ca, "")
	pin(a, b)
	pin(b, a)
	a.AddUser(t, "alice", "pw-alice-1")
	b.AddUser(t, "bob", "pw-bob-123")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")

	// The service domain has its own DNS records in real life.
	a.S2S().Pin("muc.b.example", b.Addrs("s2s")[0])
	const room = "lounge@muc.b.example"
	createRoom(t, bob, room, "bob")
	self := join(t, alice, room, "alice", "")
	if self.Get("to") != "alice@a.example/laptop" {
		t.Errorf("self-presence %s", self)
	}
	bob.Expect("alice's arrival", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == room+"/alice"
	})

	alice.Send("<message to='" + room + "' type='groupchat' id='g1'><body>hello from a</body></message>")
	bob.Expect("alice's groupchat", isGroupchat(room+"/alice", "hello from a"))
	echo := alice.Expect("the room's echo", isGroupchat(room+"/alice", "hello from a"))
	if sid := echo.Child("urn:xmpp:sid:0", "stanza-id"); sid == nil || sid.Get("by") != room {
		t.Errorf("echo without the room's stanza-id: %s", echo)
	}
	bob.Send("<message to='" + room + "' type='groupchat'><body>welcome</body></message>")
	alice.Expect("bob's groupchat", isGroupchat(room+"/bob", "welcome"))

	bob.Send("<message to='" + room + "/alice' type='chat'><body>psst</body></message>")
	pm := alice.Expect("a private message", isMessageFrom(room+"/bob"))
	if pm.ChildText("", "body") != "psst" {
		t.Errorf("private message %s", pm)
	}
	alice.Send("<presence to='" + room + "/alice' type='unavailable'/>")
	bob.Expect("alice leaving", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == room+"/alice" && el.Get("type") == "unavailable"
	})
}

// TestS2SPushRemoteApp: push notifications reach an app server on another
// server (as Conversations' push server is), and its answers come back:
// after a result the next message notifies again; after an error the
// registration is disabled (XEP-0357), so the error crossed too.
func TestS2SPushRemoteApp(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	a := fedServer(t, "a.example", ca, "")
	b := fedServer(t, "b.example", ca, "")
	pin(a, b)
	pin(b, a)
	a.AddUser(t, "alice", "pw-alice-1")
	a.AddUser(t, "bob", "pw-bob-123")
	b.AddUser(t, "app", "pw-app-123")
	app := b.Login(t, "app", "pw-app-123", "svc")
	bob := a.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	alice := a.Login(t, "alice", "pw-alice-1", "phone")
	res := alice.IQ("<iq type='set' id='e1'><enable xmlns='urn:xmpp:push:0' jid='app@b.example/svc' node='n1'/></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("enable: %s", res)
	}
	alice.Close()
	time.Sleep(100 * time.Millisecond)

	for i, body := range []string{"first", "second"} {
		bob.Send("<message to='alice@a.example' type='chat'><body>" + body + "</body></message>")
		iq := app.Expect("a push publish", isPublish)
		pub := iq.Child(nsPubSub, "pubsub").Child(nsPubSub, "publish")
		if iq.Get("from") != "alice@a.example" || pub == nil || pub.Get("node") != "n1" {
			t.Fatalf("publish %d: %s", i, iq)
		}
		if i == 0 {
			app.Send("<iq type='result' id='" + iq.Get("id") + "' to='alice@a.example'/>")
			continue
		}
		app.Send("<iq type='error' id='" + iq.Get("id") + "' to='alice@a.example'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	}
	time.Sleep(200 * time.Millisecond)
	bob.Send("<message to='alice@a.example' type='chat'><body>third</body></message>")
	app.ExpectNone("a publish after the app server's error", isPublish, 500*time.Millisecond)
}

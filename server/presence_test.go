package server_test

import (
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

const nsRoster = "jabber:iq:roster"

func isPresence(from, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == from && el.Get("type") == typ
	}
}

func rosterItem(t *testing.T, c *xmpptest.Client, contact string) *stanza.Element {
	t.Helper()
	res := c.IQ("<iq type='get' id='" + c.NextID() + "'><query xmlns='jabber:iq:roster'/></iq>")
	q := res.Child(nsRoster, "query")
	if res.Get("type") != "result" || q == nil {
		t.Fatalf("roster get: %s", res)
	}
	for _, it := range q.Elements() {
		if it.Get("jid") == contact {
			return it
		}
	}
	return nil
}

// TestSubscriptionAndPresence walks RFC 6121 §3 end to end: alice asks to
// see bob's presence, bob approves and subscribes back, and both then see
// each other's presence on every device, including going offline.
func TestSubscriptionAndPresence(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	alice2 := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	for _, c := range []*xmpptest.Client{alice, alice2, bob} {
		// Make every session an interested resource (RFC 6121 §2.1.6).
		rosterItem(t, c, "")
	}

	alice.Send("<presence to='bob@localhost' type='subscribe'/>")
	// alice's roster push: bob, none + pending out, on both her devices.
	for _, c := range []*xmpptest.Client{alice, alice2} {
		push := c.Expect("roster push", func(el *stanza.Element) bool {
			it := el.Child(nsRoster, "query")
			return el.Name.Local == "iq" && el.Get("type") == "set" && it != nil && it.Child(nsRoster, "item") != nil
		})
		it := push.Child(nsRoster, "query").Child(nsRoster, "item")
		if it.Get("jid") != "bob@localhost" || it.Get("ask") != "subscribe" {
			t.Errorf("push after subscribe: %s", push)
		}
		c.Send("<iq type='result' id='" + push.Get("id") + "'/>")
	}
	req := bob.Expect("subscription request", isPresence("alice@localhost", "subscribe"))
	if req.Get("to") != "bob@localhost" {
		t.Errorf("request %s", req)
	}
	if it := rosterItem(t, bob, "alice@localhost"); it != nil {
		t.Errorf("a pending request must not show in bob's roster: %s", it)
	}

	bob.Send("<presence to='alice@localhost' type='subscribed'/>")
	bob.Send("<presence to='alice@localhost' type='subscribe'/>")
	alice.Expect("subscribed", isPresence("bob@localhost", "subscribed"))
	// bob's current presence follows the approval (RFC 6121 §3.1.5).
	alice.Expect("bob's presence", isPresence("bob@localhost/desk", ""))
	alice.Expect("bob's subscribe", isPresence("bob@localhost", "subscribe"))
	alice.Send("<presence to='bob@localhost' type='subscribed'/>")
	bob.Expect("alice's presence (laptop)", isPresence("alice@localhost/laptop", ""))
	bob.Expect("alice's presence (phone)", isPresence("alice@localhost/phone", ""))

	deadline := time.Now().Add(3 * time.Second)
	for {
		a, b := rosterItem(t, alice, "bob@localhost"), rosterItem(t, bob, "alice@localhost")
		if a != nil && b != nil && a.Get("subscription") == "both" && b.Get("subscription") == "both" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions did not become both: alice has %v, bob has %v", a, b)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Presence updates reach every device of the contact.
	bob.Send("<presence><show>away</show><status>lunch</status></presence>")
	for _, c := range []*xmpptest.Client{alice, alice2} {
		p := c.Expect("bob away", func(el *stanza.Element) bool {
			return isPresence("bob@localhost/desk", "")(el) && el.ChildText("", "show") == "away"
		})
		if p.ChildText("", "status") != "lunch" {
			t.Errorf("update %s", p)
		}
	}
	// A new session of alice gets bob's presence from its probe.
	alice3 := srv.Login(t, "alice", "pw-alice-1", "tablet")
	alice3.Send("<presence/>")
	alice3.Expect("bob's presence from the probe", isPresence("bob@localhost/desk", ""))

	// Going offline is broadcast as unavailable.
	bob.Close()
	for _, c := range []*xmpptest.Client{alice, alice2, alice3} {
		c.Expect("bob unavailable", isPresence("bob@localhost/desk", "unavailable"))
	}
}

func TestRosterSetAndVersioning(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "laptop")
	if alice.Features.Child("urn:xmpp:features:rosterver", "ver") == nil {
		t.Errorf("no roster versioning feature: %s", alice.Features)
	}
	res := alice.IQ("<iq type='get' id='r1'><query xmlns='jabber:iq:roster' ver=''/></iq>")
	ver0 := res.Child(nsRoster, "query").Get("ver")
	res = alice.IQ("<iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='carol@example.com' name='Carol'><group>Friends</group></item></query></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("roster set: %s", res)
	}
	push := alice.Expect("push", func(el *stanza.Element) bool { return el.Get("type") == "set" && el.Child(nsRoster, "query") != nil })
	ver1 := push.Child(nsRoster, "query").Get("ver")
	if ver1 == "" || ver1 == ver0 {
		t.Errorf("push version %q after %q", ver1, ver0)
	}
	alice.Send("<iq type='result' id='" + push.Get("id") + "'/>")
	it := rosterItem(t, alice, "carol@example.com")
	if it == nil || it.Get("name") != "Carol" || it.ChildText("", "group") != "Friends" || it.Get("subscription") != "none" {
		t.Fatalf("item %v", it)
	}
	// Up to date: an empty result.
	res = alice.IQ("<iq type='get' id='r3'><query xmlns='jabber:iq:roster' ver='" + ver1 + "'/></iq>")
	if res.Get("type") != "result" || res.Child(nsRoster, "query") != nil {
		t.Errorf("roster get with the current version: %s", res)
	}
	// Invalid sets.
	for name, xml := range map[string]string{
		"two items":        "<iq type='set' id='bad1'><query xmlns='jabber:iq:roster'><item jid='a@b'/><item jid='c@d'/></query></iq>",
		"duplicate groups": "<iq type='set' id='bad2'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>x</group><group>x</group></item></query></iq>",
		"empty group":      "<iq type='set' id='bad3'><query xmlns='jabber:iq:roster'><item jid='a@b'><group></group></item></query></iq>",
	} {
		if res := alice.IQ(xml); res.Get("type") != "error" {
			t.Errorf("%s accepted: %s", name, res)
		}
	}
	res = alice.IQ("<iq type='set' id='r4'><query xmlns='jabber:iq:roster'><item jid='nobody@example.com' subscription='remove'/></query></iq>")
	if errorCondition(res) != "item-not-found" {
		t.Errorf("removing an absent item: %s", res)
	}
	res = alice.IQ("<iq type='set' id='r5'><query xmlns='jabber:iq:roster'><item jid='carol@example.com' subscription='remove'/></query></iq>")
	if res.Get("type") != "result" {
		t.Errorf("remove: %s", res)
	}
	if it := rosterItem(t, alice, "carol@example.com"); it != nil {
		t.Errorf("removed item still there: %s", it)
	}
}

func TestDirectedPresence(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	alice.Send("<presence to='bob@localhost/desk'><status>hi</status></presence>")
	bob.Expect("directed presence", isPresence("alice@localhost/laptop", ""))
	alice.Close()
	bob.Expect("unavailable to the directed presence recipient", isPresence("alice@localhost/laptop", "unavailable"))
}

func TestPresenceNotLeakedWithoutSubscription(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "eve", "pw-eve-1234")
	eve := srv.LoginAvailable(t, "eve", "pw-eve-1234", "x")
	srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	eve.Send("<presence to='alice@localhost' type='probe'/>")
	eve.ExpectNone("alice's presence", isPresence("alice@localhost/laptop", ""), 500*time.Millisecond)
}

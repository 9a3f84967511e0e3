package server_test

import (
	"slices"
	"testing"

	"hearth/stanza"
	"hearth/xmpptest"
)

// TestPubsubService checks the standalone service ([pubsub] subdomain):
// a user creates a node and publishes, subscribers (and only they) are
// notified, strangers read open nodes but not whitelist ones, only the
// owner publishes or deletes, and disco describes the service.
func TestPubsubService(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[pubsub]\nsubdomain = \"pubsub\"\n")
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, "pw-"+u+"-123")
	}
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "a")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "b")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-123", "c")
	svc := "pubsub." + srv.Domain
	iq := func(c *xmpptest.Client, typ, ns, body string) *stanza.Element {
		return c.IQ("<iq type='" + typ + "' id='" + c.NextID() + "' to='" + svc + "'><pubsub xmlns='" + ns + "'>" + body + "</pubsub></iq>")
	}

	// Discovery: the server lists the service, which is a pubsub service.
	res := alice.IQ("<iq type='get' id='d1' to='" + srv.Domain + "'><query xmlns='" + nsDiscoItems + "'/></iq>")
	var jids []string
	for _, it := range res.Child(nsDiscoItems, "query").Elements() {
		jids = append(jids, it.Get("jid"))
	}
	if !slices.Contains(jids, svc) {
		t.Fatalf("server items %v lack %s", jids, svc)
	}
	res = alice.IQ("<iq type='get' id='d2' to='" + svc + "'><query xmlns='" + nsDiscoInfo + "'/></iq>")
	if id := res.Child(nsDiscoInfo, "query").Child(nsDiscoInfo, "identity"); id == nil || id.Get("category") != "pubsub" || id.Get("type") != "service" {
		t.Fatalf("service info %s", res)
	}

	wantResult(t, iq(alice, "set", nsPubsub, "<create node='news'/>"))
	wantPubsubError(t, iq(bob, "set", nsPubsub, "<create node='news'/>"), "conflict", "")
	res = iq(bob, "set", nsPubsub, "<subscribe node='news' jid='"+bob.JID.Bare().String()+"'/>")
	if sub := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "subscription"); res.Get("type") != "result" || sub.Get("subscription") != "subscribed" {
		t.Fatalf("subscribe: %s", res)
	}
	wantPubsubError(t, iq(carol, "set", nsPubsub, "<subscribe node='news' jid='"+bob.JID.Bare().String()+"'/>"), "bad-request", "invalid-jid")

	wantResult(t, iq(alice, "set", nsPubsub, "<publish node='news'><item id='1'><entry xmlns='http://www.w3.org/2005/Atom'><title>hello</title></entry></item></publish>"))
	ev := bob.Expect("notification", isEvent(svc, "news", "items"))
	if eventItem(ev).Get("id") != "1" || ev.Get("to") != bob.JID.Bare().String() {
		t.Fatalf("notification %s", ev)
	}
	carol.ExpectNone("a notification without subscription", isEvent(svc, "news", "items"), quiet)
	if items := itemsOf(t, iq(carol, "get", nsPubsub, "<items node='news'/>")); len(items) != 1 {
		t.Fatalf("stranger reading an open node: %v", items)
	}
	wantPubsubError(t, iq(bob, "set", nsPubsub, "<publish node='news'><item><x xmlns='u'/></item></publish>"), "forbidden", "")
	wantPubsubError(t, iq(bob, "set", nsPubsubOwner, "<delete node='news'/>"), "forbidden", "")

	res = iq(bob, "get", nsPubsub, "<subscriptions/>")
	if subs := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "subscriptions").Elements(); len(subs) != 1 || subs[0].Get("node") != "news" {
		t.Fatalf("bob's subscriptions: %s", res)
	}

	// A whitelist node (auto-created with publish-options) is the owner's.
	wantResult(t, alice.IQ(publishXMLTo(svc, alice.NextID(), "private", "1", "<x xmlns='u'/>", "pubsub#access_model", "whitelist")))
	wantPubsubError(t, iq(bob, "get", nsPubsub, "<items node='private'/>"), "not-allowed", "closed-node")
	wantPubsubError(t, iq(bob, "set", nsPubsub, "<subscribe node='private' jid='"+bob.JID.Bare().String()+"'/>"), "not-allowed", "closed-node")

	wantResult(t, iq(bob, "set", nsPubsub, "<unsubscribe node='news' jid='"+bob.JID.Bare().String()+"'/>"))
	wantPubsubError(t, iq(bob, "set", nsPubsub, "<unsubscribe node='news' jid='"+bob.JID.Bare().String()+"'/>"), "unexpected-request", "not-subscribed")
	wantResult(t, iq(alice, "set", nsPubsub, "<publish node='news'><item id='2'><x xmlns='u'/></item></publish>"))
	bob.ExpectNone("a notification after unsubscribing", isEvent(svc, "news", "items"), quiet)
	wantResult(t, iq(alice, "set", nsPubsubOwner, "<delete node='news'/>"))
	wantPubsubError(t, iq(carol, "get", nsPubsub, "<items node='news'/>"), "item-not-found", "")
}

// publishXMLTo is publishXML addressed to a service.
func publishXMLTo(to, id, node, itemID, payload string, options ...string) string {
	x := publishXML(id, node, itemID, payload, options...)
	return "<iq type='set' to='" + to + "'" + x[len("<iq type='set'"):]
}

package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

const (
	nsPubsub       = "http://jabber.org/protocol/pubsub"
	nsPubsubEvent  = nsPubsub + "#event"
	nsPubsubOwner  = nsPubsub + "#owner"
	nsPubsubErrors = nsPubsub + "#errors"
	nsDiscoItems   = "http://jabber.org/protocol/disco#items"

	nsLegacyDevices = "eu.siacs.conversations.axolotl.devicelist"
	nsLegacyBundles = "eu.siacs.conversations.axolotl.bundles"
	nsOMEMODevices  = "urn:xmpp:omemo:2:devices"
	nsOMEMOBundles  = "urn:xmpp:omemo:2:bundles"
	nsAvatarData    = "urn:xmpp:avatar:data"
	nsAvatarMeta    = "urn:xmpp:avatar:metadata"
	nsBookmarks2    = "urn:xmpp:bookmarks:1"
)

// clientCapsVer is the XEP-0115 verification string of a client with identity
// client/pc named "hearth-test" and the given features.
func clientCapsVer(features []string) string {
	fs := slices.Clone(features)
	slices.Sort(fs)
	s := "client/pc//hearth-test<" + strings.Join(fs, "<") + "<"
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// announceCaps broadcasts presence with entity capabilities listing the
// features (plus one unique to c, so that the server has never seen the
// verification string) and answers the one disco#info query the server's
// PEP service sends about it, from ownerBare (the account whose service
// saw the presence first: c's own account).
// It returns once the server has the capabilities: the caps also ask for
// a sync node of c's account that holds an item, whose last item the
// server sends as soon as it knows them. It returns the presence sent.
func announceCaps(t *testing.T, c *xmpptest.Client, features ...string) string {
	t.Helper()
	return announceCapsN(t, c, 1, features...)
}

// announceCapsN is announceCaps for a client whose presence reaches the
// PEP services of several virtual hosts, each of which asks once: it
// answers queries queries.
func announceCapsN(t *testing.T, c *xmpptest.Client, queries int, features ...string) string {
	t.Helper()
	const syncNode = "urn:hearth:test:sync"
	publish(t, c, syncNode, "s", "<sync xmlns='urn:hearth:test'/>", "pubsub#access_model", "whitelist")
	features = append(slices.Clone(features), syncNode+"+notify", "urn:hearth:test:"+c.JID.String()+":"+c.NextID())
	ver := clientCapsVer(features)
	pres := "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://hearth.test/client' ver='" + ver + "'/></presence>"
	c.Send(pres)
	var b strings.Builder
	for _, f := range features {
		b.WriteString("<feature var='" + f + "'/>")
	}
	for range queries {
		q := c.Expect("disco#info query about caps", func(el *stanza.Element) bool {
			return el.Name.Local == "iq" && el.Get("type") == "get" && el.Child(nsDiscoInfo, "query") != nil
		})
		if node := q.Child(nsDiscoInfo, "query").Get("node"); node != "https://hearth.test/client#"+ver {
			t.Fatalf("caps query for node %q", node)
		}
		c.Send(fmt.Sprintf("<iq type='result' id='%s' to='%s'><query xmlns='%s' node='%s'><identity category='client' type='pc' name='hearth-test'/>%s</query></iq>",
			q.Get("id"), q.Get("from"), nsDiscoInfo, q.Child(nsDiscoInfo, "query").Get("node"), b.String()))
	}
	c.Expect("the sync node's last item", func(el *stanza.Element) bool {
		return isEvent(c.JID.Bare().String(), syncNode, "items")(el) && el.Get("to") == c.JID.String()
	})
	return pres
}

// publishXML is a publish of one item (id may be "") with optional
// publish-options fields (var=value pairs).
func publishXML(id, node, itemID, payload string, options ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<iq type='set' id='%s'><pubsub xmlns='%s'><publish node='%s'><item", id, nsPubsub, node)
	if itemID != "" {
		fmt.Fprintf(&b, " id='%s'", itemID)
	}
	fmt.Fprintf(&b, ">%s</item></publish>", payload)
	if len(options) > 0 {
		fmt.Fprintf(&b, "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>%s#publish-options</value></field>", nsPubsub)
		for i := 0; i+1 < len(options); i += 2 {
			fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", options[i], options[i+1])
		}
		b.WriteString("</x></publish-options>")
	}
	b.WriteString("</pubsub></iq>")
	return b.String()
}

func publish(t *testing.T, c *xmpptest.Client, node, itemID, payload string, options ...string) *stanza.Element {
	t.Helper()
	res := c.IQ(publishXML(c.NextID(), node, itemID, payload, options...))
	if res.Get("type") != "result" {
		t.Fatalf("publish to %s: %s", node, res)
	}
	return res
}

// fetchItems retrieves the items of node of owner (bare JID) and returns
// the reply. extra is more attributes, or children after a '>'.
func fetchItems(c *xmpptest.Client, owner, node, extra string) *stanza.Element {
	end := "/>"
	if strings.HasPrefix(extra, ">") {
		end = ">"
	}
	return c.IQ(fmt.Sprintf("<iq type='get' id='%s' to='%s'><pubsub xmlns='%s'><items node='%s'%s%s</pubsub></iq>", c.NextID(), owner, nsPubsub, node, extra, end))
}

// itemsOf returns the <item/> elements of an items result.
func itemsOf(t *testing.T, res *stanza.Element) []*stanza.Element {
	t.Helper()
	ps := res.Child(nsPubsub, "pubsub")
	if res.Get("type") != "result" || ps == nil || ps.Child(nsPubsub, "items") == nil {
		t.Fatalf("items: %s", res)
	}
	return ps.Child(nsPubsub, "items").Elements()
}

// wantPubsubError checks an error reply's condition and pubsub condition ("" for none).
func wantPubsubError(t *testing.T, res *stanza.Element, condition, app string) {
	t.Helper()
	e := stanza.ParseError(res)
	if res.Get("type") != "error" || e == nil || e.Condition != condition {
		t.Fatalf("got %s, want error %s", res, condition)
	}
	if app != "" && (e.App == nil || e.App.Name.Space != nsPubsubErrors || e.App.Name.Local != app) {
		t.Fatalf("got %s, want pubsub error %s", res, app)
	}
}

// isEvent matches a PEP notification from owner about node whose <items/>
// (or other event child) has the given local name.
func isEvent(owner, node, what string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		if el.Name.Local != "message" || el.Get("from") != owner {
			return false
		}
		ev := el.Child(nsPubsubEvent, "event")
		if ev == nil {
			return false
		}
		c := ev.Child(nsPubsubEvent, what)
		return c != nil && c.Get("node") == node
	}
}

func eventItem(el *stanza.Element) *stanza.Element {
	return el.Child(nsPubsubEvent, "event").Child(nsPubsubEvent, "items").FirstElement()
}

const quiet = 300 * time.Millisecond

// TestPEPOMEMOKeyDiscovery runs the OMEMO key discovery of Conversations:
// alice publishes her device list with publish-options (open access), her
// contact bob, whose caps ask for it, gets the notification, and carol, a
// stranger, fetches alice's bundle — in the legacy and the OMEMO 2 namespaces.
func TestPEPOMEMOKeyDiscovery(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, "pw-"+u+"-123")
	}
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "laptop")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-123", "pc")
	befriend(t, alice, bob)
	ab := alice.JID.Bare().String()

	announceCaps(t, alice, nsLegacyDevices+"+notify", nsOMEMODevices+"+notify")
	announceCaps(t, bob, nsLegacyDevices+"+notify", nsOMEMODevices+"+notify")
	// carol announces caps too, but she is no contact: no notifications.
	announceCaps(t, carol, nsLegacyDevices+"+notify", nsOMEMODevices+"+notify")

	// Legacy OMEMO (eu.siacs.conversations.axolotl).
	res := publish(t, alice, nsLegacyDevices, "current",
		"<list xmlns='eu.siacs.conversations.axolotl'><device id='1234'/></list>",
		"pubsub#access_model", "open")
	if p := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "publish"); p == nil || p.FirstElement().Get("id") != "current" {
		t.Fatalf("publish result %s", res)
	}
	ev := bob.Expect("bob's device list notification", isEvent(ab, nsLegacyDevices, "items"))
	if it := eventItem(ev); it.Get("id") != "current" || it.Child("eu.siacs.conversations.axolotl", "list") == nil {
		t.Fatalf("notification %s", ev)
	}
	if ev.Get("to") != bob.JID.String() || ev.Get("type") != "headline" {
		t.Fatalf("notification addressed %s", ev)
	}
	alice.Expect("alice's own notification", isEvent(ab, nsLegacyDevices, "items"))
	publish(t, alice, nsLegacyBundles+":1234", "current",
		"<bundle xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic signedPreKeyId='1'>AAAA</signedPreKeyPublic></bundle>",
		"pubsub#access_model", "open")
	items := itemsOf(t, fetchItems(carol, ab, nsLegacyBundles+":1234", ""))
	if len(items) != 1 || items[0].Child("eu.siacs.conversations.axolotl", "bundle") == nil {
		t.Fatalf("carol's bundle fetch: %v", items)
	}
	items = itemsOf(t, fetchItems(carol, ab, nsLegacyDevices, " max_items='1'"))
	if len(items) != 1 || items[0].Get("id") != "current" {
		t.Fatalf("carol's device list fetch: %v", items)
	}

	// OMEMO 2: one devices item, bundles keyed by device id with max_items=max.
	publish(t, alice, nsOMEMODevices, "current",
		"<devices xmlns='urn:xmpp:omemo:2'><device id='1234'/></devices>",
		"pubsub#access_model", "open")
	bob.Expect("bob's OMEMO 2 device list notification", isEvent(ab, nsOMEMODevices, "items"))
	for _, dev := range []string{"1234", "5678"} {
		publish(t, alice, nsOMEMOBundles, dev,
			"<bundle xmlns='urn:xmpp:omemo:2'><spk id='1'>AAAA</spk></bundle>",
			"pubsub#access_model", "open", "pubsub#max_items", "max")
	}
	items = itemsOf(t, fetchItems(carol, ab, nsOMEMOBundles, "><item id='5678'/></items"))
	if len(items) != 1 || items[0].Get("id") != "5678" {
		t.Fatalf("carol's OMEMO 2 bundle fetch: %v", items)
	}
	if items := itemsOf(t, fetchItems(carol, ab, nsOMEMOBundles, "")); len(items) != 2 {
		t.Fatalf("all bundles: %v", items)
	}
	carol.ExpectNone("a notification for a stranger", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Get("from") == ab
	}, quiet)
	// The bundles node does not interest bob's client: no notification.
	bob.ExpectNone("an unwanted bundles notification", isEvent(ab, nsOMEMOBundles, "items"), quiet)
}

// TestPEPPublishOptionsPrecondition checks XEP-0060 §7.1.5: options that do
// not match an existing node fail with precondition-not-met and change
// nothing; after configure, the publish goes through.
func TestPEPPublishOptionsPrecondition(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "carol", "pw-carol-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-123", "pc")
	ab := alice.JID.Bare().String()

	publish(t, alice, nsLegacyDevices, "current", "<list xmlns='eu.siacs.conversations.axolotl'/>") // default: presence
	wantPubsubError(t, fetchItems(carol, ab, nsLegacyDevices, ""), "not-authorized", "presence-subscription-required")
	res := alice.IQ(publishXML(alice.NextID(), nsLegacyDevices, "current", "<list xmlns='eu.siacs.conversations.axolotl'><device id='1'/></list>", "pubsub#access_model", "open"))
	wantPubsubError(t, res, "conflict", "precondition-not-met")
	// Unknown options are preconditions that cannot be met.
	res = alice.IQ(publishXML(alice.NextID(), "urn:example:other", "", "<x xmlns='urn:example'/>", "pubsub#frobnicate", "1"))
	wantPubsubError(t, res, "conflict", "precondition-not-met")
	// A max_items above the limit too.
	res = alice.IQ(publishXML(alice.NextID(), "urn:example:other", "", "<x xmlns='urn:example'/>", "pubsub#max_items", "100000"))
	wantPubsubError(t, res, "conflict", "precondition-not-met")

	// Conversations' recovery: read the configuration, change the access
	// model, publish again.
	cfg := alice.IQ("<iq type='get' id='" + alice.NextID() + "'><pubsub xmlns='" + nsPubsubOwner + "'><configure node='" + nsLegacyDevices + "'/></pubsub></iq>")
	x := cfg.Child(nsPubsubOwner, "pubsub").Child(nsPubsubOwner, "configure").Child("jabber:x:data", "x")
	f, err := stanza.ParseForm(x)
	if err != nil || f.Value("pubsub#access_model") != "presence" || f.Value("pubsub#max_items") != "1" {
		t.Fatalf("configuration form %s (%v)", cfg, err)
	}
	res = alice.IQ("<iq type='set' id='" + alice.NextID() + "'><pubsub xmlns='" + nsPubsubOwner + "'><configure node='" + nsLegacyDevices + "'>" +
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>" +
		"<field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub></iq>")
	wantResult(t, res)
	publish(t, alice, nsLegacyDevices, "current", "<list xmlns='eu.siacs.conversations.axolotl'><device id='1'/></list>", "pubsub#access_model", "open")
	if items := itemsOf(t, fetchItems(carol, ab, nsLegacyDevices, "")); len(items) != 1 || items[0].FirstElement().FirstElement() == nil {
		t.Fatalf("after reconfiguring: %v", items)
	}
	// Items without id get one; max_items 'max' keeps many.
	publish(t, alice, "urn:example:many", "", "<x xmlns='urn:example'>1</x>", "pubsub#max_items", "max", "pubsub#access_model", "open")
	res = publish(t, alice, "urn:example:many", "", "<x xmlns='urn:example'>2</x>", "pubsub#max_items", "max", "pubsub#access_model", "open")
	id := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "publish").FirstElement().Get("id")
	items := itemsOf(t, fetchItems(carol, ab, "urn:example:many", ""))
	if id == "" || len(items) != 2 || items[1].Get("id") != id {
		t.Fatalf("generated ids: %s, %v", id, items)
	}
	if items := itemsOf(t, fetchItems(carol, ab, "urn:example:many", " max_items='1'")); len(items) != 1 || items[0].Get("id") != id {
		t.Fatalf("max_items=1 gives %v, want the newest", items)
	}
}

// TestPEPAccessModels checks who may read presence, roster and whitelist
// nodes, and that an absent node's item-not-found echoes the request.
func TestPEPAccessModels(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, "pw-"+u+"-123")
	}
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "laptop")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-123", "pc")
	befriend(t, alice, bob)
	ab := alice.JID.Bare().String()

	publish(t, alice, nsAvatarMeta, "abc", "<metadata xmlns='urn:xmpp:avatar:metadata'/>")
	publish(t, alice, nsBookmarks2, "room@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1' autojoin='true'/>",
		"pubsub#access_model", "whitelist", "pubsub#persist_items", "true", "pubsub#max_items", "max", "pubsub#send_last_published_item", "never")
	publish(t, alice, "urn:example:friends", "1", "<x xmlns='urn:example'/>",
		"pubsub#access_model", "roster", "pubsub#roster_groups_allowed", "Friends")

	if items := itemsOf(t, fetchItems(bob, ab, nsAvatarMeta, "")); len(items) != 1 {
		t.Fatalf("contact reading a presence node: %v", items)
	}
	wantPubsubError(t, fetchItems(carol, ab, nsAvatarMeta, ""), "not-authorized", "presence-subscription-required")
	wantPubsubError(t, fetchItems(bob, ab, nsBookmarks2, ""), "not-allowed", "closed-node")
	wantPubsubError(t, fetchItems(carol, ab, nsBookmarks2, ""), "not-allowed", "closed-node")
	if items := itemsOf(t, fetchItems(alice, ab, nsBookmarks2, "")); len(items) != 1 || items[0].Get("id") != "room@muc.example" {
		t.Fatalf("owner reading bookmarks: %v", items)
	}
	// Roster access: bob is in no allowed group until alice puts him in one.
	wantPubsubError(t, fetchItems(bob, ab, "urn:example:friends", ""), "not-authorized", "not-in-roster-group")
	wantResult(t, alice.IQ("<iq type='set' id='"+alice.NextID()+"'><query xmlns='jabber:iq:roster'><item jid='"+bob.JID.Bare().String()+"'><group>Friends</group></item></query></iq>"))
	if items := itemsOf(t, fetchItems(bob, ab, "urn:example:friends", "")); len(items) != 1 {
		t.Fatalf("roster group member: %v", items)
	}

	// item-not-found echoes the <pubsub/> (COMPAT: Profanity).
	res := fetchItems(carol, ab, nsLegacyDevices, "")
	wantPubsubError(t, res, "item-not-found", "")
	if ps := res.Child(nsPubsub, "pubsub"); ps == nil || ps.Child(nsPubsub, "items").Get("node") != nsLegacyDevices {
		t.Fatalf("item-not-found without the request's payload: %s", res)
	}
	// Strangers may not publish, configure or delete.
	res = carol.IQ(fmt.Sprintf("<iq type='set' id='x1' to='%s'>%s</iq>", ab, strings.TrimSuffix(strings.TrimPrefix(publishXML("", nsAvatarMeta, "x", "<metadata xmlns='urn:xmpp:avatar:metadata'/>"), "<iq type='set' id=''>"), "</iq>")))
	wantPubsubError(t, res, "forbidden", "")
	res = carol.IQ("<iq type='set' id='x2' to='" + ab + "'><pubsub xmlns='" + nsPubsubOwner + "'><delete node='" + nsAvatarMeta + "'/></pubsub></iq>")
	wantPubsubError(t, res, "forbidden", "")
	// Explicit subscriptions are not offered.
	res = bob.IQ("<iq type='set' id='x3' to='" + ab + "'><pubsub xmlns='" + nsPubsub + "'><subscribe node='" + nsAvatarMeta + "' jid='" + bob.JID.Bare().String() + "'/></pubsub></iq>")
	wantPubsubError(t, res, "feature-not-implemented", "unsupported")

	// disco#items shows each requester the nodes it may read.
	nodes := func(c *xmpptest.Client) []string {
		res := c.IQ("<iq type='get' id='" + c.NextID() + "' to='" + ab + "'><query xmlns='" + nsDiscoItems + "'/></iq>")
		var out []string
		for _, it := range res.Child(nsDiscoItems, "query").Elements() {
			out = append(out, it.Get("node"))
		}
		return out
	}
	if got := nodes(alice); !slices.Equal(got, []string{"urn:example:friends", nsAvatarMeta, nsBookmarks2}) {
		t.Errorf("alice's nodes: %v", got)
	}
	if got := nodes(bob); !slices.Equal(got, []string{"urn:example:friends", nsAvatarMeta}) {
		t.Errorf("bob sees %v", got)
	}
	if got := nodes(carol); len(got) != 0 {
		t.Errorf("carol sees %v", got)
	}
	res = carol.IQ("<iq type='get' id='i1' to='" + ab + "'><query xmlns='" + nsDiscoInfo + "' node='" + nsBookmarks2 + "'/></iq>")
	wantPubsubError(t, res, "item-not-found", "")
	res = bob.IQ("<iq type='get' id='i2' to='" + ab + "'><query xmlns='" + nsDiscoInfo + "' node='" + nsAvatarMeta + "'/></iq>")
	if id := res.Child(nsDiscoInfo, "query").Child(nsDiscoInfo, "identity"); id == nil || id.Get("category") != "pubsub" || id.Get("type") != "leaf" {
		t.Fatalf("node info: %s", res)
	}
}

// TestPEPDiscoInfo checks the account's identity and features.
func TestPEPDiscoInfo(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	res := alice.IQ("<iq type='get' id='d1' to='" + alice.JID.Bare().String() + "'><query xmlns='" + nsDiscoInfo + "'/></iq>")
	q := res.Child(nsDiscoInfo, "query")
	pep := false
	var feats []string
	for _, c := range q.Elements() {
		if c.Name.Local == "identity" && c.Get("category") == "pubsub" && c.Get("type") == "pep" {
			pep = true
		}
		if c.Name.Local == "feature" {
			feats = append(feats, c.Get("var"))
		}
	}
	if !pep {
		t.Errorf("no pubsub/pep identity: %s", res)
	}
	for _, f := range []string{"publish", "publish-options", "auto-create", "retract-items", "purge-nodes", "delete-nodes", "config-node", "retrieve-items", "access-open", "access-whitelist", "filtered-notifications", "last-published"} {
		if !slices.Contains(feats, nsPubsub+"#"+f) {
			t.Errorf("feature pubsub#%s not advertised", f)
		}
	}
	if slices.Contains(feats, nsPubsub+"#subscribe") {
		t.Errorf("pubsub#subscribe advertised but not implemented")
	}
}

// TestPEPLastItemAndFiltering: a contact's resource that becomes available
// with +notify for the avatar gets the last item (with a delay); a resource
// whose caps do not ask for it gets nothing; the owner's retract, purge and
// delete reach the interested resource.
func TestPEPLastItemAndFiltering(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "laptop")
	befriend(t, alice, bob)
	ab := alice.JID.Bare().String()
	publish(t, alice, nsAvatarData, "hash1", "<data xmlns='urn:xmpp:avatar:data'>iVBORw0KGgo=</data>")
	publish(t, alice, nsAvatarMeta, "hash1", "<metadata xmlns='urn:xmpp:avatar:metadata'><info id='hash1' bytes='8' type='image/png'/></metadata>")

	// bob's laptop asks for metadata notifications; the last item comes.
	announceCaps(t, bob, nsAvatarMeta+"+notify")
	ev := bob.Expect("last avatar metadata", isEvent(ab, nsAvatarMeta, "items"))
	if eventItem(ev).Get("id") != "hash1" || ev.Child("urn:xmpp:delay", "delay") == nil {
		t.Fatalf("last item %s", ev)
	}
	// Resources whose caps do not ask for avatars get no avatar events:
	// the owner's own (no caps at all) and bob's second one.
	alice2 := srv.LoginAvailable(t, "alice", "pw-alice-123", "tablet")
	bob2 := srv.LoginAvailable(t, "bob", "pw-bob-123", "watch")
	announceCaps(t, bob2, "urn:xmpp:ping")
	publish(t, alice, nsAvatarMeta, "hash2", "<metadata xmlns='urn:xmpp:avatar:metadata'><info id='hash2' bytes='8' type='image/png'/></metadata>")
	if ev := bob.Expect("new metadata", isEvent(ab, nsAvatarMeta, "items")); eventItem(ev).Get("id") != "hash2" {
		t.Fatalf("metadata notification %s", ev)
	}
	bob2.ExpectNone("a notification without +notify", isEvent(ab, nsAvatarMeta, "items"), quiet)
	alice2.ExpectNone("an own notification without caps", isEvent(ab, nsAvatarMeta, "items"), quiet)
	bob.ExpectNone("data notification without +notify", isEvent(ab, nsAvatarData, "items"), quiet)

	// Retract with notify, purge, delete.
	wantResult(t, alice.IQ("<iq type='set' id='r1'><pubsub xmlns='"+nsPubsub+"'><retract node='"+nsAvatarMeta+"' notify='true'><item id='hash2'/></retract></pubsub></iq>"))
	if ev := bob.Expect("retraction", isEvent(ab, nsAvatarMeta, "items")); eventItem(ev).Name.Local != "retract" || eventItem(ev).Get("id") != "hash2" {
		t.Fatalf("retract notification %s", ev)
	}
	wantPubsubError(t, alice.IQ("<iq type='set' id='r2'><pubsub xmlns='"+nsPubsub+"'><retract node='"+nsAvatarMeta+"'><item id='hash2'/></retract></pubsub></iq>"), "item-not-found", "")
	if items := itemsOf(t, fetchItems(bob, ab, nsAvatarMeta, "")); len(items) != 0 {
		t.Fatalf("max_items 1: after retracting the newest, %v", items)
	}
	publish(t, alice, nsAvatarMeta, "hash3", "<metadata xmlns='urn:xmpp:avatar:metadata'/>")
	bob.Expect("metadata hash3", isEvent(ab, nsAvatarMeta, "items"))
	wantResult(t, alice.IQ("<iq type='set' id='p1'><pubsub xmlns='"+nsPubsubOwner+"'><purge node='"+nsAvatarMeta+"'/></pubsub></iq>"))
	bob.Expect("purge", isEvent(ab, nsAvatarMeta, "purge"))
	if items := itemsOf(t, fetchItems(bob, ab, nsAvatarMeta, "")); len(items) != 0 {
		t.Fatalf("after purge: %v", items)
	}
	wantResult(t, alice.IQ("<iq type='set' id='x1'><pubsub xmlns='"+nsPubsubOwner+"'><delete node='"+nsAvatarMeta+"'/></pubsub></iq>"))
	bob.Expect("delete", isEvent(ab, nsAvatarMeta, "delete"))
	wantPubsubError(t, fetchItems(bob, ab, nsAvatarMeta, ""), "item-not-found", "")
}

// TestPEPOwnResourceLastItem: the owner's resource gets the last item when
// it shows +notify caps, and again when it comes back after unavailable,
// without a second caps query.
func TestPEPOwnResourceLastItem(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	ab := alice.JID.Bare().String()
	publish(t, alice, nsBookmarks2, "room@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1'/>", "pubsub#access_model", "whitelist")
	pres := announceCaps(t, alice, nsBookmarks2+"+notify")
	alice.Expect("last bookmark", isEvent(ab, nsBookmarks2, "items"))
	alice.Send(pres) // same caps, still available: nothing new
	alice.ExpectNone("a repeated last item", isEvent(ab, nsBookmarks2, "items"), quiet)
	alice.Send("<presence type='unavailable'/>")
	alice.Send(pres)
	alice.Expect("last bookmark after coming back", isEvent(ab, nsBookmarks2, "items"))
	alice.ExpectNone("a second caps query", func(el *stanza.Element) bool {
		return el.Name.Local == "iq" && el.Child(nsDiscoInfo, "query") != nil
	}, quiet)
}

// TestPEPBookmarksSurviveRestart: XEP-0402 bookmarks on a whitelist node
// survive a reconnect and a restart and stay invisible to others; deleting
// the account deletes them.
func TestPEPBookmarksSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	ab := alice.JID.Bare().String()
	for _, room := range []string{"a@muc.example", "b@muc.example"} {
		publish(t, alice, nsBookmarks2, room, "<conference xmlns='urn:xmpp:bookmarks:1' autojoin='true' name='"+room+"'/>",
			"pubsub#persist_items", "true", "pubsub#max_items", "max", "pubsub#send_last_published_item", "never", "pubsub#access_model", "whitelist")
	}
	alice.Close()
	stop()

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	alice = srv.LoginAvailable(t, "alice", "pw-alice-123", "laptop")
	items := itemsOf(t, fetchItems(alice, ab, nsBookmarks2, ""))
	if len(items) != 2 || items[0].Get("id") != "a@muc.example" || items[1].Get("id") != "b@muc.example" {
		t.Fatalf("bookmarks after restart: %v", items)
	}
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "pc")
	wantPubsubError(t, fetchItems(bob, ab, nsBookmarks2, ""), "not-allowed", "closed-node")

	res := alice.IQ("<iq type='set' id='rm1' to='" + srv.Domain + "'><query xmlns='jabber:iq:register'><remove/></query></iq>")
	wantResult(t, res)
	srv.AddUser(t, "alice", "pw-alice-456")
	alice = srv.LoginAvailable(t, "alice", "pw-alice-456", "phone")
	wantPubsubError(t, fetchItems(alice, ab, nsBookmarks2, ""), "item-not-found", "")
}

// TestSlixmppPEPInterop runs Debian's python3-slixmpp xep_0060, xep_0163
// and xep_0084 plugins against hearth: OMEMO device list and bundle with
// publish-options, +notify from slixmpp's own caps, a stranger fetching
// keys, avatar data and metadata (server/testdata/slixmpp_pep.py).
func TestSlixmppPEPInterop(t *testing.T) {
	t.Parallel()
	python := requireSlixmpp(t)
	srv := xmpptest.NewServer(t, "")
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, "pw-"+u+"-123")
	}
	host, port, _ := net.SplitHostPort(srv.C2S)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/slixmpp_pep.py", host, port, srv.Domain).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("slixmpp PEP interop failed: %v\n%s", err, out)
	}
}

// TestPEPBadRequests: malformed or unsupported requests get the XEP-0060
// error, never a crash or silence.
func TestPEPBadRequests(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[pep]\nmax_payload_bytes = 300\nmax_nodes = 3\nmax_name_length = 40\n")
	srv.AddUser(t, "alice", "pw-alice-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	ps := func(body string) string {
		return "<iq type='set' id='" + alice.NextID() + "'><pubsub xmlns='" + nsPubsub + "'>" + body + "</pubsub></iq>"
	}
	owner := func(typ, body string) string {
		return "<iq type='" + typ + "' id='" + alice.NextID() + "'><pubsub xmlns='" + nsPubsubOwner + "'>" + body + "</pubsub></iq>"
	}
	publish(t, alice, "n1", "", "<x xmlns='urn:example'/>")
	for _, tc := range []struct{ name, iq, cond, app string }{
		{"no action", ps(""), "bad-request", ""},
		{"two actions", ps("<publish node='a'><item><x xmlns='u'/></item></publish><retract node='a'><item id='1'/></retract>"), "bad-request", ""},
		{"no node", ps("<publish><item><x xmlns='u'/></item></publish>"), "bad-request", "nodeid-required"},
		{"node name too long", ps("<publish node='" + strings.Repeat("n", 41) + "'><item><x xmlns='u'/></item></publish>"), "not-acceptable", ""},
		{"no item", ps("<publish node='a'/>"), "bad-request", "item-required"},
		{"two items", ps("<publish node='a'><item><x xmlns='u'/></item><item><x xmlns='u'/></item></publish>"), "bad-request", "invalid-payload"},
		{"no payload", ps("<publish node='a'><item id='1'/></publish>"), "bad-request", "payload-required"},
		{"two payloads", ps("<publish node='a'><item><x xmlns='u'/><y xmlns='u'/></item></publish>"), "bad-request", "invalid-payload"},
		{"payload too big", ps("<publish node='a'><item><x xmlns='u'>" + strings.Repeat("z", 400) + "</x></item></publish>"), "not-acceptable", "payload-too-big"},
		{"item id too long", ps("<publish node='a'><item id='" + strings.Repeat("i", 41) + "'><x xmlns='u'/></item></publish>"), "not-acceptable", ""},
		{"options not a submit form", ps("<publish node='a'><item><x xmlns='u'/></item></publish><publish-options><x xmlns='jabber:x:data' type='form'/></publish-options>"), "bad-request", ""},
		{"options with a bad boolean", ps("<publish node='a'><item><x xmlns='u'/></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>" + nsPubsub + "#publish-options</value></field><field var='pubsub#persist_items' type='boolean'><value>maybe</value></field></x></publish-options>"), "bad-request", ""},
		{"retract without id", ps("<retract node='n1'><item/></retract>"), "bad-request", "item-required"},
		{"retract on absent node", ps("<retract node='zz'><item id='1'/></retract>"), "item-not-found", ""},
		{"instant node", ps("<create/>"), "not-acceptable", "nodeid-required"},
		{"create existing", ps("<create node='n1'/>"), "conflict", ""},
		{"subscribe", ps("<subscribe node='n1' jid='alice@localhost'/>"), "feature-not-implemented", "unsupported"},
		{"configure absent", owner("set", "<configure node='zz'><x xmlns='jabber:x:data' type='submit'/></configure>"), "item-not-found", ""},
		{"configure without form", owner("set", "<configure node='n1'/>"), "bad-request", ""},
		{"configure bad value", owner("set", "<configure node='n1'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>authorize</value></field></x></configure>"), "not-acceptable", ""},
		{"purge absent", owner("set", "<purge node='zz'/>"), "item-not-found", ""},
		{"delete absent", owner("set", "<delete node='zz'/>"), "item-not-found", ""},
		{"owner affiliations", owner("get", "<affiliations node='n1'/>"), "feature-not-implemented", "unsupported"},
		{"items max_items not a number", "<iq type='get' id='g1'><pubsub xmlns='" + nsPubsub + "'><items node='n1' max_items='x'/></pubsub></iq>", "bad-request", ""},
	} {
		res := alice.IQ(tc.iq)
		e := stanza.ParseError(res)
		if res.Get("type") != "error" || e == nil || e.Condition != tc.cond {
			t.Errorf("%s: got %s, want %s", tc.name, res, tc.cond)
			continue
		}
		if tc.app != "" && (e.App == nil || e.App.Name.Local != tc.app) {
			t.Errorf("%s: got %s, want %s", tc.name, res, tc.app)
		}
	}
	// The node limit: n1 exists; two more fit, the fourth does not.
	publish(t, alice, "n2", "", "<x xmlns='urn:example'/>")
	publish(t, alice, "n3", "", "<x xmlns='urn:example'/>")
	wantPubsubError(t, alice.IQ(publishXML(alice.NextID(), "n4", "", "<x xmlns='urn:example'/>")), "resource-constraint", "")
	// The configure form round-trips, cancel changes nothing, default works.
	wantResult(t, alice.IQ(owner("set", "<configure node='n1'><x xmlns='jabber:x:data' type='cancel'/></configure>")))
	res := alice.IQ(owner("get", "<default/>"))
	if res.Get("type") != "result" || res.Child(nsPubsubOwner, "pubsub").Child(nsPubsubOwner, "default") == nil {
		t.Fatalf("default configuration: %s", res)
	}
}

// TestPEPAcrossHosts: the owner's service on one virtual host learns the
// caps of a contact on another (its own disco#info query, from the
// owner's bare JID) and notifies it; a stranger on the other host fetches
// an open bundle.
func TestPEPAcrossHosts(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `hosts = ["a.example", "b.example"]`)
	srv.AddUser(t, "alice@a.example", "pw-alice-123")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	srv.AddUser(t, "carol@b.example", "pw-carol-123")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "laptop")
	carol := srv.LoginAvailable(t, "carol@b.example", "pw-carol-123", "pc")
	befriend(t, alice, bob)
	// bob's own host and alice's each ask once.
	announceCapsN(t, bob, 2, nsOMEMODevices+"+notify")
	publish(t, alice, nsOMEMODevices, "current", "<devices xmlns='urn:xmpp:omemo:2'><device id='7'/></devices>", "pubsub#access_model", "open")
	if ev := bob.Expect("device list from the other host", isEvent("alice@a.example", nsOMEMODevices, "items")); eventItem(ev).Get("id") != "current" {
		t.Fatalf("notification %s", ev)
	}
	publish(t, alice, nsOMEMOBundles, "7", "<bundle xmlns='urn:xmpp:omemo:2'/>", "pubsub#access_model", "open", "pubsub#max_items", "max")
	if items := itemsOf(t, fetchItems(carol, "alice@a.example", nsOMEMOBundles, "")); len(items) != 1 || items[0].Get("id") != "7" {
		t.Fatalf("bundle across hosts: %v", items)
	}
}

// TestPEPConcurrentPublish: two resources publishing to one node at once
// lose no item (the per-account lock), and republishing an id replaces
// the item and makes it the newest.
func TestPEPConcurrentPublish(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	a1 := srv.LoginAvailable(t, "alice", "pw-alice-123", "one")
	a2 := srv.LoginAvailable(t, "alice", "pw-alice-123", "two")
	ab := a1.JID.Bare().String()
	const n = 15
	for i, c := range []*xmpptest.Client{a1, a2} {
		for j := range n {
			c.Send(publishXML(fmt.Sprintf("p%d-%d", i, j), "urn:example:log", fmt.Sprintf("%d-%d", i, j), "<x xmlns='urn:example'/>", "pubsub#max_items", "max"))
		}
	}
	for i, c := range []*xmpptest.Client{a1, a2} {
		for j := range n {
			id := fmt.Sprintf("p%d-%d", i, j)
			res := c.Expect("publish result "+id, isReplyTo(id))
			if res.Get("type") != "result" {
				t.Fatalf("publish %s: %s", id, res)
			}
		}
	}
	if items := itemsOf(t, fetchItems(a1, ab, "urn:example:log", "")); len(items) != 2*n {
		t.Fatalf("%d items after concurrent publishes, want %d", len(items), 2*n)
	}
	publish(t, a1, "urn:example:log", "0-0", "<x xmlns='urn:example'>again</x>", "pubsub#max_items", "max")
	items := itemsOf(t, fetchItems(a1, ab, "urn:example:log", ""))
	if last := items[len(items)-1]; len(items) != 2*n || last.Get("id") != "0-0" || last.FirstElement().Text() != "again" {
		t.Fatalf("republished item: %d items, last %s", len(items), last)
	}
}

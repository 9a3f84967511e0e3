package server_test

import (
	"strings"
	"testing"

	"hearth/xmpptest"
)

// TestPEPVCard4: XEP-0292 vCard4 over PEP is an ordinary PEP node with a
// single item 'current': a contact fetches it, a replacement keeps one
// item, and a stranger is refused when the owner made it presence-only.
func TestPEPVCard4(t *testing.T) {
	t.Parallel()
	const nsVCard4 = "urn:ietf:params:xml:ns:vcard-4.0"
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	srv.AddUser(t, "eve", "pw-eve-1234")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "pc")
	eve := srv.LoginAvailable(t, "eve", "pw-eve-1234", "pc")
	befriend(t, alice, bob)
	ab := alice.JID.Bare().String()
	card := func(fn string) string {
		return "<vcard xmlns='" + nsVCard4 + "'><fn><text>" + fn + "</text></fn></vcard>"
	}
	publish(t, alice, nsVCard4, "current", card("Alice A."), "pubsub#access_model", "presence")
	publish(t, alice, nsVCard4, "current", card("Alice B."), "pubsub#access_model", "presence")
	items := itemsOf(t, fetchItems(bob, ab, nsVCard4, ""))
	if len(items) != 1 || items[0].Get("id") != "current" || !strings.Contains(items[0].String(), "Alice B.") {
		t.Fatalf("bob fetched %v", items)
	}
	wantPubsubError(t, fetchItems(eve, ab, nsVCard4, ""), "not-authorized", "presence-subscription-required")
}

// TestPEPPrivateStorage: XEP-0223 persistent private storage is a PEP
// node with persist_items and the whitelist access model: the owner gets
// the item back after a restart, nobody else ever sees it.
func TestPEPPrivateStorage(t *testing.T) {
	t.Parallel()
	const node = "urn:example:settings"
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "pc")
	befriend(t, alice, bob)
	ab := alice.JID.Bare().String()
	publish(t, alice, node, "current", "<settings xmlns='urn:example:settings' theme='dark'/>",
		"pubsub#persist_items", "true", "pubsub#access_model", "whitelist")
	wantPubsubError(t, fetchItems(bob, ab, node, ""), "not-allowed", "closed-node")
	alice.Close()
	bob.Close()
	stop()

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	alice = srv.LoginAvailable(t, "alice", "pw-alice-123", "laptop")
	items := itemsOf(t, fetchItems(alice, ab, node, ""))
	if len(items) != 1 || !strings.Contains(items[0].String(), "theme=\"dark\"") && !strings.Contains(items[0].String(), "theme='dark'") {
		t.Fatalf("private item after restart: %v", items)
	}
	// The precondition holds: publishing again with the same options works,
	// with a looser access model it is refused.
	publish(t, alice, node, "current", "<settings xmlns='urn:example:settings' theme='light'/>",
		"pubsub#persist_items", "true", "pubsub#access_model", "whitelist")
	res := alice.IQ(publishXML(alice.NextID(), node, "current", "<settings xmlns='urn:example:settings'/>",
		"pubsub#persist_items", "true", "pubsub#access_model", "open"))
	wantPubsubError(t, res, "conflict", "precondition-not-met")
}

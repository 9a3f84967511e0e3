package server_test

import (
	"slices"
	"testing"

	"hearth/stanza"
	"hearth/xmpptest"
)

const (
	nsPrivate    = "jabber:iq:private"
	nsBookmarks1 = "storage:bookmarks"
)

// TestPrivateStorage checks XEP-0049 for elements other than bookmarks.
func TestPrivateStorage(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "carol", "pw-carol-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-123", "pc")

	res := alice.IQ("<iq type='get' id='g1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>")
	if q := res.Child(nsPrivate, "query"); res.Get("type") != "result" || q == nil || q.Child("urn:example:prefs", "prefs") == nil {
		t.Fatalf("absent element: %s", res)
	}
	wantResult(t, alice.IQ("<iq type='set' id='s1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><theme>dark</theme></prefs></query></iq>"))
	res = alice.IQ("<iq type='get' id='g2'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>")
	if p := res.Child(nsPrivate, "query").Child("urn:example:prefs", "prefs"); p == nil || p.ChildText("urn:example:prefs", "theme") != "dark" {
		t.Fatalf("stored element: %s", res)
	}
	for _, tc := range []struct {
		who      *xmpptest.Client
		iq, cond string
	}{
		{carol, "<iq type='get' id='x1' to='" + alice.JID.Bare().String() + "'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>", "forbidden"},
		{alice, "<iq type='set' id='x2'><query xmlns='jabber:iq:private'><query xmlns='jabber:iq:private'/></query></iq>", "not-acceptable"},
		{alice, "<iq type='set' id='x3'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/><b xmlns='urn:b'/></query></iq>", "not-acceptable"},
	} {
		res := tc.who.IQ(tc.iq)
		if e := stanza.ParseError(res); e == nil || e.Condition != tc.cond {
			t.Errorf("%s: got %s, want %s", tc.iq, res, tc.cond)
		}
	}
}

// TestBookmarksCompat checks the compatibility of XEP-0402: XEP-0048 bookmarks in private
// storage and XEP-0402 bookmarks in PEP are the same bookmarks, and a
// legacy client's changes reach modern clients as notifications.
func TestBookmarksCompat(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	legacy := srv.LoginAvailable(t, "alice", "pw-alice-123", "legacy")
	modern := srv.LoginAvailable(t, "alice", "pw-alice-123", "modern")
	ab := legacy.JID.Bare().String()
	announceCaps(t, modern, nsBookmarks2+"+notify")

	wantResult(t, legacy.IQ("<iq type='set' id='s1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>"+
		"<conference jid='a@muc.example' name='A' autojoin='true'><nick>al</nick></conference>"+
		"<conference jid='b@muc.example' name='B'/></storage></query></iq>"))
	got := map[string]bool{}
	for range 2 {
		ev := modern.Expect("bookmark notification", isEvent(ab, nsBookmarks2, "items"))
		got[eventItem(ev).Get("id")] = true
	}
	if !got["a@muc.example"] || !got["b@muc.example"] {
		t.Fatalf("notifications for %v", got)
	}
	items := itemsOf(t, fetchItems(modern, ab, nsBookmarks2, ""))
	if len(items) != 2 || items[0].Get("id") != "a@muc.example" {
		t.Fatalf("PEP bookmarks: %v", items)
	}
	if c := items[0].Child(nsBookmarks2, "conference"); c == nil || c.Get("autojoin") != "true" || c.ChildText(nsBookmarks2, "nick") != "al" {
		t.Fatalf("converted bookmark %s", items[0])
	}

	// A modern client adds one; the legacy client reads all three.
	publish(t, modern, nsBookmarks2, "c@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1' name='C'/>",
		"pubsub#persist_items", "true", "pubsub#max_items", "max", "pubsub#send_last_published_item", "never", "pubsub#access_model", "whitelist")
	modern.Expect("c's notification", isEvent(ab, nsBookmarks2, "items"))
	rooms := func() []string {
		res := legacy.IQ("<iq type='get' id='" + legacy.NextID() + "'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
		st := res.Child(nsPrivate, "query").Child(nsBookmarks1, "storage")
		var out []string
		for _, c := range st.Elements() {
			out = append(out, c.Get("jid"))
		}
		return out
	}
	if got := rooms(); !slices.Equal(got, []string{"a@muc.example", "b@muc.example", "c@muc.example"}) {
		t.Fatalf("legacy view: %v", got)
	}
	// The legacy client removes two: they are retracted.
	wantResult(t, legacy.IQ("<iq type='set' id='s2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>"+
		"<conference jid='a@muc.example' name='A' autojoin='true'><nick>al</nick></conference></storage></query></iq>"))
	ev := modern.Expect("retraction", func(el *stanza.Element) bool {
		return isEvent(ab, nsBookmarks2, "items")(el) && eventItem(el).Name.Local == "retract"
	})
	if n := len(ev.Child(nsPubsubEvent, "event").Child(nsPubsubEvent, "items").Elements()); n != 2 {
		t.Fatalf("retraction of %d items: %s", n, ev)
	}
	if got := rooms(); !slices.Equal(got, []string{"a@muc.example"}) {
		t.Fatalf("after removal: %v", got)
	}
	// Unchanged bookmarks are not published again.
	modern.ExpectNone("a notification for an unchanged bookmark", isEvent(ab, nsBookmarks2, "items"), quiet)
}

// TestBookmarksConversion checks XEP-0411: XEP-0048 bookmarks published in
// PEP, XEP-0402 bookmarks and private XML storage stay the same bookmarks.
func TestBookmarksConversion(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	old := srv.LoginAvailable(t, "alice", "pw-alice-123", "old")
	modern := srv.LoginAvailable(t, "alice", "pw-alice-123", "modern")
	ab := old.JID.Bare().String()
	announceCaps(t, modern, nsBookmarks2+"+notify")
	whitelist := []string{"pubsub#persist_items", "true", "pubsub#access_model", "whitelist"}

	publish(t, old, nsBookmarks1, "current", "<storage xmlns='storage:bookmarks'><conference jid='a@muc.example' name='A' autojoin='true'/></storage>", whitelist...)
	if ev := modern.Expect("converted bookmark", isEvent(ab, nsBookmarks2, "items")); eventItem(ev).Get("id") != "a@muc.example" {
		t.Fatalf("notification %s", ev)
	}
	legacyRooms := func() []string {
		items := itemsOf(t, fetchItems(old, ab, nsBookmarks1, ""))
		if len(items) != 1 || items[0].Get("id") != "current" {
			t.Fatalf("storage:bookmarks node: %v", items)
		}
		var out []string
		for _, c := range items[0].Child(nsBookmarks1, "storage").Elements() {
			out = append(out, c.Get("jid"))
		}
		return out
	}
	publish(t, modern, nsBookmarks2, "b@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1' name='B'/>", whitelist...)
	if got := legacyRooms(); !slices.Equal(got, []string{"a@muc.example", "b@muc.example"}) {
		t.Fatalf("PEP storage:bookmarks after a XEP-0402 publish: %v", got)
	}
	wantResult(t, old.IQ("<iq type='set' id='s1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='b@muc.example' name='B'/></storage></query></iq>"))
	if got := legacyRooms(); !slices.Equal(got, []string{"b@muc.example"}) {
		t.Fatalf("PEP storage:bookmarks after a private set: %v", got)
	}
	if items := itemsOf(t, fetchItems(modern, ab, nsBookmarks2, "")); len(items) != 1 || items[0].Get("id") != "b@muc.example" {
		t.Fatalf("XEP-0402 bookmarks: %v", items)
	}
}

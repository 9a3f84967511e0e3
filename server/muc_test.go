package server_test

import (
	"slices"
	"strings"
	"testing"

	"hearth/stanza"
	"hearth/xmpptest"
)

const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCUser  = "http://jabber.org/protocol/muc#user"
	nsMUCAdmin = "http://jabber.org/protocol/muc#admin"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
	nsOccID    = "urn:xmpp:occupant-id:0"
	nsSID      = "urn:xmpp:sid:0"
	mucDomain  = "muc.localhost"
)

// mucCodes returns the status codes of a MUC presence or message.
func mucCodes(el *stanza.Element) []string {
	x := el.Child(nsMUCUser, "x")
	if x == nil {
		return nil
	}
	var out []string
	for _, s := range x.Elements() {
		if s.Name.Local == "status" {
			out = append(out, s.Get("code"))
		}
	}
	return out
}

func hasCodes(el *stanza.Element, codes ...string) bool {
	got := mucCodes(el)
	for _, c := range codes {
		if !slices.Contains(got, c) {
			return false
		}
	}
	return true
}

// mucItem returns the muc#user <item/> of a presence.
func mucItem(t *testing.T, el *stanza.Element) *stanza.Element {
	t.Helper()
	x := el.Child(nsMUCUser, "x")
	if x == nil || x.Child(nsMUCUser, "item") == nil {
		t.Fatalf("no muc#user item in %s", el)
	}
	return x.Child(nsMUCUser, "item")
}

// selfPresence matches the presence of the occupant JID occ with 110.
func selfPresence(occ string, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == occ && el.Get("type") == typ && hasCodes(el, "110")
	}
}

func isSubject(room string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name.Local == "message" && strings.HasPrefix(el.Get("from"), room) && el.Child("", "subject") != nil && el.Child("", "body") == nil
	}
}

func isGroupchat(from, body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Get("type") == "groupchat" && el.Get("from") == from && el.ChildText("", "body") == body
	}
}

func isErrorWith(condition string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		e := el.Child("", "error")
		return el.Get("type") == "error" && e != nil && e.Child(stanza.NSStanzas, condition) != nil
	}
}

// join enters room as nick with the extra <x/> children and returns the
// self-presence, after the subject that ends the join.
func join(t *testing.T, c *xmpptest.Client, room, nick, x string) *stanza.Element {
	t.Helper()
	occ := room + "/" + nick
	c.Send("<presence to='" + occ + "'><x xmlns='" + nsMUC + "'>" + x + "</x></presence>")
	self := c.Expect("self-presence in "+room, func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == occ && (el.Get("type") == "error" || hasCodes(el, "110"))
	})
	if self.Get("type") == "error" {
		t.Fatalf("join %s: %s", occ, self)
	}
	c.Expect("subject of "+room, isSubject(room))
	return self
}

// joinError enters room as nick and returns the error presence.
func joinError(t *testing.T, c *xmpptest.Client, room, nick, x, condition string) *stanza.Element {
	t.Helper()
	occ := room + "/" + nick
	c.Send("<presence to='" + occ + "'><x xmlns='" + nsMUC + "'>" + x + "</x></presence>")
	el := c.Expect("join error", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == occ && (el.Get("type") == "error" || hasCodes(el, "110"))
	})
	if !isErrorWith(condition)(el) {
		t.Fatalf("join %s: got %s, want error %s", occ, el, condition)
	}
	return el
}

// createRoom makes c create room as nick and accept the default
// configuration changed by fields (var=value pairs of the muc#roomconfig
// form), and returns the self-presence of the creation.
func createRoom(t *testing.T, c *xmpptest.Client, room, nick string, fields ...string) *stanza.Element {
	t.Helper()
	self := join(t, c, room, nick, "")
	if !hasCodes(self, "201") {
		t.Fatalf("new room %s: self-presence without 201: %s", room, self)
	}
	if it := mucItem(t, self); it.Get("affiliation") != "owner" || it.Get("role") != "moderator" {
		t.Fatalf("creator is not owner and moderator: %s", self)
	}
	configure(t, c, room, fields...)
	return self
}

func configure(t *testing.T, c *xmpptest.Client, room string, fields ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>")
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("<field var='" + fields[i] + "'>")
		for _, v := range strings.Split(fields[i+1], ",") {
			b.WriteString("<value>" + v + "</value>")
		}
		b.WriteString("</field>")
	}
	res := c.IQ("<iq type='set' to='" + room + "' id='" + c.NextID() + "'><query xmlns='" + nsMUCOwner + "'><x xmlns='jabber:x:data' type='submit'>" + b.String() + "</x></query></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("configuring %s: %s", room, res)
	}
}

func admin(c *xmpptest.Client, room, item string) *stanza.Element {
	return c.IQ("<iq type='set' to='" + room + "' id='" + c.NextID() + "'><query xmlns='" + nsMUCAdmin + "'>" + item + "</query></iq>")
}

func wantIQError(t *testing.T, res *stanza.Element, typ, condition string) {
	t.Helper()
	e := res.Child("", "error")
	if res.Get("type") != "error" || e == nil || e.Get("type") != typ || e.Child(stanza.NSStanzas, condition) == nil {
		t.Fatalf("got %s, want %s/%s error", res, typ, condition)
	}
}

func newMUCServer(t *testing.T, extra string, users ...string) (*xmpptest.Server, map[string]*xmpptest.Client) {
	t.Helper()
	srv := xmpptest.NewServer(t, extra)
	cs := map[string]*xmpptest.Client{}
	for _, u := range users {
		srv.AddUser(t, u, "pw")
		cs[u] = srv.LoginAvailable(t, u, "pw", "phone")
	}
	return srv, cs
}

func TestMUCCreateJoinChat(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob", "carol")
	alice, bob, carol := cs["alice"], cs["bob"], cs["carol"]
	room := "tea@" + mucDomain

	// Creation: 201, locked until configured (others get item-not-found).
	self := join(t, alice, room, "Alice", "")
	if !hasCodes(self, "110", "201") {
		t.Fatalf("creation self-presence: %s", self)
	}
	joinError(t, bob, room, "Bob", "", "item-not-found")
	form := alice.IQ("<iq type='get' to='" + room + "' id='cf'><query xmlns='" + nsMUCOwner + "'/></iq>")
	x := form.Child(nsMUCOwner, "query").Child("jabber:x:data", "x")
	f, err := stanza.ParseForm(x)
	if err != nil {
		t.Fatalf("config form: %v in %s", err, form)
	}
	for _, v := range []string{"muc#roomconfig_roomname", "muc#roomconfig_roomdesc", "muc#roomconfig_persistentroom", "muc#roomconfig_publicroom",
		"muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom", "muc#roomconfig_passwordprotectedroom", "muc#roomconfig_roomsecret",
		"muc#roomconfig_maxusers", "muc#roomconfig_whois", "muc#roomconfig_changesubject", "muc#roomconfig_allowinvites", "muc#roomconfig_allowpm",
		"muc#roomconfig_presencebroadcast", "muc#roomconfig_getmemberlist", "muc#roomconfig_enablelogging", "muc#roomconfig_roomadmins",
		"muc#roomconfig_roomowners", "muc#roomconfig_lang", "muc#roomconfig_pubsub", "muc#maxhistoryfetch"} {
		if !slices.ContainsFunc(f.Fields, func(fd stanza.Field) bool { return fd.Var == v }) {
			t.Errorf("config form lacks %s", v)
		}
	}
	if bad := bob.IQ("<iq type='get' to='" + room + "' id='cf2'><query xmlns='" + nsMUCOwner + "'/></iq>"); true {
		wantIQError(t, bad, "auth", "forbidden")
	}
	// Instant room: an empty submitted form.
	if res := alice.IQ("<iq type='set' to='" + room + "' id='inst'><query xmlns='" + nsMUCOwner + "'><x xmlns='jabber:x:data' type='submit'/></query></iq>"); res.Get("type") != "result" {
		t.Fatalf("instant room: %s", res)
	}

	// Bob joins: he sees Alice, then himself; Alice sees Bob, without his
	// real JID in a semi-anonymous room.
	bob.Send("<presence to='" + room + "/Bob'><x xmlns='" + nsMUC + "'/></presence>")
	first := bob.Expect("presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" })
	if first.Get("from") != room+"/Alice" || mucItem(t, first).Get("jid") != "" {
		t.Fatalf("first presence to Bob: %s, want Alice's without jid", first)
	}
	bobSelf := bob.Expect("self", selfPresence(room+"/Bob", ""))
	if it := mucItem(t, bobSelf); it.Get("role") != "participant" || it.Get("affiliation") != "none" {
		t.Fatalf("Bob's self-presence: %s", bobSelf)
	}
	if bobSelf.Child(nsOccID, "occupant-id") == nil {
		t.Fatalf("no occupant-id: %s", bobSelf)
	}
	bob.Expect("subject", isSubject(room))
	seen := alice.Expect("Bob's presence", isPresence(room+"/Bob", ""))
	if it := mucItem(t, seen); it.Get("jid") != bob.JID.String() {
		t.Fatalf("the moderator sees real JIDs: %s", seen)
	}

	// Nick conflict.
	joinError(t, carol, room, "Bob", "", "conflict")

	// Groupchat: reflected to the sender with its id, stanza-id by the room.
	alice.Send("<message to='" + room + "' type='groupchat' id='m1'><body>hello</body></message>")
	for _, c := range []*xmpptest.Client{alice, bob} {
		m := c.Expect("hello", isGroupchat(room+"/Alice", "hello"))
		sid := m.Child(nsSID, "stanza-id")
		if m.Get("id") != "m1" || sid == nil || sid.Get("by") != room || sid.Get("id") == "" || m.Child(nsOccID, "occupant-id") == nil {
			t.Fatalf("groupchat: %s", m)
		}
	}
	// Subject by a participant: forbidden by default.
	bob.Send("<message to='" + room + "' type='groupchat' id='s0'><subject>nope</subject></message>")
	if e := bob.Expect("subject refusal", isReplyTo("s0")); !isErrorWith("forbidden")(e) {
		t.Fatalf("subject by participant: %s", e)
	}
	alice.Send("<message to='" + room + "' type='groupchat' id='s1'><subject>Tea time</subject></message>")
	bob.Expect("subject", isSubject(room+"/Alice"))
	bob.Send("<message to='" + room + "' type='groupchat' id='m2'><body>hi</body></message>")
	alice.Expect("hi", isGroupchat(room+"/Bob", "hi"))

	// Carol joins: history (oldest first, with delay) then the subject.
	carol.Send("<presence to='" + room + "/Carol'><x xmlns='" + nsMUC + "'><history maxstanzas='10'/></x></presence>")
	carol.Expect("self", selfPresence(room+"/Carol", ""))
	isMsg := func(el *stanza.Element) bool { return el.Name.Local == "message" }
	h1 := carol.Expect("history 1", isMsg)
	h2 := carol.Expect("history 2", isMsg)
	subj := carol.Expect("subject", isMsg)
	if h1.ChildText("", "body") != "hello" || h2.ChildText("", "body") != "hi" || h1.Child("urn:xmpp:delay", "delay") == nil {
		t.Fatalf("history: %s, %s", h1, h2)
	}
	if subj.ChildText("", "subject") != "Tea time" || subj.Get("from") != room+"/Alice" {
		t.Fatalf("subject after history: %s", subj)
	}
	// maxstanzas=1 and maxchars=0.
	carol.Send("<presence to='" + room + "/Carol' type='unavailable'/>")
	carol.Expect("left", selfPresence(room+"/Carol", "unavailable"))
	carol.Send("<presence to='" + room + "/Carol'><x xmlns='" + nsMUC + "'><history maxstanzas='1'/></x></presence>")
	carol.Expect("self", selfPresence(room+"/Carol", ""))
	if h := carol.Expect("history", isMsg); h.ChildText("", "body") != "hi" {
		t.Fatalf("maxstanzas=1: %s", h)
	}
	carol.Expect("subject", isSubject(room))
	carol.Send("<presence to='" + room + "/Carol' type='unavailable'/>")
	carol.Expect("left", selfPresence(room+"/Carol", "unavailable"))
	carol.Send("<presence to='" + room + "/Carol'><x xmlns='" + nsMUC + "'><history maxchars='0'/></x></presence>")
	carol.Expect("self", selfPresence(room+"/Carol", ""))
	if s := carol.Expect("subject", isMsg); !isSubject(room)(s) {
		t.Fatalf("maxchars=0: got %s, want the subject only", s)
	}

	// Nick change: 303 from the old nick, then the new one.
	bob.Send("<presence to='" + room + "/Robert'/>")
	old := alice.Expect("303", isPresence(room+"/Bob", "unavailable"))
	if !hasCodes(old, "303") || mucItem(t, old).Get("nick") != "Robert" {
		t.Fatalf("nick change: %s", old)
	}
	alice.Expect("new nick", isPresence(room+"/Robert", ""))
	if p := bob.Expect("own 303", selfPresence(room+"/Bob", "unavailable")); !hasCodes(p, "303") {
		t.Fatalf("own nick change: %s", p)
	}
	bob.Expect("own new nick", selfPresence(room+"/Robert", ""))

	// Private message, and one to a missing nick.
	bob.Send("<message to='" + room + "/Alice' type='chat' id='pm'><body>psst</body></message>")
	pm := alice.Expect("pm", func(el *stanza.Element) bool { return el.Get("id") == "pm" })
	if pm.Get("from") != room+"/Robert" || pm.Get("type") != "chat" || pm.Child(nsMUCUser, "x") == nil {
		t.Fatalf("private message: %s", pm)
	}
	bob.Send("<message to='" + room + "/Nobody' type='chat' id='pm2'><body>?</body></message>")
	if e := bob.Expect("pm error", isReplyTo("pm2")); !isErrorWith("item-not-found")(e) {
		t.Fatalf("pm to nobody: %s", e)
	}
	// Groupchat to an occupant, and from a non-occupant.
	bob.Send("<message to='" + room + "/Alice' type='groupchat' id='gc'><body>?</body></message>")
	if e := bob.Expect("gc error", isReplyTo("gc")); !isErrorWith("bad-request")(e) {
		t.Fatalf("groupchat to occupant: %s", e)
	}

	// Leaving: unavailable to everyone; the temporary room goes away with
	// its last occupant and a new join creates it again.
	carol.Send("<presence to='" + room + "/Carol' type='unavailable'/>")
	carol.Expect("left", selfPresence(room+"/Carol", "unavailable"))
	alice.Expect("Carol left", isPresence(room+"/Carol", "unavailable"))
	carol.Send("<message to='" + room + "' type='groupchat' id='gone'><body>x</body></message>")
	if e := carol.Expect("not an occupant", isReplyTo("gone")); !isErrorWith("not-acceptable")(e) {
		t.Fatalf("groupchat from non-occupant: %s", e)
	}
	bob.Send("<presence to='" + room + "/Robert' type='unavailable'/>")
	bob.Expect("left", selfPresence(room+"/Robert", "unavailable"))
	alice.Send("<presence to='" + room + "/Alice' type='unavailable'/>")
	alice.Expect("left", selfPresence(room+"/Alice", "unavailable"))
	if self := join(t, carol, room, "Carol", ""); !hasCodes(self, "201") {
		t.Fatalf("temporary room survived its last occupant: %s", self)
	}
}

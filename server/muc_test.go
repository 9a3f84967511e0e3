package server_test

import (
	"context"
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

func TestMUCPersistenceAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := xmpptest.NewServerAt(t, dir, "")
	srv.AddUser(t, "alice", "pw")
	srv.AddUser(t, "bob", "pw")
	alice := srv.LoginAvailable(t, "alice", "pw", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw", "phone")
	room := "keep@" + mucDomain
	createRoom(t, alice, room, "Alice", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_membersonly", "1", "muc#roomconfig_roomname", "Keep")
	wantResult(t, admin(alice, room, "<item jid='"+bob.JID.Bare().String()+"' affiliation='member'/>"))
	alice.Send("<message to='" + room + "' type='groupchat' id='s'><subject>Kept</subject></message>")
	alice.Expect("subject", isSubject(room+"/Alice"))
	alice.Send("<message to='" + room + "' type='groupchat' id='m'><body>remember me</body></message>")
	alice.Expect("message", isGroupchat(room+"/Alice", "remember me"))
	// A persistent room stays when its occupants leave.
	alice.Send("<presence to='" + room + "/Alice' type='unavailable'/>")
	alice.Expect("left", selfPresence(room+"/Alice", "unavailable"))
	stop()

	srv, _ = xmpptest.NewServerAt(t, dir, "")
	bob = srv.LoginAvailable(t, "bob", "pw", "phone")
	res := bob.IQ("<iq type='get' to='" + mucDomain + "' id='items'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	items := res.Child("http://jabber.org/protocol/disco#items", "query").Elements()
	if len(items) != 1 || items[0].Get("jid") != room || items[0].Get("name") != "Keep" {
		t.Fatalf("rooms after restart: %s", res)
	}
	// Bob is still a member of the members-only room; history and subject survived.
	bob.Send("<presence to='" + room + "/Bob'><x xmlns='" + nsMUC + "'/></presence>")
	self := bob.Expect("self", func(el *stanza.Element) bool { return el.Get("from") == room+"/Bob" })
	if self.Get("type") == "error" || mucItem(t, self).Get("affiliation") != "member" || hasCodes(self, "201") {
		t.Fatalf("member after restart: %s", self)
	}
	bob.Expect("history", isGroupchat(room+"/Alice", "remember me"))
	if s := bob.Expect("subject", isSubject(room)); s.ChildText("", "subject") != "Kept" {
		t.Fatalf("subject after restart: %s", s)
	}
	alice = srv.LoginAvailable(t, "alice", "pw", "phone")
	self = join(t, alice, room, "Alice", "")
	if mucItem(t, self).Get("affiliation") != "owner" {
		t.Fatalf("owner after restart: %s", self)
	}
}

func TestMUCMultiSessionNick(t *testing.T) {
	t.Parallel()
	srv, cs := newMUCServer(t, "", "alice", "bob")
	alice, bob := cs["alice"], cs["bob"]
	laptop := srv.LoginAvailable(t, "bob", "pw", "laptop")
	room := "multi@" + mucDomain
	createRoom(t, alice, room, "Alice")
	bobSelf := join(t, bob, room, "Bob", "")
	alice.Expect("Bob", isPresence(room+"/Bob", ""))
	// Bob's second device takes the same nick: no conflict, and no new
	// occupant for the others.
	lapSelf := join(t, laptop, room, "Bob", "")
	if a, b := bobSelf.Child(nsOccID, "occupant-id").Get("id"), lapSelf.Child(nsOccID, "occupant-id").Get("id"); a != b {
		t.Fatalf("occupant-id differs between devices: %s, %s", a, b)
	}
	alice.ExpectNone("second Bob", isPresence(room+"/Bob", ""), 100*time.Millisecond)
	// Both devices get the room's messages and private messages.
	alice.Send("<message to='" + room + "' type='groupchat' id='m'><body>both?</body></message>")
	bob.Expect("phone", isGroupchat(room+"/Alice", "both?"))
	laptop.Expect("laptop", isGroupchat(room+"/Alice", "both?"))
	alice.Send("<message to='" + room + "/Bob' type='chat' id='pm'><body>pm</body></message>")
	bob.Expect("phone pm", isReplyTo("pm"))
	laptop.Expect("laptop pm", isReplyTo("pm"))
	// One device leaves: Bob stays for the others.
	laptop.Send("<presence to='" + room + "/Bob' type='unavailable'/>")
	laptop.Expect("laptop left", selfPresence(room+"/Bob", "unavailable"))
	alice.ExpectNone("Bob leaving", isPresence(room+"/Bob", "unavailable"), 100*time.Millisecond)
	// Another user may not take Bob's nick.
	carol := srv.AddUser(t, "carol", "pw")
	cc := srv.LoginAvailable(t, carol.Local(), "pw", "x")
	joinError(t, cc, room, "Bob", "", "conflict")
	// The last device going offline makes Bob leave (the server sends the
	// unavailable presence for the directed presence).
	bob.Close()
	alice.Expect("Bob gone", isPresence(room+"/Bob", "unavailable"))
}

func TestMUCDiscoSelfPing(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob")
	alice, bob := cs["alice"], cs["bob"]
	res := alice.IQ("<iq type='get' to='" + mucDomain + "' id='si'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := res.Child("http://jabber.org/protocol/disco#info", "query")
	if id := q.Child("", "identity"); id == nil || id.Get("category") != "conference" || id.Get("type") != "text" {
		t.Fatalf("service identity: %s", res)
	}
	res = alice.IQ("<iq type='get' to='" + mucDomain + "' id='uq'><unique xmlns='http://jabber.org/protocol/muc#unique'/></iq>")
	if u := res.ChildText("http://jabber.org/protocol/muc#unique", "unique"); u == "" {
		t.Fatalf("unique room name: %s", res)
	}
	// The host lists the service.
	res = alice.IQ("<iq type='get' to='localhost' id='hi'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if it := res.Child("http://jabber.org/protocol/disco#items", "query").Child("", "item"); it == nil || it.Get("jid") != mucDomain {
		t.Fatalf("host items: %s", res)
	}
	room := "lounge@" + mucDomain
	createRoom(t, alice, room, "Alice", "muc#roomconfig_roomname", "Lounge", "muc#roomconfig_membersonly", "1",
		"muc#roomconfig_whois", "anyone", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_publicroom", "0",
		"muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "x", "muc#roomconfig_moderatedroom", "1")
	res = bob.IQ("<iq type='get' to='" + room + "' id='ri'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q = res.Child("http://jabber.org/protocol/disco#info", "query")
	var features []string
	for _, f := range q.Elements() {
		if f.Name.Local == "feature" {
			features = append(features, f.Get("var"))
		}
	}
	for _, f := range []string{nsMUC, "muc_hidden", "muc_persistent", "muc_membersonly", "muc_nonanonymous", "muc_passwordprotected",
		"muc_moderated", nsOccID, "http://jabber.org/protocol/muc#self-ping-optimization", "urn:xmpp:mam:2", nsSID} {
		if !slices.Contains(features, f) {
			t.Errorf("room features lack %s: %v", f, features)
		}
	}
	form, err := stanza.ParseForm(q.Child("jabber:x:data", "x"))
	if err != nil || form.FormType() != "http://jabber.org/protocol/muc#roominfo" || form.Value("muc#roominfo_occupants") != "1" || form.Value("muc#roomconfig_roomname") != "Lounge" {
		t.Fatalf("roominfo form: %v %s", err, res)
	}
	// Hidden rooms are not listed.
	res = bob.IQ("<iq type='get' to='" + mucDomain + "' id='items'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if n := len(res.Child("http://jabber.org/protocol/disco#items", "query").Elements()); n != 0 {
		t.Fatalf("hidden room listed: %s", res)
	}

	// Self-ping: answered by the room while joined; not-acceptable after
	// a server-side removal.
	pub := "pub@" + mucDomain
	createRoom(t, alice, pub, "Alice")
	join(t, bob, pub, "Bob", "")
	wantResult(t, bob.IQ("<iq type='get' to='"+pub+"/Bob' id='sp1'><ping xmlns='urn:xmpp:ping'/></iq>"))
	wantResult(t, admin(alice, pub, "<item nick='Bob' role='none'/>"))
	wantIQError(t, bob.IQ("<iq type='get' to='"+pub+"/Bob' id='sp2'><ping xmlns='urn:xmpp:ping'/></iq>"), "cancel", "not-acceptable")
	// A delivery error from an occupant's session removes it (333).
	join(t, bob, pub, "Bob", "")
	// A join presence from a joined session gets the room's state again.
	join(t, bob, pub, "Bob", "")
	bob.Send("<message type='error' to='" + pub + "/Alice'><body>x</body><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	alice.Expect("ghost removed", func(el *stanza.Element) bool {
		return isPresence(pub+"/Bob", "unavailable")(el) && hasCodes(el, "333")
	})
	wantIQError(t, bob.IQ("<iq type='get' to='"+pub+"/Bob' id='sp3'><ping xmlns='urn:xmpp:ping'/></iq>"), "cancel", "not-acceptable")
	// IQs to another occupant are forwarded, and so are their replies.
	join(t, bob, pub, "Bob", "")
	bob.Send("<iq type='get' to='" + pub + "/Alice' id='ver'><query xmlns='jabber:iq:version'/></iq>")
	fwd := alice.Expect("forwarded IQ", func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.Get("from") == pub+"/Bob" })
	if fwd.Child("jabber:iq:version", "query") == nil || fwd.Get("id") == "ver" {
		t.Fatalf("forwarded IQ: %s", fwd)
	}
	alice.Send("<iq type='result' to='" + pub + "/Bob' id='" + fwd.Get("id") + "'><query xmlns='jabber:iq:version'><name>x</name></query></iq>")
	res = bob.Expect("forwarded reply", isReplyTo("ver"))
	if res.Get("from") != pub+"/Alice" || res.Get("type") != "result" || res.Child("jabber:iq:version", "query") == nil {
		t.Fatalf("forwarded IQ reply: %s", res)
	}
}

func TestMUCArchiveAndModeration(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob", "eve")
	alice, bob, eve := cs["alice"], cs["bob"], cs["eve"]
	room := "log@" + mucDomain
	createRoom(t, alice, room, "Alice")
	join(t, bob, room, "Bob", "")
	var ids []string
	for _, body := range []string{"one", "two", "three"} {
		bob.Send("<message to='" + room + "' type='groupchat'><body>" + body + "</body></message>")
		m := alice.Expect(body, isGroupchat(room+"/Bob", body))
		ids = append(ids, m.Child(nsSID, "stanza-id").Get("id"))
	}
	// MAM on the room JID, paged.
	query := func(c *xmpptest.Client, id, set string) (*stanza.Element, []*stanza.Element) {
		t.Helper()
		c.Send("<iq type='set' to='" + room + "' id='" + id + "'><query xmlns='urn:xmpp:mam:2' queryid='" + id + "'>" + set + "</query></iq>")
		var results []*stanza.Element
		for {
			el := c.Expect("mam", func(el *stanza.Element) bool {
				r := el.Child("urn:xmpp:mam:2", "result")
				return el.Get("id") == id || r != nil && r.Get("queryid") == id
			})
			if el.Name.Local == "iq" {
				return el, results
			}
			results = append(results, el)
		}
	}
	fin, results := query(eve, "q1", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set>")
	if fin.Get("type") != "result" || len(results) != 2 || fin.Child("urn:xmpp:mam:2", "fin").Get("complete") == "true" {
		t.Fatalf("first page: %s %v", fin, results)
	}
	fwd := results[0].Child("urn:xmpp:mam:2", "result").Child("urn:xmpp:forward:0", "forwarded")
	if results[0].Child("urn:xmpp:mam:2", "result").Get("id") != ids[0] || fwd.Child("jabber:client", "message").ChildText("", "body") != "one" ||
		fwd.Child("urn:xmpp:delay", "delay") == nil || results[0].Get("from") != room {
		t.Fatalf("result: %s", results[0])
	}
	last := fin.Child("urn:xmpp:mam:2", "fin").Child("http://jabber.org/protocol/rsm", "set").ChildText("http://jabber.org/protocol/rsm", "last")
	fin, results = query(eve, "q2", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>"+last+"</after></set>")
	if len(results) != 1 || fin.Child("urn:xmpp:mam:2", "fin").Get("complete") != "true" {
		t.Fatalf("second page: %s %v", fin, results)
	}

	// Moderation: a participant may not; a moderator retracts.
	res := bob.IQ("<iq type='set' to='" + room + "' id='mod0'><moderate xmlns='urn:xmpp:message-moderate:1' id='" + ids[1] + "'><retract xmlns='urn:xmpp:message-retract:1'/></moderate></iq>")
	wantIQError(t, res, "auth", "forbidden")
	res = alice.IQ("<iq type='set' to='" + room + "' id='mod1'><moderate xmlns='urn:xmpp:message-moderate:1' id='" + ids[1] + "'><retract xmlns='urn:xmpp:message-retract:1'/><reason>off-topic</reason></moderate></iq>")
	wantResult(t, res)
	ret := bob.Expect("retraction", func(el *stanza.Element) bool { return el.Child("urn:xmpp:message-retract:1", "retract") != nil })
	r := ret.Child("urn:xmpp:message-retract:1", "retract")
	if r.Get("id") != ids[1] || r.Child("urn:xmpp:message-moderate:1", "moderated").Get("by") != room+"/Alice" || r.ChildText("urn:xmpp:message-retract:1", "reason") != "off-topic" || ret.Get("from") != room {
		t.Fatalf("retraction: %s", ret)
	}
	res = alice.IQ("<iq type='set' to='" + room + "' id='mod2'><moderate xmlns='urn:xmpp:message-moderate:1' id='nope'><retract xmlns='urn:xmpp:message-retract:1'/></moderate></iq>")
	wantIQError(t, res, "cancel", "item-not-found")
	// The archive keeps a tombstone in place of the message.
	_, results = query(eve, "q3", "")
	if len(results) != 4 {
		t.Fatalf("archive after moderation: %v", results)
	}
	tomb := results[1].Child("urn:xmpp:mam:2", "result").Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message")
	if tomb.Child("", "body") != nil || tomb.Child("urn:xmpp:message-retract:1", "retracted") == nil {
		t.Fatalf("tombstone: %s", tomb)
	}
	// A sender retracts its own message (XEP-0424): relayed, and
	// tombstoned in the archive; someone else's retraction is only relayed.
	alice.Send("<message to='" + room + "' type='groupchat' id='r0'><retract xmlns='urn:xmpp:message-retract:1' id='" + ids[0] + "'/></message>")
	bob.Expect("alice's retraction", isReplyTo("r0"))
	bob.Send("<message to='" + room + "' type='groupchat' id='r1'><retract xmlns='urn:xmpp:message-retract:1' id='" + ids[2] + "'/><body>retracted</body></message>")
	alice.Expect("bob's retraction", isReplyTo("r1"))
	_, results = query(eve, "q5", "")
	body := func(i int) *stanza.Element {
		return results[i].Child("urn:xmpp:mam:2", "result").Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message")
	}
	if len(results) != 6 || body(0).ChildText("", "body") != "one" || body(2).Child("urn:xmpp:message-retract:1", "retracted") == nil || body(2).Get("from") != room+"/Bob" {
		t.Fatalf("archive after retractions: %v", results)
	}
	// Real JIDs are in results only for those who may see them.
	if x := body(0).Child(nsMUCUser, "x"); x != nil {
		t.Fatalf("semi-anonymous archive shows a real JID to a stranger: %s", body(0))
	}
	configure(t, alice, room, "muc#roomconfig_whois", "anyone")
	_, results = query(eve, "q6", "")
	if x := body(0).Child(nsMUCUser, "x"); x == nil || x.Child(nsMUCUser, "item").Get("jid") != bob.JID.Bare().String() {
		t.Fatalf("non-anonymous archive without the real JID: %s", body(0))
	}
	// Members-only rooms keep their archive from strangers.
	configure(t, alice, room, "muc#roomconfig_membersonly", "1")
	wantIQError(t, eve.IQ("<iq type='set' to='"+room+"' id='q4'><query xmlns='urn:xmpp:mam:2'/></iq>"), "auth", "forbidden")
}

// TestMUCSlixmppInterop runs Debian's python3-slixmpp with its xep_0045
// plugin against the MUC service: creation and owner form, join, chat,
// affiliations, kick, nick conflict, destruction.
func TestMUCSlixmppInterop(t *testing.T) {
	t.Parallel()
	python := requireSlixmpp(t)
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	host, port, _ := net.SplitHostPort(srv.C2S)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/slixmpp_muc.py", host, port, srv.Domain).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("slixmpp MUC interop failed: %v\n%s", err, out)
	}
}

func TestMUCCustomDomain(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "[muc]\ndomain = \"rooms.localhost\"\nname = \"Rooms\"\n", "alice")
	alice := cs["alice"]
	res := alice.IQ("<iq type='get' to='localhost' id='hi'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	it := res.Child("http://jabber.org/protocol/disco#items", "query").Child("", "item")
	if it == nil || it.Get("jid") != "rooms.localhost" || it.Get("name") != "Rooms" {
		t.Fatalf("host items: %s", res)
	}
	createRoom(t, alice, "a@rooms.localhost", "Alice")
	// The default domain is not served.
	alice.Send("<presence to='a@" + mucDomain + "/Alice'><x xmlns='" + nsMUC + "'/></presence>")
	if e := alice.Expect("error", isPresence("a@"+mucDomain+"/Alice", "error")); !isErrorWith("remote-server-not-found")(e) {
		t.Fatalf("join at the default domain: %s", e)
	}
}

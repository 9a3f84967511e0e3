package server_test

import (
	"testing"

	"hearth/stanza"
)

func TestMUCKickBanVoice(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob", "carol", "dave")
	alice, bob, carol, dave := cs["alice"], cs["bob"], cs["carol"], cs["dave"]
	room := "court@" + mucDomain
	createRoom(t, alice, room, "Alice", "muc#roomconfig_moderatedroom", "1")
	join(t, bob, room, "Bob", "")
	carolSelf := join(t, carol, room, "Carol", "")
	if it := mucItem(t, carolSelf); it.Get("role") != "visitor" {
		t.Fatalf("in a moderated room a newcomer is a visitor: %s", carolSelf)
	}
	// A visitor may not speak.
	carol.Send("<message to='" + room + "' type='groupchat' id='v1'><body>hey</body></message>")
	if e := carol.Expect("refusal", isReplyTo("v1")); !isErrorWith("forbidden")(e) {
		t.Fatalf("visitor speaking: %s", e)
	}
	// A visitor may not kick or grant voice.
	wantIQError(t, admin(carol, room, "<item nick='Bob' role='none'/>"), "auth", "forbidden")
	// Grant voice to Carol and Bob.
	wantResult(t, admin(alice, room, "<item nick='Carol' role='participant'/>"))
	carol.Expect("voice", func(el *stanza.Element) bool {
		return selfPresence(room+"/Carol", "")(el) && mucItem(t, el).Get("role") == "participant"
	})
	wantResult(t, admin(alice, room, "<item nick='Bob' role='participant'/>"))
	carol.Send("<message to='" + room + "' type='groupchat' id='v2'><body>thanks</body></message>")
	bob.Expect("Carol speaks", isGroupchat(room+"/Carol", "thanks"))
	// Revoke voice.
	wantResult(t, admin(alice, room, "<item nick='Carol' role='visitor'><reason>quiet</reason></item>"))
	carol.Expect("voice revoked", func(el *stanza.Element) bool {
		return selfPresence(room+"/Carol", "")(el) && mucItem(t, el).Get("role") == "visitor"
	})
	// An owner may not be kicked or silenced; a moderator may not kick itself.
	wantResult(t, admin(alice, room, "<item nick='Bob' role='moderator'/>"))
	wantIQError(t, admin(bob, room, "<item nick='Alice' role='none'/>"), "cancel", "not-allowed")
	wantIQError(t, admin(bob, room, "<item nick='Alice' role='visitor'/>"), "cancel", "not-allowed")
	wantIQError(t, admin(bob, room, "<item nick='Bob' role='none'/>"), "cancel", "conflict")
	// A moderator who is not admin may not grant moderation or ban.
	wantIQError(t, admin(bob, room, "<item nick='Carol' role='moderator'/>"), "auth", "forbidden")
	wantIQError(t, admin(bob, room, "<item jid='"+carol.JID.Bare().String()+"' affiliation='outcast'/>"), "auth", "forbidden")

	// Kick: 307 with actor and reason.
	wantResult(t, admin(bob, room, "<item nick='Carol' role='none'><reason>spam</reason></item>"))
	kicked := carol.Expect("kicked", selfPresence(room+"/Carol", "unavailable"))
	it := mucItem(t, kicked)
	if !hasCodes(kicked, "307") || it.Get("role") != "none" || it.ChildText(nsMUCUser, "reason") != "spam" || it.Child(nsMUCUser, "actor").Get("nick") != "Bob" {
		t.Fatalf("kick: %s", kicked)
	}
	if p := alice.Expect("Carol kicked", isPresence(room+"/Carol", "unavailable")); !hasCodes(p, "307") || hasCodes(p, "110") {
		t.Fatalf("kick seen by others: %s", p)
	}
	// Kicked users may come back; banned ones may not.
	join(t, carol, room, "Carol", "")
	wantResult(t, admin(alice, room, "<item jid='"+carol.JID.Bare().String()+"' affiliation='outcast'><reason>enough</reason></item>"))
	banned := carol.Expect("banned", selfPresence(room+"/Carol", "unavailable"))
	if !hasCodes(banned, "301") || mucItem(t, banned).Get("affiliation") != "outcast" {
		t.Fatalf("ban: %s", banned)
	}
	alice.Expect("Carol banned", func(el *stanza.Element) bool {
		return isPresence(room+"/Carol", "unavailable")(el) && hasCodes(el, "301")
	})
	joinError(t, carol, room, "Carol", "", "forbidden")
	// The outcast list.
	res := alice.IQ("<iq type='get' to='" + room + "' id='ol'><query xmlns='" + nsMUCAdmin + "'><item affiliation='outcast'/></query></iq>")
	items := res.Child(nsMUCAdmin, "query").Elements()
	if len(items) != 1 || items[0].Get("jid") != carol.JID.Bare().String() || items[0].ChildText(nsMUCAdmin, "reason") != "enough" {
		t.Fatalf("outcast list: %s", res)
	}
	wantIQError(t, bob.IQ("<iq type='get' to='"+room+"' id='ol2'><query xmlns='"+nsMUCAdmin+"'><item affiliation='outcast'/></query></iq>"), "auth", "forbidden")

	// Member, admin and owner lists; admins are moderators.
	wantResult(t, admin(alice, room, "<item jid='"+dave.JID.Bare().String()+"' affiliation='member' nick='Dave'/>"))
	wantResult(t, admin(alice, room, "<item jid='"+bob.JID.Bare().String()+"' affiliation='admin'/>"))
	if p := bob.Expect("admin", func(el *stanza.Element) bool {
		return selfPresence(room+"/Bob", "")(el) && mucItem(t, el).Get("affiliation") == "admin"
	}); mucItem(t, p).Get("role") != "moderator" {
		t.Fatalf("admin: %s", p)
	}
	res = bob.IQ("<iq type='get' to='" + room + "' id='ml'><query xmlns='" + nsMUCAdmin + "'><item affiliation='member'/></query></iq>")
	items = res.Child(nsMUCAdmin, "query").Elements()
	if len(items) != 1 || items[0].Get("jid") != dave.JID.Bare().String() || items[0].Get("nick") != "Dave" {
		t.Fatalf("member list: %s", res)
	}
	res = alice.IQ("<iq type='get' to='" + room + "' id='own'><query xmlns='" + nsMUCAdmin + "'><item affiliation='owner'/></query></iq>")
	if items = res.Child(nsMUCAdmin, "query").Elements(); len(items) != 1 || items[0].Get("jid") != alice.JID.Bare().String() {
		t.Fatalf("owner list: %s", res)
	}
	// An admin may not make owners nor ban an admin; the last owner may
	// not step down.
	wantIQError(t, admin(bob, room, "<item jid='"+dave.JID.Bare().String()+"' affiliation='owner'/>"), "auth", "forbidden")
	wantIQError(t, admin(bob, room, "<item jid='"+alice.JID.Bare().String()+"' affiliation='outcast'/>"), "cancel", "not-allowed")
	wantIQError(t, admin(alice, room, "<item jid='"+alice.JID.Bare().String()+"' affiliation='admin'/>"), "cancel", "conflict")
	// The reserved nick of Dave is his.
	joinError(t, bob, room, "Dave", "", "conflict")
	// The moderator list.
	res = alice.IQ("<iq type='get' to='" + room + "' id='mods'><query xmlns='" + nsMUCAdmin + "'><item role='moderator'/></query></iq>")
	if items = res.Child(nsMUCAdmin, "query").Elements(); len(items) != 2 {
		t.Fatalf("moderator list: %s", res)
	}
}

func TestMUCEntryRules(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob", "carol")
	alice, bob, carol := cs["alice"], cs["bob"], cs["carol"]

	// Join without a nick.
	bob.Send("<presence to='nonick@" + mucDomain + "'><x xmlns='" + nsMUC + "'/></presence>")
	if e := bob.Expect("jid-malformed", isPresence("nonick@"+mucDomain, "error")); !isErrorWith("jid-malformed")(e) {
		t.Fatalf("join without nick: %s", e)
	}

	// Members-only: registration-required until invited by an admin.
	club := "club@" + mucDomain
	createRoom(t, alice, club, "Alice", "muc#roomconfig_membersonly", "1")
	joinError(t, bob, club, "Bob", "", "registration-required")
	e := joinError(t, bob, club, "Bob", "", "registration-required")
	if er := e.Child("", "error"); er.Get("type") != "auth" {
		t.Fatalf("registration-required is an auth error: %s", e)
	}
	alice.Send("<message to='" + club + "' id='inv'><x xmlns='" + nsMUCUser + "'><invite to='" + bob.JID.Bare().String() + "'><reason>join us</reason></invite></x></message>")
	inv := bob.Expect("invitation", func(el *stanza.Element) bool { return el.Name.Local == "message" && el.Get("from") == club })
	if i := inv.Child(nsMUCUser, "x").Child(nsMUCUser, "invite"); i == nil || i.Get("from") != alice.JID.String() || i.ChildText(nsMUCUser, "reason") != "join us" {
		t.Fatalf("mediated invitation: %s", inv)
	}
	join(t, bob, club, "Bob", "")
	// Bob declines another invitation for Carol's sake... Carol declines.
	carol.Send("<message to='" + club + "'><x xmlns='" + nsMUCUser + "'><decline to='" + alice.JID.Bare().String() + "'><reason>busy</reason></decline></x></message>")
	dec := alice.Expect("decline", func(el *stanza.Element) bool {
		x := el.Child(nsMUCUser, "x")
		return el.Name.Local == "message" && x != nil && x.Child(nsMUCUser, "decline") != nil
	})
	if d := dec.Child(nsMUCUser, "x").Child(nsMUCUser, "decline"); d.Get("from") != carol.JID.Bare().String() || d.ChildText(nsMUCUser, "reason") != "busy" {
		t.Fatalf("decline: %s", dec)
	}
	// Members may not invite unless allowed.
	bob.Send("<message to='" + club + "' id='inv2'><x xmlns='" + nsMUCUser + "'><invite to='" + carol.JID.Bare().String() + "'/></x></message>")
	if e := bob.Expect("refused invitation", isReplyTo("inv2")); !isErrorWith("forbidden")(e) {
		t.Fatalf("invitation by a member: %s", e)
	}

	// Password: not-authorized without or with a wrong one.
	vault := "vault@" + mucDomain
	createRoom(t, alice, vault, "Alice", "muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "s3cret")
	e = joinError(t, bob, vault, "Bob", "", "not-authorized")
	if er := e.Child("", "error"); er.Get("type") != "auth" {
		t.Fatalf("not-authorized is an auth error: %s", e)
	}
	joinError(t, bob, vault, "Bob", "<password>wrong</password>", "not-authorized")
	join(t, bob, vault, "Bob", "<password>s3cret</password>")

	// Max occupants: service-unavailable once full; owners still get in.
	small := "small@" + mucDomain
	createRoom(t, alice, small, "Alice", "muc#roomconfig_maxusers", "2")
	join(t, bob, small, "Bob", "")
	e = joinError(t, carol, small, "Carol", "", "service-unavailable")
	if er := e.Child("", "error"); er.Get("type") != "wait" {
		t.Fatalf("full room is a wait error: %s", e)
	}
	// A maxusers beyond the limit is refused.
	res := alice.IQ("<iq type='set' to='" + small + "' id='mx'><query xmlns='" + nsMUCOwner + "'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_maxusers'><value>100000</value></field></x></query></iq>")
	wantIQError(t, res, "modify", "not-acceptable")

	// Non-anonymous: 100 on entry, real JIDs to everyone; 172 when changed.
	open := "open@" + mucDomain
	createRoom(t, alice, open, "Alice")
	join(t, bob, open, "Bob", "")
	configure(t, alice, open, "muc#roomconfig_whois", "anyone")
	if m := bob.Expect("172", func(el *stanza.Element) bool { return el.Name.Local == "message" && hasCodes(el, "104", "172") }); m.Get("from") != open {
		t.Fatalf("config change: %s", m)
	}
	self := join(t, carol, open, "Carol", "")
	if !hasCodes(self, "100") {
		t.Fatalf("non-anonymous room without 100: %s", self)
	}
	p := bob.Expect("Carol", isPresence(open+"/Carol", ""))
	if mucItem(t, p).Get("jid") != carol.JID.String() {
		t.Fatalf("non-anonymous room hides real JID: %s", p)
	}

	// Destruction with an alternate venue.
	wantIQError(t, bob.IQ("<iq type='set' to='"+open+"' id='d0'><query xmlns='"+nsMUCOwner+"'><destroy/></query></iq>"), "auth", "forbidden")
	res = alice.IQ("<iq type='set' to='" + open + "' id='d1'><query xmlns='" + nsMUCOwner + "'><destroy jid='" + club + "'><reason>moved</reason></destroy></query></iq>")
	wantResult(t, res)
	d := bob.Expect("destroyed", isPresence(open+"/Bob", "unavailable"))
	dd := d.Child(nsMUCUser, "x").Child(nsMUCUser, "destroy")
	if dd == nil || dd.Get("jid") != club || dd.ChildText(nsMUCUser, "reason") != "moved" {
		t.Fatalf("destroy: %s", d)
	}
	res = bob.IQ("<iq type='get' to='" + open + "' id='gone'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	wantIQError(t, res, "cancel", "item-not-found")
}

func TestMUCCreationRestricted(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "[muc]\ncreate = \"admins\"\nadmins = [\"root@localhost\"]\nmax_occupants = 5\n", "root", "bob")
	root, bob := cs["root"], cs["bob"]
	e := joinError(t, bob, "r1@"+mucDomain, "Bob", "", "not-allowed")
	if er := e.Child("", "error"); er.Get("type") != "cancel" {
		t.Fatalf("not-allowed is a cancel error: %s", e)
	}
	createRoom(t, root, "r1@"+mucDomain, "Root")
	join(t, bob, "r1@"+mucDomain, "Bob", "")
}

// TestMUCPrivateGroupAndRegistration covers what OMEMO group chats need
// (members-only, non-anonymous: members see real JIDs, the member lists
// and affiliation changes) and nick registration (XEP-0045 §7.10, §7.12).
func TestMUCPrivateGroupAndRegistration(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob", "carol", "dave")
	alice, bob, carol, dave := cs["alice"], cs["bob"], cs["carol"], cs["dave"]
	room := "family@" + mucDomain
	createRoom(t, alice, room, "Alice", "muc#roomconfig_membersonly", "1", "muc#roomconfig_whois", "anyone", "muc#roomconfig_publicroom", "0")
	wantResult(t, admin(alice, room, "<item jid='"+bob.JID.Bare().String()+"' affiliation='member'/>"))
	join(t, bob, room, "Bob", "")
	// A member sees the member and owner lists with real JIDs.
	for aff, want := range map[string]string{"member": bob.JID.Bare().String(), "owner": alice.JID.Bare().String()} {
		res := bob.IQ("<iq type='get' to='" + room + "' id='l" + aff + "'><query xmlns='" + nsMUCAdmin + "'><item affiliation='" + aff + "'/></query></iq>")
		if items := res.Child(nsMUCAdmin, "query"); items == nil || len(items.Elements()) != 1 || items.Elements()[0].Get("jid") != want {
			t.Fatalf("%s list for a member: %s", aff, res)
		}
	}
	// Adding a member who is not in the room is announced.
	wantResult(t, admin(alice, room, "<item jid='"+carol.JID.Bare().String()+"' affiliation='member'/>"))
	ann := bob.Expect("affiliation notice", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Get("from") == room && el.Child(nsMUCUser, "x") != nil && el.Child(nsMUCUser, "x").Child(nsMUCUser, "item") != nil
	})
	if it := ann.Child(nsMUCUser, "x").Child(nsMUCUser, "item"); it.Get("jid") != carol.JID.Bare().String() || it.Get("affiliation") != "member" {
		t.Fatalf("affiliation notice: %s", ann)
	}

	// Registration: Carol (a member) reserves a nick; the reserved nick is
	// hers, and disco tells her which one it is.
	res := carol.IQ("<iq type='get' to='" + room + "' id='rg'><query xmlns='jabber:iq:register'/></iq>")
	if f := res.Child("jabber:iq:register", "query").Child("jabber:x:data", "x"); f == nil {
		t.Fatalf("registration form: %s", res)
	}
	wantResult(t, carol.IQ("<iq type='set' to='"+room+"' id='rs'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field><field var='muc#register_roomnick'><value>Caz</value></field></x></query></iq>"))
	res = carol.IQ("<iq type='get' to='" + room + "' id='rg2'><query xmlns='jabber:iq:register'/></iq>")
	if q := res.Child("jabber:iq:register", "query"); q.Child("", "registered") == nil || q.ChildText("", "username") != "Caz" {
		t.Fatalf("registered: %s", res)
	}
	res = carol.IQ("<iq type='get' to='" + room + "' id='ru'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/></iq>")
	if id := res.Child("http://jabber.org/protocol/disco#info", "query").Child("", "identity"); id == nil || id.Get("name") != "Caz" {
		t.Fatalf("reserved nick discovery: %s", res)
	}
	joinError(t, bob, room, "Caz", "", "conflict")
	wantIQError(t, bob.IQ("<iq type='set' to='"+room+"' id='rs2'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'><field var='muc#register_roomnick'><value>Caz</value></field></x></query></iq>"), "cancel", "conflict")
	// A non-member may not register in a members-only room.
	wantIQError(t, dave.IQ("<iq type='get' to='"+room+"' id='rg3'><query xmlns='jabber:iq:register'/></iq>"), "auth", "registration-required")
	self := join(t, carol, room, "Caz", "")
	if mucItem(t, self).Get("jid") != carol.JID.String() || !hasCodes(self, "100") {
		t.Fatalf("Carol in the private group: %s", self)
	}
	if p := bob.Expect("Carol", isPresence(room+"/Caz", "")); mucItem(t, p).Get("jid") != carol.JID.String() {
		t.Fatalf("real JID for members: %s", p)
	}
}

func TestMUCVoiceRequest(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob")
	alice, bob := cs["alice"], cs["bob"]
	room := "stage@" + mucDomain
	createRoom(t, alice, room, "Alice", "muc#roomconfig_moderatedroom", "1")
	join(t, bob, room, "Bob", "")
	bob.Send("<message to='" + room + "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field></x></message>")
	req := alice.Expect("voice request", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Get("from") == room && el.Child("jabber:x:data", "x") != nil
	})
	f, err := stanza.ParseForm(req.Child("jabber:x:data", "x"))
	if err != nil || f.Value("muc#roomnick") != "Bob" || f.Value("muc#jid") != bob.JID.Bare().String() {
		t.Fatalf("voice request: %v %s", err, req)
	}
	alice.Send("<message to='" + room + "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Bob</value></field><field var='muc#request_allow'><value>true</value></field></x></message>")
	bob.Expect("voice", func(el *stanza.Element) bool {
		return selfPresence(room+"/Bob", "")(el) && mucItem(t, el).Get("role") == "participant"
	})
}

// TestMUCAccountRemoval checks that a deleted account loses its
// affiliations: a new account of the same name is someone else.
func TestMUCAccountRemoval(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, openRegistration, "alice", "bob")
	alice, bob := cs["alice"], cs["bob"]
	room := "gone@" + mucDomain
	createRoom(t, alice, room, "Alice", "muc#roomconfig_persistentroom", "1")
	wantResult(t, admin(alice, room, "<item jid='"+bob.JID.Bare().String()+"' affiliation='admin'/>"))
	wantResult(t, bob.IQ("<iq type='set' id='rm' to='localhost'><query xmlns='jabber:iq:register'><remove/></query></iq>"))
	res := alice.IQ("<iq type='get' to='" + room + "' id='al'><query xmlns='" + nsMUCAdmin + "'><item affiliation='admin'/></query></iq>")
	if q := res.Child(nsMUCAdmin, "query"); q == nil || len(q.Elements()) != 0 {
		t.Fatalf("admin list after the account's removal: %s", res)
	}
}

// TestMUCDirectInvitation: XEP-0249 invitations go from user to user and
// carry what the invitee needs to enter (here a password).
func TestMUCDirectInvitation(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "", "alice", "bob")
	alice, bob := cs["alice"], cs["bob"]
	room := "direct@" + mucDomain
	createRoom(t, alice, room, "Alice", "muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "pw")
	alice.Send("<message to='" + bob.JID.Bare().String() + "' id='di'><x xmlns='jabber:x:conference' jid='" + room + "' password='pw' reason='come'/></message>")
	inv := bob.Expect("direct invitation", isReplyTo("di"))
	x := inv.Child("jabber:x:conference", "x")
	if x == nil || x.Get("jid") != room || inv.Get("from") != alice.JID.String() {
		t.Fatalf("direct invitation: %s", inv)
	}
	join(t, bob, x.Get("jid"), "Bob", "<password>"+x.Get("password")+"</password>")
}

// TestMUCServerAdminsCreate: with [muc] create = "admins", the server's
// administrators (top-level admins) may create rooms; other users may not.
func TestMUCServerAdminsCreate(t *testing.T) {
	t.Parallel()
	_, cs := newMUCServer(t, "admins = [\"boss@localhost\"]\n[muc]\ncreate = \"admins\"\n", "boss", "alice")
	createRoom(t, cs["boss"], "staff@muc.localhost", "boss")
	joinError(t, cs["alice"], "new@muc.localhost", "alice", "", "not-allowed")
}

package server_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"hearth/stanza"
	"hearth/xmpptest"
)

const (
	nsVCard       = "vcard-temp"
	nsVCardUpdate = "vcard-temp:x:update"
)

// TestVCard checks XEP-0054 get and set: anyone reads, only the owner
// writes, sizes are bounded, and an absent vCard reads as an empty one.
func TestVCard(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[vcard]\nmax_size = 400\n")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "carol", "pw-carol-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-123", "pc")
	ab := alice.JID.Bare().String()

	res := carol.IQ("<iq type='get' id='g0' to='" + ab + "'><vCard xmlns='vcard-temp'/></iq>")
	if v := res.Child(nsVCard, "vCard"); res.Get("type") != "result" || v == nil || len(v.Elements()) != 0 {
		t.Fatalf("absent vCard: %s", res)
	}
	wantResult(t, alice.IQ("<iq type='set' id='s1'><vCard xmlns='vcard-temp'><FN>Alice</FN><NICKNAME>al</NICKNAME></vCard></iq>"))
	res = carol.IQ("<iq type='get' id='g1' to='" + ab + "'><vCard xmlns='vcard-temp'/></iq>")
	if v := res.Child(nsVCard, "vCard"); v == nil || v.ChildText(nsVCard, "FN") != "Alice" {
		t.Fatalf("vCard read by a stranger: %s", res)
	}
	res = alice.IQ("<iq type='get' id='g2'><vCard xmlns='vcard-temp'/></iq>")
	if v := res.Child(nsVCard, "vCard"); v == nil || v.ChildText(nsVCard, "NICKNAME") != "al" {
		t.Fatalf("own vCard: %s", res)
	}
	res = carol.IQ("<iq type='set' id='s2' to='" + ab + "'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>")
	if e := stanza.ParseError(res); e == nil || e.Condition != "forbidden" {
		t.Fatalf("stranger's set: %s", res)
	}
	res = alice.IQ("<iq type='set' id='s3'><vCard xmlns='vcard-temp'><DESC>" + strings.Repeat("x", 500) + "</DESC></vCard></iq>")
	if e := stanza.ParseError(res); e == nil || e.Condition != "not-acceptable" {
		t.Fatalf("oversized vCard: %s", res)
	}
	if v := alice.IQ("<iq type='get' id='g3'><vCard xmlns='vcard-temp'/></iq>").Child(nsVCard, "vCard"); v.ChildText(nsVCard, "FN") != "Alice" {
		t.Fatalf("refused set changed the vCard: %s", v)
	}
}

// TestVCardAvatarHashInPresence checks XEP-0153 on the server side: the
// photo's hash goes in the broadcast presence of a client that did not
// give one, and a client's own hash is left alone.
func TestVCardAvatarHashInPresence(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "laptop")
	befriend(t, alice, bob)
	photo := []byte("\x89PNG\r\n\x1a\nnot really a png")
	sum := sha1.Sum(photo)
	hash := hex.EncodeToString(sum[:])
	wantResult(t, alice.IQ("<iq type='set' id='s1'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>"+
		base64.StdEncoding.EncodeToString(photo)+"</BINVAL></PHOTO></vCard></iq>"))

	photoOf := func(p *stanza.Element) (string, bool) {
		x := p.Child(nsVCardUpdate, "x")
		if x == nil || x.Child(nsVCardUpdate, "photo") == nil {
			return "", false
		}
		return x.ChildText(nsVCardUpdate, "photo"), true
	}
	alice.Send("<presence><show>away</show></presence>")
	p := bob.Expect("alice's presence", func(el *stanza.Element) bool {
		return isPresence(alice.JID.String(), "")(el) && el.ChildText(stanza.NSClient, "show") == "away"
	})
	if got, ok := photoOf(p); !ok || got != hash {
		t.Fatalf("presence %s, want photo %s", p, hash)
	}
	alice.Send("<presence><show>dnd</show><x xmlns='vcard-temp:x:update'><photo>abc</photo></x></presence>")
	p = bob.Expect("alice's presence", func(el *stanza.Element) bool {
		return isPresence(alice.JID.String(), "")(el) && el.ChildText(stanza.NSClient, "show") == "dnd"
	})
	if got, _ := photoOf(p); got != "abc" {
		t.Fatalf("the client's own hash was replaced: %s", p)
	}
}

// TestVCardPEPConversion checks XEP-0398 both ways: a vCard photo becomes
// the PEP avatar (contacts with +notify hear of it), and a PEP avatar is
// what vCard readers and presence see.
func TestVCardPEPConversion(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-123")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-123", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "laptop")
	befriend(t, alice, bob)
	ab := alice.JID.Bare().String()
	announceCaps(t, bob, nsAvatarMeta+"+notify")

	// vCard -> PEP.
	img := []byte("first image")
	sum := sha1.Sum(img)
	id := hex.EncodeToString(sum[:])
	b64 := base64.StdEncoding.EncodeToString(img)
	wantResult(t, alice.IQ("<iq type='set' id='s1'><vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>"+b64+"</BINVAL></PHOTO></vCard></iq>"))
	ev := bob.Expect("avatar metadata from the vCard", isEvent(ab, nsAvatarMeta, "items"))
	info := eventItem(ev).Child(nsAvatarMeta, "metadata").Child(nsAvatarMeta, "info")
	if info == nil || info.Get("id") != id || info.Get("type") != "image/jpeg" || info.Get("bytes") != "11" {
		t.Fatalf("metadata %s, want id %s", ev, id)
	}
	items := itemsOf(t, fetchItems(bob, ab, nsAvatarData, "><item id='"+id+"'/></items"))
	if len(items) != 1 || items[0].ChildText(nsAvatarData, "data") != b64 {
		t.Fatalf("avatar data: %v", items)
	}

	// PEP -> vCard and presence.
	img2 := []byte("second image")
	sum2 := sha1.Sum(img2)
	id2 := hex.EncodeToString(sum2[:])
	b64b := base64.StdEncoding.EncodeToString(img2)
	publish(t, alice, nsAvatarData, id2, "<data xmlns='urn:xmpp:avatar:data'>"+b64b+"</data>")
	publish(t, alice, nsAvatarMeta, id2, "<metadata xmlns='urn:xmpp:avatar:metadata'><info id='"+id2+"' bytes='12' type='image/png'/></metadata>")
	res := bob.IQ("<iq type='get' id='g1' to='" + ab + "'><vCard xmlns='vcard-temp'/></iq>")
	v := res.Child(nsVCard, "vCard")
	if v == nil || v.ChildText(nsVCard, "FN") != "Alice" || v.Child(nsVCard, "PHOTO").ChildText(nsVCard, "BINVAL") != b64b ||
		v.Child(nsVCard, "PHOTO").ChildText(nsVCard, "TYPE") != "image/png" {
		t.Fatalf("vCard after a PEP avatar: %s", res)
	}
	alice.Send("<presence><show>chat</show></presence>")
	p := bob.Expect("alice's presence", func(el *stanza.Element) bool {
		return isPresence(alice.JID.String(), "")(el) && el.ChildText(stanza.NSClient, "show") == "chat"
	})
	if x := p.Child(nsVCardUpdate, "x"); x == nil || x.ChildText(nsVCardUpdate, "photo") != id2 {
		t.Fatalf("presence %s, want photo %s", p, id2)
	}
}

package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/mod/roster"
	"hearth/stanza"
	"hearth/xmpptest"
)

// fetchRoster gets c's roster (making c an interested resource, RFC 6121
// §2.1.6) and returns the result's <query/>.
func fetchRoster(t *testing.T, c *xmpptest.Client) *stanza.Element {
	t.Helper()
	res := c.IQ("<iq type='get' id='" + c.NextID() + "'><query xmlns='jabber:iq:roster'/></iq>")
	q := res.Child(nsRoster, "query")
	if res.Get("type") != "result" || q == nil {
		t.Fatalf("%s: roster get: %s", c.JID, res)
	}
	return q
}

// itemState describes a roster item as clients see it: its subscription,
// then "+ask" and "+approved" when set; "absent" for nil.
func itemState(it *stanza.Element) string {
	if it == nil {
		return "absent"
	}
	s := it.Get("subscription")
	if it.Get("ask") == "subscribe" {
		s += "+ask"
	}
	if it.Get("approved") == "true" {
		s += "+approved"
	}
	return s
}

// wantItem checks the state of c's roster item for contact.
func wantItem(t *testing.T, c *xmpptest.Client, contact, state string) {
	t.Helper()
	if got := itemState(rosterItem(t, c, contact)); got != state {
		t.Errorf("%s's roster item %s is %s, want %s", c.JID.Bare(), contact, got, state)
	}
}

// pushes returns the items of the roster pushes among els, in order.
func pushes(els []*stanza.Element) []*stanza.Element {
	var out []*stanza.Element
	for _, el := range els {
		if el.Name.Local != "iq" || el.Get("type") != "set" {
			continue
		}
		if q := el.Child(nsRoster, "query"); q != nil {
			if it := q.Child(nsRoster, "item"); it != nil {
				out = append(out, it)
			}
		}
	}
	return out
}

// lastPush returns the state pushed last for contact among els ("" when
// none was).
func lastPush(els []*stanza.Element, contact string) string {
	last := ""
	for _, it := range pushes(els) {
		if it.Get("jid") == contact {
			last = itemState(it)
			if it.Get("subscription") == "remove" {
				last = "absent"
			}
		}
	}
	return last
}

// presences returns the presence stanzas among els from 'from' of type typ.
func presences(els []*stanza.Element, from, typ string) []*stanza.Element {
	var out []*stanza.Element
	for _, el := range els {
		if isPresence(from, typ)(el) {
			out = append(out, el)
		}
	}
	return out
}

// subscribeBoth gives a and b (available clients of two accounts) a
// mutual subscription through the RFC 6121 §3.1 exchange, and consumes
// what it caused on a and b.
func subscribeBoth(t *testing.T, a, b *xmpptest.Client) {
	t.Helper()
	ab, bb := a.JID.Bare().String(), b.JID.Bare().String()
	a.Send("<presence to='" + bb + "' type='subscribe'/>")
	barrier(t, a)
	b.Send("<presence to='" + ab + "' type='subscribed'/><presence to='" + ab + "' type='subscribe'/>")
	barrier(t, b)
	a.Send("<presence to='" + bb + "' type='subscribed'/>")
	barrier(t, a)
	barrier(t, b)
	wantItem(t, a, bb, "both")
	wantItem(t, b, ab, "both")
}

// TestSubscriptionRequestToOfflineContact follows RFC 6121 §3.1.3: a
// request to a contact with no available resource is kept, delivered when
// a resource sends initial presence, and again at each initial presence
// until the contact answers it.
func TestSubscriptionRequestToOfflineContact(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	fetchRoster(t, alice)

	alice.Send("<presence to='bob@b.example' type='subscribe' id='sub1'><status>it is alice</status></presence>")
	if got := lastPush(barrier(t, alice), "bob@b.example"); got != "none+ask" {
		t.Errorf("alice's push after subscribe: %q, want none+ask", got)
	}

	isRequest := isPresence("alice@a.example", "subscribe")
	bob := srv.Login(t, "bob@b.example", "pw-bob-123", "desk")
	if it := fetchRoster(t, bob).Child(nsRoster, "item"); it != nil {
		t.Errorf("a pending request shows in bob's roster: %s", it)
	}
	if got := presences(barrier(t, bob), "alice@a.example", "subscribe"); len(got) != 0 {
		t.Errorf("request delivered before initial presence: %v", got)
	}
	bob.Send("<presence/>")
	got := presences(barrier(t, bob), "alice@a.example", "subscribe")
	if len(got) != 1 || got[0].Get("to") != "bob@b.example" || got[0].ChildText("", "status") != "it is alice" {
		t.Fatalf("at initial presence bob got %v, want alice's request once", got)
	}
	bob.Close()

	// Not answered: delivered again at the next initial presence.
	bob = srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "phone")
	bob.Expect("the request again", isRequest)
	bob.Send("<presence to='alice@a.example' type='subscribed'/>")
	barrier(t, bob)
	els := barrier(t, alice)
	if len(presences(els, "bob@b.example", "subscribed")) != 1 || len(presences(els, "bob@b.example/phone", "")) != 1 {
		t.Errorf("after approval alice got %v, want subscribed and bob's presence", els)
	}
	if got := lastPush(els, "bob@b.example"); got != "to" {
		t.Errorf("alice's push after approval: %q, want to", got)
	}

	// Answered: not delivered any more.
	tablet := srv.Login(t, "bob@b.example", "pw-bob-123", "tablet")
	tablet.Send("<presence/>")
	if got := presences(barrier(t, tablet), "alice@a.example", "subscribe"); len(got) != 0 {
		t.Errorf("answered request delivered again: %v", got)
	}
	wantItem(t, tablet, "alice@a.example", "from")
}

// TestPreApproval follows RFC 6121 §3.4: a user pre-approves a contact's
// request, which is then approved without reaching the user; a
// pre-approval can be cancelled.
func TestPreApproval(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	srv.AddUser(t, "carol@b.example", "pw-carol-1")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "desk")
	if alice.Features.Child(roster.NSPreApproval, "sub") == nil {
		t.Errorf("no <sub xmlns='%s'/> stream feature: %s", roster.NSPreApproval, alice.Features)
	}
	fetchRoster(t, alice)
	fetchRoster(t, bob)

	alice.Send("<presence to='bob@b.example' type='subscribed'/>")
	if got := lastPush(barrier(t, alice), "bob@b.example"); got != "none+approved" {
		t.Errorf("alice's push after pre-approving: %q, want none+approved", got)
	}
	if els := barrier(t, bob); len(els) != 0 {
		t.Errorf("a pre-approval reached bob: %v", els)
	}

	bob.Send("<presence to='alice@a.example' type='subscribe'/>")
	bobGot := barrier(t, bob)
	if len(presences(bobGot, "alice@a.example", "subscribed")) != 1 || len(presences(bobGot, "alice@a.example/laptop", "")) != 1 {
		t.Errorf("bob got %v, want alice's subscribed and her presence", bobGot)
	}
	if got := lastPush(bobGot, "alice@a.example"); got != "to" {
		t.Errorf("bob's push: %q, want to", got)
	}
	aliceGot := barrier(t, alice)
	if got := presences(aliceGot, "bob@b.example", "subscribe"); len(got) != 0 {
		t.Errorf("a pre-approved request reached alice: %v", got)
	}
	if got := lastPush(aliceGot, "bob@b.example"); got != "from" {
		t.Errorf("alice's push: %q, want from (approval consumed)", got)
	}

	// Cancelled with unsubscribed: the next request reaches alice.
	alice.Send("<presence to='carol@b.example' type='subscribed'/>")
	alice.Send("<presence to='carol@b.example' type='unsubscribed'/>")
	if got := lastPush(barrier(t, alice), "carol@b.example"); got != "none" {
		t.Errorf("alice's push after cancelling the pre-approval: %q, want none", got)
	}
	carol := srv.LoginAvailable(t, "carol@b.example", "pw-carol-1", "x")
	if got := presences(barrier(t, carol), "alice@a.example", "unsubscribed"); len(got) != 0 {
		t.Errorf("cancelling a pre-approval was routed: %v", got)
	}
	carol.Send("<presence to='alice@a.example' type='subscribe'/>")
	if got := presences(barrier(t, carol), "alice@a.example", "subscribed"); len(got) != 0 {
		t.Errorf("cancelled pre-approval still approved: %v", got)
	}
	if got := presences(barrier(t, alice), "carol@b.example", "subscribe"); len(got) != 1 {
		t.Errorf("alice got %v, want carol's request", got)
	}
	wantItem(t, alice, "carol@b.example", "none")
}

// TestEndingSubscriptions follows RFC 6121 §3.2 (cancelling), §3.3
// (unsubscribing) and §2.5.2 (removing a roster item) from a mutual
// subscription: the roster pushes on both sides, the stanzas the contact
// receives, the unavailable presence each side learns, and which presence
// still flows afterwards.
func TestEndingSubscriptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, send string
		// Roster states after.
		alice, bob string
		// Subscription stanzas bob receives from alice's bare JID.
		bobGets []string
		// Who learns the other is unavailable.
		bobSeesAliceGo, aliceSeesBobGo bool
		// Which presence still flows.
		aliceToBob, bobToAlice bool
	}{{
		name:           "cancel: unsubscribed (§3.2)",
		send:           "<presence to='bob@b.example' type='unsubscribed'/>",
		alice:          "to",
		bob:            "from",
		bobGets:        []string{"unsubscribed"},
		bobSeesAliceGo: true,
		bobToAlice:     true,
	}, {
		name:           "unsubscribe (§3.3)",
		send:           "<presence to='bob@b.example' type='unsubscribe'/>",
		alice:          "from",
		bob:            "to",
		bobGets:        []string{"unsubscribe"},
		aliceSeesBobGo: true,
		aliceToBob:     true,
	}, {
		name:           "roster remove of a both contact (§2.5.2)",
		send:           "<iq type='set' id='rm1'><query xmlns='jabber:iq:roster'><item jid='bob@b.example' subscription='remove'/></query></iq>",
		alice:          "absent",
		bob:            "none",
		bobGets:        []string{"unsubscribe", "unsubscribed"},
		bobSeesAliceGo: true,
		aliceSeesBobGo: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.NewServer(t, twoHosts)
			srv.AddUser(t, "alice@a.example", "pw-alice-1")
			srv.AddUser(t, "bob@b.example", "pw-bob-123")
			alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
			bob := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "desk")
			fetchRoster(t, alice)
			fetchRoster(t, bob)
			subscribeBoth(t, alice, bob)

			alice.Send(tc.send)
			aliceGot := barrier(t, alice)
			bobGot := barrier(t, bob)
			if got := lastPush(aliceGot, "bob@b.example"); got != tc.alice {
				t.Errorf("alice's last push: %q, want %q (got %v)", got, tc.alice, aliceGot)
			}
			if got := lastPush(bobGot, "alice@a.example"); got != tc.bob {
				t.Errorf("bob's last push: %q, want %q (got %v)", got, tc.bob, bobGot)
			}
			wantItem(t, alice, "bob@b.example", tc.alice)
			wantItem(t, bob, "alice@a.example", tc.bob)
			var bobGets []string
			for _, el := range bobGot {
				if el.Name.Local == "presence" && el.Get("from") == "alice@a.example" {
					bobGets = append(bobGets, el.Get("type"))
				}
			}
			if !slices.Equal(bobGets, tc.bobGets) {
				t.Errorf("bob got %v from alice's bare JID, want %v", bobGets, tc.bobGets)
			}
			if got := len(presences(bobGot, "alice@a.example/laptop", "unavailable")); got != b2i(tc.bobSeesAliceGo) {
				t.Errorf("bob got %d unavailable from alice, want %d", got, b2i(tc.bobSeesAliceGo))
			}
			if got := len(presences(aliceGot, "bob@b.example/desk", "unavailable")); got != b2i(tc.aliceSeesBobGo) {
				t.Errorf("alice got %d unavailable from bob, want %d", got, b2i(tc.aliceSeesBobGo))
			}

			alice.Send("<presence><status>alice again</status></presence>")
			barrier(t, alice)
			if got := len(presences(barrier(t, bob), "alice@a.example/laptop", "")); got != b2i(tc.aliceToBob) {
				t.Errorf("bob got %d presence updates from alice, want %d", got, b2i(tc.aliceToBob))
			}
			bob.Send("<presence><status>bob again</status></presence>")
			barrier(t, bob)
			if got := len(presences(barrier(t, alice), "bob@b.example/desk", "")); got != b2i(tc.bobToAlice) {
				t.Errorf("alice got %d presence updates from bob, want %d", got, b2i(tc.bobToAlice))
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSubscribeToMissingUser: a request to a local account that does not
// exist is answered with unsubscribed (RFC 6121 §3.1.3), which ends the
// pending request in the user's roster.
func TestSubscribeToMissingUser(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	fetchRoster(t, alice)
	alice.Send("<presence to='nobody@b.example' type='subscribe' id='ms1'/>")
	got := barrier(t, alice)
	un := presences(got, "nobody@b.example", "unsubscribed")
	if len(un) != 1 || un[0].Get("to") != "alice@a.example" {
		t.Errorf("got %v, want one unsubscribed from nobody@b.example", got)
	}
	var states []string
	for _, it := range pushes(got) {
		states = append(states, itemState(it))
	}
	if !slices.Equal(states, []string{"none+ask", "none"}) {
		t.Errorf("pushes %v, want the request then its end", states)
	}
	wantItem(t, alice, "nobody@b.example", "none")
}

// TestProbeAnswers: after a contact logged out, a probe from a subscriber
// is answered with the contact's last unavailable presence (RFC 6121
// §4.3.2) and XEP-0012 gives the time since; a stranger gets neither.
func TestProbeAnswers(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	srv.AddUser(t, "eve@b.example", "pw-eve-1234")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "desk")
	eve := srv.LoginAvailable(t, "eve@b.example", "pw-eve-1234", "x")
	subscribeBoth(t, alice, bob)

	bob.Send("<presence type='unavailable'><status>gone fishing</status></presence>")
	alice.Expect("bob's unavailable", isPresence("bob@b.example/desk", "unavailable"))
	bob.Close()

	isLast := func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "unavailable" && strings.HasPrefix(el.Get("from"), "bob@b.example")
	}
	t.Run("probe at initial presence", func(t *testing.T) {
		tablet := srv.Login(t, "alice@a.example", "pw-alice-1", "tablet")
		tablet.Send("<presence/>")
		p := tablet.Expect("bob's last unavailable", isLast)
		if p.ChildText("", "status") != "gone fishing" || p.Get("to") == "" {
			t.Errorf("probe answer %s", p)
		}
	})
	t.Run("explicit probe", func(t *testing.T) {
		alice.Send("<presence to='bob@b.example' type='probe'/>")
		p := alice.Expect("bob's last unavailable", isLast)
		if p.ChildText("", "status") != "gone fishing" {
			t.Errorf("probe answer %s", p)
		}
	})
	t.Run("stranger's probe", func(t *testing.T) {
		eve.Send("<presence to='bob@b.example' type='probe'/>")
		barrier(t, eve)
		for _, el := range barrier(t, eve) {
			if strings.HasPrefix(el.Get("from"), "bob@b.example") && el.Get("type") != "unsubscribed" {
				t.Errorf("stranger got %s", el)
			}
		}
	})
	last := func(t *testing.T, c *xmpptest.Client) *stanza.Element {
		t.Helper()
		return c.IQ("<iq type='get' id='" + c.NextID() + "' to='bob@b.example'><query xmlns='jabber:iq:last'/></iq>")
	}
	t.Run("last activity for a subscriber", func(t *testing.T) {
		// The logout is recorded when the server has seen bob's stream end.
		deadline := time.Now().Add(xmpptest.Timeout)
		for {
			res := last(t, alice)
			if res.Get("type") == "result" {
				sec, err := strconv.Atoi(res.Child("jabber:iq:last", "query").Get("seconds"))
				if err != nil || sec < 0 || sec > 60 {
					t.Errorf("last activity %s", res)
				}
				return
			}
			if errorCondition(res) != "service-unavailable" || time.Now().After(deadline) {
				t.Fatalf("last activity %s", res)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("last activity for a stranger", func(t *testing.T) {
		if res := last(t, eve); errorCondition(res) != "forbidden" {
			t.Errorf("got %s", res)
		}
	})
}

// TestProbeOfLostSubscription: a probe from a user whose subscription the
// contact's side no longer has is answered with unsubscribed (RFC 6121
// §4.3.2, first case), which ends the user's stale subscription.
func TestProbeOfLostSubscription(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, srv *xmpptest.Server)
	}{
		{"contact's roster lost the item", func(t *testing.T, srv *xmpptest.Server) {
			if err := srv.Store().Map(roster.MapName).Delete(ctx, "bob@b.example", "alice@a.example"); err != nil {
				t.Fatal(err)
			}
		}},
		{"contact's account deleted", func(t *testing.T, srv *xmpptest.Server) {
			if err := srv.Store().Accounts().Delete(ctx, "b.example", "bob"); err != nil {
				t.Fatal(err)
			}
			if err := srv.Store().DeleteOwner(ctx, "bob@b.example"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.NewServer(t, twoHosts)
			srv.AddUser(t, "alice@a.example", "pw-alice-1")
			srv.AddUser(t, "bob@b.example", "pw-bob-123")
			alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
			bob := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "desk")
			subscribeBoth(t, alice, bob)
			alice.Close()
			bob.Close()
			tc.lose(t, srv)

			alice = srv.Login(t, "alice@a.example", "pw-alice-1", "tablet")
			fetchRoster(t, alice)
			alice.Send("<presence/>")
			got := barrier(t, alice)
			if len(presences(got, "bob@b.example", "unsubscribed")) != 1 {
				t.Errorf("alice got %v, want unsubscribed from bob", got)
			}
			if got := lastPush(got, "bob@b.example"); got != "from" {
				t.Errorf("alice's push: %q, want from", got)
			}
		})
	}
}

// TestRosterPushesToInterestedResources: roster pushes go to the
// resources that requested the roster, available or not, and only to them
// (RFC 6121 §2.1.6).
func TestRosterPushesToInterestedResources(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	a := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "a")
	b := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "b") // never fetches at first
	c := srv.Login(t, "alice@a.example", "pw-alice-1", "c")          // interested, not available
	fetchRoster(t, a)
	fetchRoster(t, c)
	all := []*xmpptest.Client{a, b, c}
	for _, x := range all {
		barrier(t, x)
	}
	// counts returns how many pushes a, b and c got for what a sent.
	counts := func(t *testing.T) []int {
		t.Helper()
		n := []int{len(pushes(barrier(t, a)))}
		for _, x := range all[1:] {
			n = append(n, len(pushes(barrier(t, x))))
		}
		return n
	}
	a.Send("<iq type='set' id='set1'><query xmlns='jabber:iq:roster'><item jid='carol@b.example'/></query></iq>")
	if got := counts(t); !slices.Equal(got, []int{1, 0, 1}) {
		t.Errorf("pushes of a roster set to a, b, c: %v, want [1 0 1]", got)
	}
	a.Send("<presence to='bob@b.example' type='subscribe'/>")
	if got := counts(t); !slices.Equal(got, []int{1, 0, 1}) {
		t.Errorf("pushes of a subscription change to a, b, c: %v, want [1 0 1]", got)
	}
	fetchRoster(t, b)
	a.Send("<iq type='set' id='set2'><query xmlns='jabber:iq:roster'><item jid='dave@b.example'/></query></iq>")
	if got := counts(t); !slices.Equal(got, []int{1, 1, 1}) {
		t.Errorf("pushes once b fetched the roster: %v, want [1 1 1]", got)
	}
}

// TestRosterVersioningAcrossReconnects follows RFC 6121 §2.6: a client
// that reconnects with the version it has gets an empty result when
// nothing changed, and the changes (here: the whole roster with the new
// version) when something did; pushes to versioned resources carry the
// version, others do not.
func TestRosterVersioningAcrossReconnects(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	login := func(t *testing.T, res string) *xmpptest.Client {
		t.Helper()
		return srv.Login(t, "alice@a.example", "pw-alice-1", res)
	}
	get := func(t *testing.T, c *xmpptest.Client, ver string) *stanza.Element {
		t.Helper()
		res := c.IQ("<iq type='get' id='" + c.NextID() + "'><query xmlns='jabber:iq:roster' ver='" + ver + "'/></iq>")
		if res.Get("type") != "result" {
			t.Fatalf("roster get: %s", res)
		}
		return res.Child(nsRoster, "query") // nil: up to date
	}
	set := func(t *testing.T, c *xmpptest.Client, contact string) {
		t.Helper()
		if res := c.IQ("<iq type='set' id='" + c.NextID() + "'><query xmlns='jabber:iq:roster'><item jid='" + contact + "'/></query></iq>"); res.Get("type") != "result" {
			t.Fatalf("roster set: %s", res)
		}
	}
	pushVer := func(t *testing.T, c *xmpptest.Client) (string, bool) {
		t.Helper()
		for _, el := range barrier(t, c) {
			if it := pushes([]*stanza.Element{el}); len(it) == 1 {
				q := el.Child(nsRoster, "query")
				_, has := attrOf(q, "ver")
				return q.Get("ver"), has
			}
		}
		t.Fatalf("%s got no push", c.JID)
		return "", false
	}

	dev := login(t, "one")
	q := get(t, dev, "")
	if q == nil || q.Get("ver") == "" || len(q.Elements()) != 0 {
		t.Fatalf("first versioned get: %v", q)
	}
	set(t, dev, "carol@b.example")
	v1, has := pushVer(t, dev)
	if !has || v1 == "" || v1 == q.Get("ver") {
		t.Fatalf("push version %q (present %v) after %q", v1, has, q.Get("ver"))
	}
	dev.Close()

	dev = login(t, "one")
	if q := get(t, dev, v1); q != nil {
		t.Errorf("reconnect with the current version: %s, want an empty result", q)
	}
	other := login(t, "two")
	fetchRoster(t, other) // interested, without versioning
	set(t, other, "dave@b.example")
	v2, has := pushVer(t, dev)
	if !has || v2 == v1 {
		t.Errorf("push to the versioned resource: ver %q (present %v) after %q", v2, has, v1)
	}
	if _, has := pushVer(t, other); has {
		t.Errorf("push to a resource that did not ask for versioning carries ver")
	}
	dev.Close()
	other.Close()

	for _, tc := range []struct {
		name, ver string
		want      []string // nil: up to date
	}{
		{"stale version", v1, []string{"carol@b.example", "dave@b.example"}},
		{"unknown version", "bogus-7", []string{"carol@b.example", "dave@b.example"}},
		{"current version", v2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := login(t, "three")
			defer c.Close()
			q := get(t, c, tc.ver)
			if tc.want == nil {
				if q != nil {
					t.Errorf("got %s, want an empty result", q)
				}
				return
			}
			if q == nil || q.Get("ver") != v2 {
				t.Fatalf("got %v, want the roster at %s", q, v2)
			}
			var jids []string
			for _, it := range q.Elements() {
				jids = append(jids, it.Get("jid"))
			}
			if !slices.Equal(jids, tc.want) {
				t.Errorf("items %v, want %v", jids, tc.want)
			}
		})
	}
}

func attrOf(e *stanza.Element, local string) (string, bool) {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// TestConcurrentRosterSets: two devices of one account change the roster
// at the same time; no change is lost, both see every push in the same
// order with growing versions, and both end with the same roster.
func TestConcurrentRosterSets(t *testing.T) {
	t.Parallel()
	const n = 30
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	devs := []*xmpptest.Client{
		srv.Login(t, "alice@a.example", "pw-alice-1", "one"),
		srv.Login(t, "alice@a.example", "pw-alice-1", "two"),
	}
	for _, d := range devs {
		d.IQ("<iq type='get' id='v0'><query xmlns='jabber:iq:roster' ver=''/></iq>")
	}
	// Each device sets n items of its own and the shared item n times,
	// written all at once so the server handles both streams together.
	var wg sync.WaitGroup
	errs := make(chan error, len(devs))
	for i, d := range devs {
		var b strings.Builder
		for k := range n {
			fmt.Fprintf(&b, "<iq type='set' id='cs%d'><query xmlns='jabber:iq:roster'><item jid='c%d-%d@b.example'/></query></iq>", k, i, k)
			fmt.Fprintf(&b, "<iq type='set' id='sh%d'><query xmlns='jabber:iq:roster'><item jid='shared@b.example' name='dev%d-%d'/></query></iq>", k, i, k)
		}
		wg.Go(func() {
			nc := d.NetConn()
			nc.SetWriteDeadline(time.Now().Add(xmpptest.Timeout))
			if _, err := nc.Write([]byte(b.String())); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var seen [][]string // per device: the pushes as "ver jid name"
	for _, d := range devs {
		results := 0
		var got []string
		deadline := time.Now().Add(xmpptest.Timeout)
		for results < 2*n || len(got) < 4*n {
			el, err := d.ReadElement(time.Until(deadline))
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("%s: %d results and %d pushes, want %d and %d", d.JID, results, len(got), 2*n, 4*n)
				}
				t.Fatal(err)
			}
			switch {
			case el.Get("type") == "result":
				results++
			case el.Get("type") == "error":
				t.Fatalf("%s: %s", d.JID, el)
			case len(pushes([]*stanza.Element{el})) == 1:
				q := el.Child(nsRoster, "query")
				it := q.Child(nsRoster, "item")
				got = append(got, q.Get("ver")+" "+it.Get("jid")+" "+it.Get("name"))
			}
		}
		seen = append(seen, got)
	}
	if !slices.Equal(seen[0], seen[1]) {
		t.Errorf("the devices saw different pushes:\n%v\n%v", seen[0], seen[1])
	}
	prev := -1
	for _, p := range seen[0] {
		ver, _, _ := strings.Cut(p, " ")
		_, counter, _ := strings.Cut(ver, "-")
		c, err := strconv.Atoi(counter)
		if err != nil || c <= prev {
			t.Fatalf("push versions do not grow: %v", seen[0])
		}
		prev = c
	}
	lastShared := ""
	for _, p := range seen[0] {
		if f := strings.Fields(p); f[1] == "shared@b.example" {
			lastShared = f[2]
		}
	}
	var rosters []string
	for _, d := range devs {
		q := fetchRoster(t, d)
		var items []string
		for _, it := range q.Elements() {
			items = append(items, it.Get("jid")+"="+it.Get("name"))
			if it.Get("jid") == "shared@b.example" && it.Get("name") != lastShared {
				t.Errorf("shared item is %q, the last push said %q", it.Get("name"), lastShared)
			}
		}
		if len(items) != 2*n+1 {
			t.Errorf("%s: roster has %d items, want %d", d.JID, len(items), 2*n+1)
		}
		rosters = append(rosters, strings.Join(items, " "))
	}
	if rosters[0] != rosters[1] {
		t.Errorf("the devices' rosters differ:\n%s\n%s", rosters[0], rosters[1])
	}
}

// TestReplacedSessionDoesNotHideNewOne: when a client binds a resource
// that is still bound (RFC 6120 §7.7.2.2, the new session wins), the old
// session's departure must not be announced after the new session's
// arrival: contacts would see the full JID offline while it is online.
// The old client here never closes its side, as a dead mobile connection
// would not, so the server finishes the old stream only after its grace
// period.
func TestReplacedSessionDoesNotHideNewOne(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	old := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "desk")
	subscribeBoth(t, alice, old)

	bob := srv.Login(t, "bob@b.example", "pw-bob-123", "desk")
	bob.Send("<presence><status>new connection</status></presence>")
	var last *stanza.Element
	// Until the old stream has ended on the server (its socket closes),
	// and then a little longer for its session's close to be processed.
	nc := old.NetConn()
	nc.SetReadDeadline(time.Now().Add(2 * xmpptest.Timeout))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("old connection: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	for _, el := range barrier(t, alice) {
		if el.Name.Local == "presence" && el.Get("from") == "bob@b.example/desk" {
			last = el
		}
	}
	if last == nil || last.Get("type") != "" || last.ChildText("", "status") != "new connection" {
		t.Errorf("alice's last presence from bob@b.example/desk is %v, want the new session's", last)
	}
	// bob's own session sees no departure of itself either.
	for _, el := range barrier(t, bob) {
		if isPresence("bob@b.example/desk", "unavailable")(el) {
			t.Errorf("the new session got %s", el)
		}
	}
}

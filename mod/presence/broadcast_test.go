package presence_test

import (
	"testing"

	"hearth/mod/internal/modtest"
	"hearth/mod/roster"
	"hearth/stanza"
)

// aliceRoster gives alice one remote contact in each interesting state.
func aliceRoster(e *env) {
	e.t.Helper()
	for _, c := range []struct {
		jid     string
		sub     roster.Subscription
		out, in bool
	}{
		{"both@remote.example", roster.Both, false, false},
		{"from@remote.example", roster.From, false, false},
		{"none@remote.example", roster.None, false, false},
		{"out@remote.example", roster.None, true, false},
		{"to@remote.example", roster.To, false, false},
	} {
		e.setItem("alice@example.com", c.jid, c.sub, c.out, c.in, false)
	}
	// A request from a stranger: a hidden item.
	e.receive(`<presence xmlns='jabber:client' type='subscribe' from='stranger@remote.example' to='alice@example.com'/>`)
}

func TestInitialPresence(t *testing.T) {
	e := newEnv(t)
	aliceRoster(e)
	a2 := e.login("alice@example.com/two")
	a3 := e.bind("alice@example.com/three") // bound, not available
	e.takeRouted()
	a := e.bind("alice@example.com/one")

	e.send(a, `<presence><show>chat</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>`)

	routed := e.takeRouted()
	want(t, "routed", routed,
		"probe alice@example.com->both@remote.example", // §4.2.2: probes, from the bare JID,
		"probe alice@example.com->to@remote.example",
		"available alice@example.com/one->both@remote.example", // then the broadcast
		"available alice@example.com/one->from@remote.example")
	if caps := routed[2].Child("http://jabber.org/protocol/caps", "c"); caps == nil || caps.Get("ver") != "v" {
		t.Errorf("broadcast lost the caps element: %s", routed[2])
	}
	want(t, "the new resource", e.take(a),
		"available alice@example.com/one->alice@example.com/one", // its own presence,
		"available alice@example.com/two->alice@example.com/one", // the other resources',
		"subscribe stranger@remote.example->alice@example.com")   // and pending requests
	want(t, "another available resource", e.take(a2), "available alice@example.com/one->alice@example.com/two")
	want(t, "an unavailable resource", e.take(a3))
	if p := a.Presence(); p == nil || p.ChildText("", "show") != "chat" {
		t.Errorf("session presence = %v, want the initial presence", p)
	}

	// An update goes to the same contacts and resources, without probes or
	// redelivery (§4.4.2).
	e.send(a, `<presence><show>away</show></presence>`)
	want(t, "routed after an update", e.takeRouted(),
		"available alice@example.com/one->both@remote.example",
		"available alice@example.com/one->from@remote.example")
	want(t, "the resource after its update", e.take(a), "available alice@example.com/one->alice@example.com/one")
	want(t, "another resource after the update", e.take(a2), "available alice@example.com/one->alice@example.com/two")
	if p := a.Presence(); p == nil || p.ChildText("", "show") != "away" {
		t.Errorf("session presence = %v, want the update", p)
	}
}

func TestUnavailable(t *testing.T) {
	e := newEnv(t)
	aliceRoster(e)
	a := e.login("alice@example.com/one")
	a2 := e.login("alice@example.com/two")
	e.take(a)
	e.send(a, `<presence to='x@remote.example/r'/>`)
	e.takeRouted()

	e.send(a, `<presence type='unavailable'><status>gone</status></presence>`)
	routed := e.takeRouted()
	want(t, "routed", routed,
		"unavailable alice@example.com/one->both@remote.example",
		"unavailable alice@example.com/one->from@remote.example",
		"unavailable alice@example.com/one->x@remote.example/r")
	for _, r := range routed {
		if r.ChildText("", "status") != "gone" {
			t.Errorf("%s lost its status", r)
		}
	}
	want(t, "the other resource", e.take(a2), "unavailable alice@example.com/one->alice@example.com/two")
	want(t, "the resource itself", e.take(a))
	if a.Presence() != nil {
		t.Errorf("session still available: %s", a.Presence())
	}

	// Unavailable again: nothing more to say, and directed presence was
	// already retracted.
	e.send(a, `<presence type='unavailable'/>`)
	want(t, "routed by a second unavailable", e.takeRouted())

	// Closing the session later sends nothing either.
	e.close(a)
	want(t, "routed at close", e.takeRouted())
}

func TestDirectedPresenceAndClose(t *testing.T) {
	e := newEnv(t)
	aliceRoster(e)
	a := e.login("alice@example.com/one")
	a2 := e.login("alice@example.com/two")
	e.take(a)

	e.send(a, `<presence to='x@remote.example/r'><show>dnd</show></presence>`)
	e.send(a, `<presence to='room@conference.remote.example/nick'/>`)
	e.send(a, `<presence to='from@remote.example/phone'/>`) // reached by the broadcast anyway
	e.send(a, `<presence to='y@remote.example'/>`)
	e.send(a, `<presence to='y@remote.example' type='unavailable'/>`) // retracted already
	e.send(a, `<presence to='alice@example.com/two'/>`)               // own resource
	want(t, "directed presence routed as sent", e.takeRouted(),
		"available alice@example.com/one->x@remote.example/r",
		"available alice@example.com/one->room@conference.remote.example/nick",
		"available alice@example.com/one->from@remote.example/phone",
		"available alice@example.com/one->y@remote.example",
		"unavailable alice@example.com/one->y@remote.example",
		"available alice@example.com/one->alice@example.com/two")
	want(t, "own resource", e.take(a2), "available alice@example.com/one->alice@example.com/two")

	e.close(a)
	want(t, "routed at close", e.takeRouted(),
		"unavailable alice@example.com/one->both@remote.example",
		"unavailable alice@example.com/one->from@remote.example",
		"unavailable alice@example.com/one->room@conference.remote.example/nick",
		"unavailable alice@example.com/one->x@remote.example/r")
	want(t, "the other resource at close", e.take(a2), "unavailable alice@example.com/one->alice@example.com/two")
}

// TestCloseUnavailableSession: a session that never sent initial presence
// only retracts its directed presence (§4.6.3).
func TestCloseUnavailableSession(t *testing.T) {
	e := newEnv(t)
	aliceRoster(e)
	a := e.bind("alice@example.com/one")
	a2 := e.login("alice@example.com/two")
	e.close(a)
	want(t, "routed at close without presence", e.takeRouted())

	b := e.bind("alice@example.com/three")
	e.send(b, `<presence to='x@remote.example/r'/>`)
	e.takeRouted()
	e.close(b)
	want(t, "routed at close", e.takeRouted(), "unavailable alice@example.com/three->x@remote.example/r")
	want(t, "other resource", e.take(a2))
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name      string
		from      string
		sub       roster.Subscription
		resources []string // alice's available resources
		want      []string
	}{
		{"from, two resources", "c@remote.example", roster.From, []string{"one", "two"}, []string{
			"available alice@example.com/one->c@remote.example",
			"available alice@example.com/two->c@remote.example",
		}},
		{"both, full JID prober", "c@remote.example/res", roster.Both, []string{"one"}, []string{"available alice@example.com/one->c@remote.example/res"}},
		{"from, offline", "c@remote.example", roster.From, nil, []string{"unavailable alice@example.com->c@remote.example"}},
		// §4.3.2 case 1: no presence, but unsubscribed from the bare JID.
		{"to", "c@remote.example", roster.To, []string{"one"}, []string{"unsubscribed alice@example.com->c@remote.example"}},
		{"none", "c@remote.example", roster.None, []string{"one"}, []string{"unsubscribed alice@example.com->c@remote.example"}},
		{"not in roster", "d@remote.example/res", roster.Both, []string{"one"}, []string{"unsubscribed alice@example.com->d@remote.example"}},
		{"the account itself", "alice@example.com/other", roster.None, []string{"one"}, []string{"available alice@example.com/one->alice@example.com/other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.setItem("alice@example.com", "c@remote.example", tc.sub, false, false, false)
			for _, r := range tc.resources {
				e.login("alice@example.com/" + r)
			}
			e.bind("alice@example.com/unavailable")
			e.takeRouted()
			e.receive(`<presence xmlns='jabber:client' type='probe' from='` + tc.from + `' to='alice@example.com'/>`)
			want(t, "answer", e.takeRouted(), tc.want...)
		})
	}
}

func TestProbeGetsLastUnavailable(t *testing.T) {
	e := newEnv(t)
	e.setItem("alice@example.com", "c@remote.example", roster.From, false, false, false)
	a := e.login("alice@example.com/one")
	e.send(a, `<presence type='unavailable' id='u1'><status>on holiday</status></presence>`)
	e.close(a)
	e.takeRouted()
	e.receive(`<presence xmlns='jabber:client' type='probe' from='c@remote.example' to='alice@example.com'/>`)
	got := e.takeRouted()
	want(t, "answer", got, "unavailable alice@example.com->c@remote.example")
	if len(got) == 1 {
		modtest.Equal(t, got[0], `<presence xmlns='jabber:client' type='unavailable' from='alice@example.com' to='c@remote.example'><status>on holiday</status></presence>`)
	}
}

// TestInitialPresenceProbesLocalContacts checks the whole exchange between
// local accounts: alice's probe reaches bob, whose answer reaches alice.
func TestInitialPresenceProbesLocalContacts(t *testing.T) {
	e := newEnv(t)
	e.setItem("alice@example.com", "bob@example.com", roster.To, false, false, false)
	e.setItem("bob@example.com", "alice@example.com", roster.From, false, false, false)
	e.setItem("alice@example.com", "carol@example.com", roster.To, false, false, false) // carol never approved
	b := e.login("bob@example.com/b")
	e.send(b, `<presence><status>here</status></presence>`)
	e.take(b)
	a := e.bind("alice@example.com/a")
	e.send(a, `<presence/>`)
	got := e.take(a)
	// carol's side answers unsubscribed (§4.3.2), which ends alice's stale
	// subscription and is delivered to her.
	want(t, "alice", got, "available bob@example.com/b->alice@example.com", "unsubscribed carol@example.com->alice@example.com", "available alice@example.com/a->alice@example.com/a")
	if len(got) > 0 && got[0].ChildText("", "status") != "here" {
		t.Errorf("probe answer %s lacks bob's status", got[0])
	}
	want(t, "bob", e.take(b))
}

func TestInboundDelivery(t *testing.T) {
	for _, tc := range []struct {
		name, stanza string
		one, two     int // stanzas received by alice/one (available) and alice/two (unavailable)
		routed       []string
	}{
		{"available to bare", `<presence from='c@remote.example/r' to='alice@example.com'/>`, 1, 0, nil},
		{"unavailable to bare", `<presence type='unavailable' from='c@remote.example/r' to='alice@example.com'/>`, 1, 0, nil},
		{"to an available full JID", `<presence from='c@remote.example/r' to='alice@example.com/one'/>`, 1, 0, nil},
		{"to a bound unavailable full JID", `<presence from='c@remote.example/r' to='alice@example.com/two'/>`, 0, 1, nil},
		{"to an unbound full JID", `<presence from='c@remote.example/r' to='alice@example.com/gone'/>`, 0, 0, nil},
		{"error", `<presence type='error' from='c@remote.example' to='alice@example.com'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`, 1, 0, nil},
		{"invalid type", `<presence type='bogus' from='c@remote.example/r' to='alice@example.com'/>`, 0, 0, []string{"error alice@example.com->c@remote.example/r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			one := e.login("alice@example.com/one")
			two := e.bind("alice@example.com/two")
			e.receive(`<presence xmlns='jabber:client' ` + tc.stanza[len("<presence "):])
			if got := e.take(one); len(got) != tc.one {
				t.Errorf("alice/one got %q, want %d stanzas", summary(got), tc.one)
			}
			if got := e.take(two); len(got) != tc.two {
				t.Errorf("alice/two got %q, want %d stanzas", summary(got), tc.two)
			}
			routed := e.takeRouted()
			want(t, "routed", routed, tc.routed...)
			if len(routed) == 1 {
				if se := stanza.ParseError(routed[0]); se == nil || se.Condition != "bad-request" {
					t.Errorf("bounce %s, want bad-request", routed[0])
				}
			}
		})
	}
}

func TestOutboundErrors(t *testing.T) {
	for _, tc := range []struct {
		name, stanza string
		condition    string
	}{
		{"invalid type", `<presence type='bogus'/>`, "bad-request"},
		{"invalid type with to", `<presence type='bogus' to='bob@example.com'/>`, "bad-request"},
		{"subscription without to", `<presence type='subscribe'/>`, "bad-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.login("alice@example.com/a")
			e.send(a, tc.stanza)
			got := e.take(a)
			if len(got) != 1 || got[0].Get("type") != "error" || got[0].Get("to") != "alice@example.com/a" {
				t.Fatalf("got %q, want one error to the sender", summary(got))
			}
			if se := stanza.ParseError(got[0]); se == nil || se.Condition != tc.condition {
				t.Errorf("got %s, want %s", got[0], tc.condition)
			}
			want(t, "routed", e.takeRouted())
			if a.Presence() == nil {
				t.Error("an invalid presence made the session unavailable")
			}
		})
	}
}

func TestOutboundProbeAndError(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice@example.com/a")
	e.send(a, `<presence type='probe' to='c@remote.example'/>`)
	e.send(a, `<presence type='error' to='c@remote.example/r'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`)
	want(t, "routed", e.takeRouted(),
		"probe alice@example.com->c@remote.example", // on behalf of the account
		"error alice@example.com/a->c@remote.example/r")
}

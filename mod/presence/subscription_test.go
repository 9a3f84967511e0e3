package presence_test

import (
	"fmt"
	"strings"
	"testing"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/stanza"
)

// appendixStates are the states of RFC 6121 Appendix A.1, in the tables'
// order, as (subscription, pending out, pending in).
var appendixStates = []struct {
	name    string
	sub     roster.Subscription
	out, in bool
}{
	{"None", roster.None, false, false},
	{"None + Pending Out", roster.None, true, false},
	{"None + Pending In", roster.None, false, true},
	{"None + Pending Out+In", roster.None, true, true},
	{"To", roster.To, false, false},
	{"To + Pending In", roster.To, false, true},
	{"From", roster.From, false, false},
	{"From + Pending Out", roster.From, true, false},
	{"Both", roster.Both, false, false},
}

func stateName(it roster.Item) string {
	name := map[roster.Subscription]string{roster.None: "None", roster.To: "To", roster.From: "From", roster.Both: "Both"}[it.Subscription]
	switch out, in := it.Ask, it.PendingIn != nil; {
	case out && in:
		return name + " + Pending Out+In"
	case out:
		return name + " + Pending Out"
	case in:
		return name + " + Pending In"
	}
	return name
}

// A cell of the tables below: "no" (not routed or delivered, no change),
// "yes" (routed or delivered, no change), "yes: <state>" (routed or
// delivered, new state), "pre" (not routed, pre-approval recorded, §3.4),
// "auto" (not delivered, answered with subscribed, §3.1.3).
type column struct {
	typ   string
	cells [9]string
}

const contact = "contact@remote.example"

// TestOutboundSubscriptionStates runs every outbound subscription stanza
// in every state through the module: what is routed to the contact, the
// user's new state, and the roster push (RFC 6121 Appendix A.2).
func TestOutboundSubscriptionStates(t *testing.T) {
	for _, col := range []column{
		{"subscribe", [9]string{"yes: None + Pending Out", "yes", "yes: None + Pending Out+In", "yes", "yes", "yes", "yes: From + Pending Out", "yes", "yes"}},
		{"unsubscribe", [9]string{"yes", "yes: None", "yes", "yes: None + Pending In", "yes: None", "yes: None + Pending In", "yes", "yes: From", "yes: From"}},
		{"subscribed", [9]string{"pre", "pre", "yes: From", "yes: From + Pending Out", "pre", "yes: Both", "no", "no", "no"}},
		{"unsubscribed", [9]string{"no", "no", "yes: None", "yes: None + Pending Out", "no", "yes: To", "yes: None", "yes: None + Pending Out", "yes: To"}},
	} {
		for i, st := range appendixStates {
			cell := col.cells[i]
			t.Run(col.typ+" in "+st.name, func(t *testing.T) {
				e := newEnv(t)
				e.setItem("alice@example.com", contact, st.sub, st.out, st.in, false)
				s := e.login("alice@example.com/a")
				e.send(s, fmt.Sprintf(`<presence type='%s' to='%s' id='x1'><status>please</status></presence>`, col.typ, contact))

				var routed []*stanza.Element
				for _, r := range e.takeRouted() {
					if r.Get("type") == col.typ {
						routed = append(routed, r)
					}
				}
				it := e.item("alice@example.com", contact)
				wantRoute, wantState, pre := cellMeaning(cell, st.name)
				if wantRoute {
					if len(routed) != 1 {
						t.Fatalf("routed %q, want one %s", summary(routed), col.typ)
					}
					r := routed[0]
					if r.Get("from") != "alice@example.com" || r.Get("to") != contact || r.Get("id") != "x1" || r.ChildText("", "status") != "please" {
						t.Errorf("routed %s, want it stamped from the bare JID with id and status kept", r)
					}
				} else if len(routed) != 0 {
					t.Fatalf("routed %q, want nothing", summary(routed))
				}
				if got := stateName(it); got != wantState {
					t.Errorf("state %q, want %q", got, wantState)
				}
				if it.Approved != pre {
					t.Errorf("approved = %v, want %v", it.Approved, pre)
				}
				pushes := 0
				for _, x := range e.take(s) {
					if x.Name.Local == "iq" {
						pushes++
					}
				}
				if changed := visible(wantState) != visible(st.name) || pre; (pushes == 1) != changed {
					t.Errorf("%d pushes for a change from %q to %q (pre-approval %v)", pushes, st.name, wantState, pre)
				}
			})
		}
	}
}

// TestInboundSubscriptionStates runs every inbound subscription stanza in
// every state through the module: whether it reaches the user, the user's
// new state, and the automatic answers (RFC 6121 Appendix A.3).
func TestInboundSubscriptionStates(t *testing.T) {
	for _, col := range []column{
		{"subscribe", [9]string{"yes: None + Pending In", "yes: None + Pending Out+In", "no", "no", "yes: To + Pending In", "no", "auto", "auto", "auto"}},
		{"unsubscribe", [9]string{"no", "no", "yes: None", "yes: None + Pending Out", "no", "yes: To", "yes: None", "yes: None + Pending Out", "yes: To"}},
		{"subscribed", [9]string{"no", "yes: To", "no", "yes: To + Pending In", "no", "no", "no", "yes: Both", "no"}},
		{"unsubscribed", [9]string{"no", "yes: None", "no", "yes: None + Pending In", "yes: None", "yes: None + Pending In", "no", "yes: From", "yes: From"}},
	} {
		for i, st := range appendixStates {
			cell := col.cells[i]
			t.Run(col.typ+" in "+st.name, func(t *testing.T) {
				e := newEnv(t)
				e.setItem("alice@example.com", contact, st.sub, st.out, st.in, false)
				s := e.login("alice@example.com/a")
				e.receive(fmt.Sprintf(`<presence xmlns='jabber:client' type='%s' from='%s' to='alice@example.com'/>`, col.typ, contact))

				var delivered []*stanza.Element
				pushes := 0
				for _, x := range e.take(s) {
					switch {
					case x.Name.Local == "iq":
						pushes++
					case x.Get("type") == col.typ:
						delivered = append(delivered, x)
					}
				}
				var answers []string
				for _, r := range e.takeRouted() {
					if r.Get("type") == "subscribed" {
						answers = append(answers, r.Get("from")+"->"+r.Get("to"))
					}
				}
				wantDeliver, wantState, _ := cellMeaning(cell, st.name)
				if got := len(delivered); got != map[bool]int{true: 1, false: 0}[wantDeliver] {
					t.Errorf("delivered %q, want delivery %v", summary(delivered), wantDeliver)
				}
				wantAnswers := []string(nil)
				if cell == "auto" {
					wantAnswers = []string{"alice@example.com->" + contact}
				}
				if fmt.Sprint(answers) != fmt.Sprint(wantAnswers) {
					t.Errorf("answered %q, want %q", answers, wantAnswers)
				}
				if got := stateName(e.item("alice@example.com", contact)); got != wantState {
					t.Errorf("state %q, want %q", got, wantState)
				}
				if changed := visible(wantState) != visible(st.name); (pushes == 1) != changed {
					t.Errorf("%d pushes for a change from %q to %q", pushes, st.name, wantState)
				}
			})
		}
	}
}

// visible returns the part of a state clients see: pending in is not
// shown, so changes of it alone are not pushed.
func visible(name string) string {
	return strings.NewReplacer(" + Pending In", "", "+In", "").Replace(name)
}

// cellMeaning reads a table cell in state cur.
func cellMeaning(cell, cur string) (yes bool, next string, pre bool) {
	switch {
	case cell == "pre":
		return false, cur, true
	case cell == "no", cell == "auto":
		return false, cur, false
	case cell == "yes":
		return true, cur, false
	}
	return true, strings.TrimPrefix(cell, "yes: "), false
}

// TestSubscriptionHandshake follows RFC 6121 §3.1 between two local
// accounts: request, approval, and the presence that follows.
func TestSubscriptionHandshake(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice@example.com/a")
	b := e.login("bob@example.com/b")
	b2 := e.bind("bob@example.com/offline") // bound, not available, not interested

	e.send(a, `<presence type='subscribe' to='bob@example.com/whatever'/>`)
	want(t, "alice after subscribe", e.take(a), "push bob@example.com none ask ->alice@example.com/a")
	want(t, "bob after alice's subscribe", e.take(b), "subscribe alice@example.com->bob@example.com")
	want(t, "bob's unavailable resource", e.take(b2))
	if it := e.item("bob@example.com", "alice@example.com"); it.InRoster() || it.PendingIn == nil {
		t.Errorf("bob's item for alice: InRoster %v, PendingIn %v; want a hidden pending request", it.InRoster(), it.PendingIn)
	}

	// A second request is not delivered again (A.3.1).
	e.send(a, `<presence type='subscribe' to='bob@example.com'/>`)
	want(t, "bob after a repeated subscribe", e.take(b))
	e.take(a)

	e.send(b, `<presence type='subscribed' to='alice@example.com'/>`)
	want(t, "bob after approving", e.take(b), "push alice@example.com from ->bob@example.com/b")
	want(t, "alice after bob's approval", e.take(a),
		"push bob@example.com to ->alice@example.com/a",
		"subscribed bob@example.com->alice@example.com",
		"available bob@example.com/b->alice@example.com")
	if it := e.item("alice@example.com", "bob@example.com"); it.Subscription != roster.To || it.Ask {
		t.Errorf("alice's item for bob: %s, want To", stateName(it))
	}
	if it := e.item("bob@example.com", "alice@example.com"); it.Subscription != roster.From || it.PendingIn != nil || !it.InRoster() {
		t.Errorf("bob's item for alice: %s (in roster %v), want From", stateName(it), it.InRoster())
	}

	// Bob's presence changes now reach alice; alice's do not reach bob.
	e.send(b, `<presence><show>away</show></presence>`)
	want(t, "alice after bob's update", e.take(a), "available bob@example.com/b->alice@example.com")
	want(t, "bob after his update", e.take(b), "available bob@example.com/b->bob@example.com/b")
	e.send(a, `<presence><show>dnd</show></presence>`)
	want(t, "bob after alice's update", e.take(b))
	want(t, "alice after her update", e.take(a), "available alice@example.com/a->alice@example.com/a")

	// Alice unsubscribes: bob is told, and alice gets bob's unavailable.
	e.send(a, `<presence type='unsubscribe' to='bob@example.com'/>`)
	want(t, "alice after unsubscribe", e.take(a),
		"push bob@example.com none ->alice@example.com/a",
		"unavailable bob@example.com/b->alice@example.com")
	want(t, "bob after alice's unsubscribe", e.take(b),
		"push alice@example.com none ->bob@example.com/b",
		"unsubscribe alice@example.com->bob@example.com")
}

// TestDenyAndCancel follows RFC 6121 §3.2: a request denied, and a
// subscription cancelled by the contact.
func TestDenyAndCancel(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice@example.com/a")
	b := e.login("bob@example.com/b")
	e.send(a, `<presence type='subscribe' to='bob@example.com'/>`)
	e.take(a)
	e.take(b)

	e.send(b, `<presence type='unsubscribed' to='alice@example.com'/>`)
	want(t, "bob after denying", e.take(b)) // the hidden request just goes away
	want(t, "alice after the denial", e.take(a),
		"push bob@example.com none ->alice@example.com/a",
		"unsubscribed bob@example.com->alice@example.com")
	if items, _ := roster.Items(t.Context(), e.host, jid.MustParse("bob@example.com")); len(items) != 0 {
		t.Errorf("bob's roster keeps %d items after denying a stranger", len(items))
	}

	// Now a full subscription, cancelled by bob.
	e.send(a, `<presence type='subscribe' to='bob@example.com'/>`)
	e.send(b, `<presence type='subscribed' to='alice@example.com'/>`)
	e.take(a)
	e.take(b)
	e.send(b, `<presence type='unsubscribed' to='alice@example.com'/>`)
	want(t, "bob after cancelling", e.take(b), "push alice@example.com none ->bob@example.com/b")
	want(t, "alice after the cancellation", e.take(a),
		"push bob@example.com none ->alice@example.com/a",
		"unsubscribed bob@example.com->alice@example.com",
		"unavailable bob@example.com/b->alice@example.com")
}

// TestPreApproval follows RFC 6121 §3.4.
func TestPreApproval(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice@example.com/a")
	b := e.login("bob@example.com/b")

	e.send(b, `<presence type='subscribed' to='alice@example.com'/>`)
	want(t, "bob after pre-approving", e.take(b), "push alice@example.com none approved ->bob@example.com/b")
	want(t, "routed by the pre-approval", e.takeRouted())
	want(t, "alice after bob's pre-approval", e.take(a))

	// Pre-approving twice changes nothing.
	e.send(b, `<presence type='subscribed' to='alice@example.com'/>`)
	want(t, "bob after pre-approving again", e.take(b))

	e.send(a, `<presence type='subscribe' to='bob@example.com'/>`)
	want(t, "bob after alice's request", e.take(b), "push alice@example.com from ->bob@example.com/b")
	want(t, "alice after her request", e.take(a),
		"push bob@example.com none ask ->alice@example.com/a",
		"push bob@example.com to ->alice@example.com/a",
		"subscribed bob@example.com->alice@example.com",
		"available bob@example.com/b->alice@example.com")
	if it := e.item("bob@example.com", "alice@example.com"); it.Approved || it.Subscription != roster.From {
		t.Errorf("bob's item after the request: %s approved %v, want From without approval", stateName(it), it.Approved)
	}
}

func TestPreApprovalCancelled(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice@example.com/a")
	b := e.login("bob@example.com/b")
	e.send(b, `<presence type='subscribed' to='alice@example.com'/>`)
	e.take(b)
	e.send(b, `<presence type='unsubscribed' to='alice@example.com'/>`)
	want(t, "bob after cancelling the pre-approval", e.take(b), "push alice@example.com none ->bob@example.com/b")
	want(t, "routed", e.takeRouted())

	e.send(a, `<presence type='subscribe' to='bob@example.com'/>`)
	want(t, "bob after alice's request", e.take(b), "subscribe alice@example.com->bob@example.com")
}

// TestPendingRequestRedelivered checks RFC 6121 §3.1.3: a request to an
// offline contact is kept and delivered at each initial presence until
// answered.
func TestPendingRequestRedelivered(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice@example.com/a")
	e.send(a, `<presence type='subscribe' to='bob@example.com'><status>it is alice</status></presence>`)

	b := e.bind("bob@example.com/b")
	e.fetchRoster(b)
	want(t, "bob's roster", e.take(b)) // the request is not a roster item
	e.send(b, `<presence/>`)
	got := e.take(b)
	want(t, "bob at initial presence", got, "available bob@example.com/b->bob@example.com/b", "subscribe alice@example.com->bob@example.com")
	if len(got) == 2 && got[1].ChildText("", "status") != "it is alice" {
		t.Errorf("redelivered %s without its status", got[1])
	}
	// A presence update is not initial presence.
	e.send(b, `<presence><show>away</show></presence>`)
	want(t, "bob after an update", e.take(b), "available bob@example.com/b->bob@example.com/b")

	// Another resource gets it at its own initial presence.
	b2 := e.bind("bob@example.com/b2")
	e.send(b2, `<presence/>`)
	want(t, "bob's second resource", e.take(b2),
		"available bob@example.com/b2->bob@example.com/b2",
		"available bob@example.com/b->bob@example.com/b2",
		"subscribe alice@example.com->bob@example.com")

	// Once answered, it is not redelivered.
	e.send(b, `<presence type='subscribed' to='alice@example.com'/>`)
	b3 := e.bind("bob@example.com/b3")
	e.take(b3)
	e.send(b3, `<presence/>`)
	for _, x := range e.take(b3) {
		if x.Get("type") == "subscribe" {
			t.Errorf("answered request redelivered: %s", x)
		}
	}
}

func TestSubscribeToMissingAccount(t *testing.T) {
	e := newEnv(t)
	a := e.login("alice@example.com/a")
	e.send(a, `<presence type='subscribe' to='nobody@example.com'/>`)
	want(t, "alice", e.take(a),
		"push nobody@example.com none ask ->alice@example.com/a",
		"push nobody@example.com none ->alice@example.com/a",
		"unsubscribed nobody@example.com->alice@example.com")
}

// TestRosterRemoveUnsubscribes checks RFC 6121 §2.5.2 end to end: removing
// a contact with a mutual subscription ends both subscriptions at the
// contact.
func TestRosterRemoveUnsubscribes(t *testing.T) {
	e := newEnv(t)
	e.setItem("alice@example.com", "bob@example.com", roster.Both, false, false, false)
	e.setItem("bob@example.com", "alice@example.com", roster.Both, false, false, false)
	a := e.login("alice@example.com/a")
	b := e.login("bob@example.com/b")
	e.take(a) // bob's initial presence

	if err := e.rosterSet(a, `<item jid='bob@example.com' subscription='remove'/>`); err != nil {
		t.Fatal(err)
	}
	want(t, "alice", e.take(a),
		"push bob@example.com remove ->alice@example.com/a",
		"unavailable bob@example.com/b->alice@example.com")
	want(t, "bob", e.take(b),
		"push alice@example.com to ->bob@example.com/b",
		"unsubscribe alice@example.com->bob@example.com",
		"push alice@example.com none ->bob@example.com/b",
		"unsubscribed alice@example.com->bob@example.com",
		"unavailable alice@example.com/a->bob@example.com")
	if it := e.item("bob@example.com", "alice@example.com"); it.Subscription != roster.None {
		t.Errorf("bob's item for alice: %s, want None", stateName(it))
	}
}

// TestRosterFull checks that a full roster refuses new items created by
// subscription stanzas, on both sides.
func TestRosterFull(t *testing.T) {
	const limit = 3
	e := newEnv(t, func(c *roster.Config) { c.MaxItems = limit })
	for i := range limit {
		e.setItem("bob@example.com", fmt.Sprintf("c%d@example.com", i), roster.None, false, false, false)
	}
	a := e.login("alice@example.com/a")
	b := e.login("bob@example.com/b")
	e.send(a, `<presence type='subscribe' to='bob@example.com'/>`)
	want(t, "bob", e.take(b))
	got := e.take(a)
	want(t, "alice", got, "push bob@example.com none ask ->alice@example.com/a", "error bob@example.com->alice@example.com")
	if len(got) == 2 {
		if se := stanza.ParseError(got[1]); got[1].Get("type") != "error" || se == nil || se.Condition != "resource-constraint" {
			t.Errorf("got %s, want a resource-constraint error", got[1])
		}
	}
	e.takeRouted()
	e.send(b, `<presence type='subscribe' to='carol@example.com'/>`)
	got = e.take(b)
	if len(got) != 1 || got[0].Get("type") != "error" {
		t.Fatalf("bob got %q, want an error", summary(got))
	}
	if se := stanza.ParseError(got[0]); se == nil || se.Condition != "not-allowed" {
		t.Errorf("got %s, want not-allowed", got[0])
	}
	want(t, "routed", e.takeRouted())
}

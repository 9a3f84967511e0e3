package presence

import (
	"testing"

	"hearth/mod/roster"
)

// The nine states of RFC 6121 Appendix A.1, by the names the tables use.
var states = map[string]state{
	"None":                  {sub: roster.None},
	"None + Pending Out":    {sub: roster.None, out: true},
	"None + Pending In":     {sub: roster.None, in: true},
	"None + Pending Out+In": {sub: roster.None, out: true, in: true},
	"To":                    {sub: roster.To},
	"To + Pending In":       {sub: roster.To, in: true},
	"From":                  {sub: roster.From},
	"From + Pending Out":    {sub: roster.From, out: true},
	"Both":                  {sub: roster.Both},
}

// row is one line of an Appendix A table: the existing state, whether the
// stanza is routed (A.2) or delivered (A.3), and the new state ("" for "no
// state change").
type row struct {
	existing string
	yes      bool
	next     string
}

// check runs fn over every row of table, which must cover the nine states.
func check(t *testing.T, name string, table []row, fn func(state) (state, bool)) {
	t.Helper()
	if len(table) != len(states) {
		t.Fatalf("%s: table has %d rows, want %d", name, len(table), len(states))
	}
	for _, r := range table {
		cur, ok := states[r.existing]
		if !ok {
			t.Fatalf("%s: unknown state %q", name, r.existing)
		}
		want := cur
		if r.next != "" {
			want = states[r.next]
		}
		got, yes := fn(cur)
		if yes != r.yes || got != want {
			t.Errorf("%s in %q: got (%v, %q), want (%v, %q)", name, r.existing, yes, got, r.yes, want)
		}
		if got.String() != want.String() {
			t.Errorf("%s: state names %q and %q differ", name, got, want)
		}
	}
}

// TestAppendixA2 checks the outbound tables (processing at the user's
// server of what the user sends).
func TestAppendixA2(t *testing.T) {
	// A.2.1: subscribe, always routed.
	check(t, "outbound subscribe", []row{
		{"None", true, "None + Pending Out"},
		{"None + Pending Out", true, ""},
		{"None + Pending In", true, "None + Pending Out+In"},
		{"None + Pending Out+In", true, ""},
		{"To", true, ""},
		{"To + Pending In", true, ""},
		{"From", true, "From + Pending Out"},
		{"From + Pending Out", true, ""},
		{"Both", true, ""},
	}, func(s state) (state, bool) { return outSubscribe(s), true })

	// A.2.2: unsubscribe, always routed.
	check(t, "outbound unsubscribe", []row{
		{"None", true, ""},
		{"None + Pending Out", true, "None"},
		{"None + Pending In", true, ""},
		{"None + Pending Out+In", true, "None + Pending In"},
		{"To", true, "None"},
		{"To + Pending In", true, "None + Pending In"},
		{"From", true, ""},
		{"From + Pending Out", true, "From"},
		{"Both", true, "From"},
	}, func(s state) (state, bool) { return outUnsubscribe(s), true })

	// A.2.3: subscribed. The "no *" rows are pre-approvals (§3.4).
	subscribed := []row{
		{"None", false, ""},
		{"None + Pending Out", false, ""},
		{"None + Pending In", true, "From"},
		{"None + Pending Out+In", true, "From + Pending Out"},
		{"To", false, ""},
		{"To + Pending In", true, "Both"},
		{"From", false, ""},
		{"From + Pending Out", false, ""},
		{"Both", false, ""},
	}
	check(t, "outbound subscribed", subscribed, func(s state) (state, bool) {
		next, route, _ := outSubscribed(s)
		return next, route
	})
	preApproval := map[string]bool{"None": true, "None + Pending Out": true, "To": true}
	for _, r := range subscribed {
		if _, _, pre := outSubscribed(states[r.existing]); pre != preApproval[r.existing] {
			t.Errorf("outbound subscribed in %q: pre-approval %v, want %v", r.existing, pre, preApproval[r.existing])
		}
	}

	// A.2.4: unsubscribed.
	check(t, "outbound unsubscribed", []row{
		{"None", false, ""},
		{"None + Pending Out", false, ""},
		{"None + Pending In", true, "None"},
		{"None + Pending Out+In", true, "None + Pending Out"},
		{"To", false, ""},
		{"To + Pending In", true, "To"},
		{"From", true, "None"},
		{"From + Pending Out", true, "None + Pending Out"},
		{"Both", true, "To"},
	}, outUnsubscribed)
}

// TestAppendixA3 checks the inbound tables (processing at the contact's
// server of what it receives).
func TestAppendixA3(t *testing.T) {
	// A.3.1: subscribe. The "no *" rows are answered automatically.
	subscribe := []row{
		{"None", true, "None + Pending In"},
		{"None + Pending Out", true, "None + Pending Out+In"},
		{"None + Pending In", false, ""},
		{"None + Pending Out+In", false, ""},
		{"To", true, "To + Pending In"},
		{"To + Pending In", false, ""},
		{"From", false, ""},
		{"From + Pending Out", false, ""},
		{"Both", false, ""},
	}
	check(t, "inbound subscribe", subscribe, func(s state) (state, bool) {
		next, deliver, _ := inSubscribe(s)
		return next, deliver
	})
	autoReply := map[string]bool{"From": true, "From + Pending Out": true, "Both": true}
	for _, r := range subscribe {
		if _, _, auto := inSubscribe(states[r.existing]); auto != autoReply[r.existing] {
			t.Errorf("inbound subscribe in %q: auto-reply %v, want %v", r.existing, auto, autoReply[r.existing])
		}
	}

	// A.3.2: unsubscribe.
	check(t, "inbound unsubscribe", []row{
		{"None", false, ""},
		{"None + Pending Out", false, ""},
		{"None + Pending In", true, "None"},
		{"None + Pending Out+In", true, "None + Pending Out"},
		{"To", false, ""},
		{"To + Pending In", true, "To"},
		{"From", true, "None"},
		{"From + Pending Out", true, "None + Pending Out"},
		{"Both", true, "To"},
	}, inUnsubscribe)

	// A.3.3: subscribed.
	check(t, "inbound subscribed", []row{
		{"None", false, ""},
		{"None + Pending Out", true, "To"},
		{"None + Pending In", false, ""},
		{"None + Pending Out+In", true, "To + Pending In"},
		{"To", false, ""},
		{"To + Pending In", false, ""},
		{"From", false, ""},
		{"From + Pending Out", true, "Both"},
		{"Both", false, ""},
	}, inSubscribed)

	// A.3.4: unsubscribed.
	check(t, "inbound unsubscribed", []row{
		{"None", false, ""},
		{"None + Pending Out", true, "None"},
		{"None + Pending In", false, ""},
		{"None + Pending Out+In", true, "None + Pending In"},
		{"To", true, "None"},
		{"To + Pending In", true, "None + Pending In"},
		{"From", false, ""},
		{"From + Pending Out", true, "From"},
		{"Both", true, "From"},
	}, inUnsubscribed)
}

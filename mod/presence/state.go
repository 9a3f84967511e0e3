package presence

import "hearth/mod/roster"

// state is a subscription state of RFC 6121 Appendix A.1: the established
// subscription plus "Pending Out" (out) and "Pending In" (in). The
// transition functions below implement the tables of Appendix A.2
// (outbound stanzas, processed at the sender's server) and A.3 (inbound
// stanzas, processed at the recipient's), seen from the roster owner.
type state struct {
	sub     roster.Subscription
	out, in bool
}

// stateOf returns the subscription state recorded in it.
func stateOf(it *roster.Item) state {
	return state{sub: it.Subscription, out: it.Ask, in: it.PendingIn != nil}
}

// String returns the state's name as Appendix A.1 writes it.
func (s state) String() string {
	name := map[roster.Subscription]string{roster.None: "None", roster.To: "To", roster.From: "From", roster.Both: "Both"}[s.sub]
	switch {
	case s.out && s.in:
		return name + " + Pending Out+In"
	case s.out:
		return name + " + Pending Out"
	case s.in:
		return name + " + Pending In"
	}
	return name
}

// outSubscribe is A.2.1: the user's subscribe is always routed; the user
// is now pending out unless already subscribed to the contact.
func outSubscribe(s state) state {
	if !s.sub.HasTo() {
		s.out = true
	}
	return s
}

// outUnsubscribe is A.2.2: the user's unsubscribe is always routed; it
// ends the user's subscription to the contact and any pending request.
func outUnsubscribe(s state) state {
	s.sub &^= roster.To
	s.out = false
	return s
}

// outSubscribed is A.2.3: the user's approval is routed only when the
// contact's request is pending in, which then becomes a subscription
// from the contact. Without a pending request, and unless the contact is
// already subscribed, it is a pre-approval (RFC 6121 §3.4): never routed,
// recorded instead.
func outSubscribed(s state) (next state, route, preApprove bool) {
	if s.in {
		s.in = false
		s.sub |= roster.From
		return s, true, false
	}
	return s, false, !s.sub.HasFrom()
}

// outUnsubscribed is A.2.4: the user's denial or cancellation is routed
// only when the contact has a pending request or a subscription, which it
// ends.
func outUnsubscribed(s state) (next state, route bool) {
	if !s.in && !s.sub.HasFrom() {
		return s, false
	}
	s.in = false
	s.sub &^= roster.From
	return s, true
}

// inSubscribe is A.3.1: a request from a contact already subscribed to
// the user is answered automatically (the "no *" rows); a repeated request
// is not delivered again; otherwise the request becomes pending in and is
// delivered.
func inSubscribe(s state) (next state, deliver, autoReply bool) {
	switch {
	case s.sub.HasFrom():
		return s, false, true
	case s.in:
		return s, false, false
	}
	s.in = true
	return s, true, false
}

// inUnsubscribe is A.3.2: the contact's unsubscribe is delivered, and ends
// its subscription or pending request, only when it has one.
func inUnsubscribe(s state) (next state, deliver bool) {
	if !s.in && !s.sub.HasFrom() {
		return s, false
	}
	s.in = false
	s.sub &^= roster.From
	return s, true
}

// inSubscribed is A.3.3: the contact's approval is delivered, and becomes
// the user's subscription, only when the user asked for it.
func inSubscribed(s state) (next state, deliver bool) {
	if !s.out {
		return s, false
	}
	s.out = false
	s.sub |= roster.To
	return s, true
}

// inUnsubscribed is A.3.4: the contact's denial or cancellation is
// delivered, and ends the user's subscription or pending request, only
// when the user has one.
func inUnsubscribed(s state) (next state, deliver bool) {
	if !s.out && !s.sub.HasTo() {
		return s, false
	}
	s.out = false
	s.sub &^= roster.To
	return s, true
}

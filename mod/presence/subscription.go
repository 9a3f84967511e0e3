package presence

import (
	"context"
	"errors"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
)

// apply records next in it and reports whether anything changed. request
// is the subscribe stanza to keep when next becomes pending in.
func apply(it *roster.Item, next state, request *stanza.Element) bool {
	if stateOf(it) == next {
		return false
	}
	it.Subscription, it.Ask = next.sub, next.out
	switch {
	case !next.in:
		it.PendingIn = nil
	case it.PendingIn == nil:
		it.PendingIn = request
	}
	return true
}

// errRosterFull is what a user whose roster is full gets for a
// subscription stanza that would add an item.
var errRosterFull = &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "roster size limit reached"}

// outboundSubscription processes a subscription stanza of type typ that
// session s sends to contact (a bare JID): it updates the user's roster
// as Appendix A.2 says, stamps the user's bare JID as 'from' and the
// contact's as 'to' (RFC 6121 §3.1.2), and routes the stanza when the
// table says so.
func (p *handler) outboundSubscription(ctx context.Context, s module.Session, st *stanza.Element, typ string, contact jid.JID) error {
	user := s.JID().Bare()
	out := st.Copy().Set("from", user.String()).Set("to", contact.String())
	var (
		route, preApprove, hadFrom bool
		err                        error
	)
	switch typ {
	case typeSubscribe: // §3.1.2
		route = true
		_, err = roster.Update(ctx, p.h, user, contact, func(it *roster.Item) bool {
			return apply(it, outSubscribe(stateOf(it)), nil)
		})
	case typeUnsubscribe: // §3.3.2
		route = true
		_, err = roster.Update(ctx, p.h, user, contact, func(it *roster.Item) bool {
			return apply(it, outUnsubscribe(stateOf(it)), nil)
		})
	case typeSubscribed: // §3.1.5, §3.4.1
		_, err = roster.Update(ctx, p.h, user, contact, func(it *roster.Item) bool {
			var next state
			next, route, preApprove = outSubscribed(stateOf(it))
			changed := apply(it, next, nil)
			if route {
				// The approval consumed any pre-approval as well.
				changed = changed || it.Approved
				it.Approved = false
			}
			if preApprove && !it.Approved {
				it.Approved = true
				changed = true
			}
			return changed
		})
	case typeUnsubscribed: // §3.2.2, §3.4 (cancelling a pre-approval)
		_, err = roster.Update(ctx, p.h, user, contact, func(it *roster.Item) bool {
			hadFrom = it.Subscription.HasFrom()
			var next state
			next, route = outUnsubscribed(stateOf(it))
			changed := apply(it, next, nil)
			if it.Approved {
				it.Approved = false
				changed = true
			}
			return changed
		})
	}
	if errors.Is(err, roster.ErrFull) {
		s.Send(stanza.ErrorReply(st, errRosterFull))
		return nil
	}
	if err != nil {
		return err
	}
	if !route {
		return nil
	}
	p.route(ctx, out)
	switch {
	case typ == typeSubscribed:
		// §3.1.5: the new subscriber gets the user's current presence.
		p.sendCurrent(ctx, user, contact)
	case typ == typeUnsubscribed && hadFrom:
		// §3.2.2: the former subscriber learns the user is gone for it.
		p.sendUnavailable(ctx, user, contact)
	}
	return nil
}

// inboundSubscription processes a subscription stanza of type typ from
// contact to the local account owner (both bare JIDs), as Appendix A.3
// says: it updates owner's roster, then delivers the stanza or answers it.
func (p *handler) inboundSubscription(ctx context.Context, st *stanza.Element, typ string, contact, owner jid.JID) error {
	// Subscription stanzas are between bare JIDs (RFC 6121 §3.1.1); keep
	// and deliver them so whatever a peer stamped.
	in := st
	if st.Get("from") != contact.String() || st.Get("to") != owner.String() {
		in = st.Copy().Set("from", contact.String()).Set("to", owner.String())
	}
	var deliver, autoReply, hadFrom bool
	var err error
	switch typ {
	case typeSubscribe: // §3.1.3, §3.4.2
		_, err = roster.Update(ctx, p.h, owner, contact, func(it *roster.Item) bool {
			cur := stateOf(it)
			if it.Approved && !cur.sub.HasFrom() {
				// §3.4.2: a pre-approved request is approved at once.
				it.Approved = false
				it.Subscription |= roster.From
				autoReply = true
				return true
			}
			var next state
			next, deliver, autoReply = inSubscribe(cur)
			return apply(it, next, in)
		})
	case typeUnsubscribe: // §3.3.3
		_, err = roster.Update(ctx, p.h, owner, contact, func(it *roster.Item) bool {
			hadFrom = it.Subscription.HasFrom()
			var next state
			next, deliver = inUnsubscribe(stateOf(it))
			return apply(it, next, nil)
		})
	case typeSubscribed: // §3.1.6
		_, err = roster.Update(ctx, p.h, owner, contact, func(it *roster.Item) bool {
			var next state
			next, deliver = inSubscribed(stateOf(it))
			return apply(it, next, nil)
		})
	case typeUnsubscribed: // §3.2.3
		_, err = roster.Update(ctx, p.h, owner, contact, func(it *roster.Item) bool {
			var next state
			next, deliver = inUnsubscribed(stateOf(it))
			return apply(it, next, nil)
		})
	}
	if errors.Is(err, roster.ErrFull) {
		p.bounce(ctx, in, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "roster size limit reached"})
		return nil
	}
	if err != nil {
		return err
	}
	if autoReply {
		// §3.1.3: answered on the owner's behalf, followed by the owner's
		// current presence, which the requester is entitled to.
		p.route(ctx, presenceFrom(typeSubscribed, owner, contact))
		p.sendCurrent(ctx, owner, contact)
	}
	if !deliver {
		return nil
	}
	if typ == typeSubscribe {
		// §3.1.3: to the available resources now; the others get it with
		// their initial presence (see broadcast).
		for _, s := range p.available(owner) {
			s.Send(in)
		}
		return nil
	}
	// §3.1.6, §3.2.3, §3.3.3: to the interested resources, which also get
	// the roster push; available ones that never fetched the roster too.
	for _, s := range p.h.Sessions(owner) {
		if s.Presence() != nil || roster.Interested(s) {
			s.Send(in)
		}
	}
	if typ == typeUnsubscribe && hadFrom {
		// §3.3.3: the former subscriber learns the owner is gone for it.
		p.sendUnavailable(ctx, owner, contact)
	}
	return nil
}

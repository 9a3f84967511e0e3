package blocking

import (
	"context"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
)

// errBlocked is the error a user gets for a stanza to a JID the user
// blocked (XEP-0191 §3.3): not-acceptable with <blocked/>.
func errBlocked() *stanza.Error {
	return &stanza.Error{Type: stanza.Cancel, Condition: "not-acceptable", App: stanza.New(NSErrors, "blocked")}
}

// inbound runs on every stanza a local session sends: a stanza to a JID
// the user blocked is not routed (XEP-0191 §3.3). Messages and IQ requests
// are refused with errBlocked; presence (directed presence, subscription
// requests, probes) and errors and IQ results are dropped, as there is
// nothing the client could do about an error to them.
func (b *blocker) inbound(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	if to.Bare() == from.Bare() {
		return st, nil
	}
	l, err := b.list(ctx, from.Bare())
	if err != nil {
		return nil, err
	}
	if !l.blocks(to) {
		return st, nil
	}
	typ := st.Get("type")
	switch {
	case st.Name.Local == "presence", typ == stanza.ErrorType, st.Name.Local == "iq" && typ == stanza.Result:
		return nil, nil
	}
	// The router sends the error straight back to the sending session.
	return nil, errBlocked()
}

// deliver runs on every stanza addressed to a local account. A stanza from
// a JID the addressee blocked is handled as XEP-0191 §3.3 says, so that the
// user appears offline to it: presence (notifications, subscriptions,
// probes) and IQ replies are dropped without an error, messages and IQ
// requests refused with service-unavailable (errors are never answered).
//
// It also stops what the server itself sends on behalf of a local user to
// a JID that user blocked — presence broadcasts, answers to probes,
// subscription stanzas of roster changes — which never passes the inbound
// hook. Such stanzas are dropped (an error would come back to the user
// from the blocked JID, and be dropped here), except errors and IQ
// results: they are the server's replies to the blocked JID's own
// stanzas.
func (b *blocker) deliver(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	if from.IsZero() || from.Bare() == to.Bare() {
		return st, nil
	}
	l, err := b.list(ctx, to.Bare())
	if err != nil {
		return nil, err
	}
	typ := st.Get("type")
	isReply := typ == stanza.ErrorType || (st.Name.Local == "iq" && typ == stanza.Result)
	if l.blocks(from) {
		if st.Name.Local == "presence" || isReply {
			return nil, nil
		}
		return nil, stanza.NewError("service-unavailable")
	}
	if from.Local() == "" || isReply || !b.h.IsLocal(from.Domain()) {
		return st, nil
	}
	ob := b.blockerFor(from.Domain())
	if ob == nil {
		return st, nil
	}
	if _, ok := ob.exempt.Load(st); ok {
		return st, nil
	}
	ol, err := ob.list(ctx, from.Bare())
	if err != nil {
		return nil, err
	}
	if !ol.blocks(to) {
		return st, nil
	}
	return nil, nil
}

// announce tells the contacts matched by the changed items that may see
// the user's presence (their subscription is from or both) what the
// change means for them: unavailable presence from each available resource
// of the user after a block (XEP-0191 §3.3), the current presence of each
// available resource after an unblock (§3.4), unless now, the list after
// the change, still blocks them. Caller holds owner's lock, so the
// announcements of successive changes arrive in order.
//
// TODO(presence): entities that got directed presence from the user
// (RFC 6121 §4.6) are not told; mod/presence keeps that set to itself.
func (b *blocker) announce(ctx context.Context, owner jid.JID, changed []jid.JID, now *list, blocked bool) {
	var sessions []module.Session
	for _, s := range b.h.Sessions(owner) {
		if s.Presence() != nil {
			sessions = append(sessions, s)
		}
	}
	if len(sessions) == 0 {
		return // the contacts already see the user offline
	}
	items, err := roster.Items(ctx, b.h, owner)
	if err != nil {
		b.h.Logger().Error("loading roster for blocking presence failed", "err", err)
		return
	}
	for _, t := range presenceTargets(items, changed) {
		if !blocked && now.blocks(t) {
			continue
		}
		for _, s := range sessions {
			if blocked {
				p := stanza.New(stanza.NSClient, "presence", "type", "unavailable", "from", s.JID().String(), "to", t.String())
				// The user blocks t now: let this last presence through.
				b.exempt.Store(p, struct{}{})
				b.route(ctx, p)
				b.exempt.Delete(p)
				continue
			}
			if pres := s.Presence(); pres != nil {
				b.route(ctx, pres.Copy().Set("from", s.JID().String()).Set("to", t.String()))
			}
		}
	}
}

// presenceTargets returns the addresses, among the contacts of items
// subscribed to the user's presence, that the blocklist items changed
// cover: every such contact at a blocked domain, and for any other item
// the item itself when its bare JID is such a contact (a full JID item
// reaches only that resource).
func presenceTargets(items []roster.Item, changed []jid.JID) []jid.JID {
	var out []jid.JID
	seen := map[jid.JID]bool{}
	for _, it := range items {
		if !it.Subscription.HasFrom() {
			continue
		}
		for _, c := range changed {
			var t jid.JID
			switch {
			case c.IsBare() && c.Local() == "":
				if it.JID.Domain() == c.Domain() {
					t = it.JID
				}
			case it.JID == c.Bare():
				t = c
			}
			if !t.IsZero() && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// route routes a presence stanza the module generates; a failure is
// logged, the blocklist change stands.
func (b *blocker) route(ctx context.Context, st *stanza.Element) {
	if err := b.h.Route(ctx, st); err != nil {
		b.h.Logger().Warn("routing blocking presence failed", "to", st.Get("to"), "err", err)
	}
}

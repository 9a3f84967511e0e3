// Package presence implements presence subscriptions and presence exchange
// of RFC 6121 §3 and §4: the subscription state machine of Appendix A with
// pre-approval (§3.4), initial presence with probes, broadcast, presence
// updates, unavailable presence at logoff, directed presence, and the
// answer to probes. Roster items are kept by hearth/mod/roster, whose
// Update serialises each roster's changes and pushes them.
//
// The router hands this module every presence stanza a local session sends
// (outbound) and every presence stanza addressed to a local account
// (inbound, whoever sent it, local sessions included: the outbound side
// routes with Host.Route and the router brings local addressees back here).
// No lock of this package is held while routing.
package presence

import (
	"context"
	"sync"

	"hearth/jid"
	"hearth/mod/internal/keylock"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
)

// Presence types of RFC 6121 §4.7.1 ("" is available).
const (
	typeAvailable    = ""
	typeUnavailable  = "unavailable"
	typeProbe        = "probe"
	typeSubscribe    = "subscribe"
	typeSubscribed   = "subscribed"
	typeUnsubscribe  = "unsubscribe"
	typeUnsubscribed = "unsubscribed"
)

// Storage names.
const (
	// MapName is the Map where the last unavailable presence of each
	// account is kept (key lastUnavailableKey), the answer to probes while
	// no resource is available (RFC 6121 §4.3.2).
	MapName            = "presence"
	lastUnavailableKey = "unavailable"
)

// Module handles all presence of a virtual host. It has no settings.
var Module = module.New("presence", struct{}{}, start).WithRequires("roster")

func start(h *module.Host, _ struct{}) error {
	p := &handler{h: h, saved: map[jid.JID]string{}}
	h.HandlePresence(p.outbound, p.inbound)
	h.OnSessionClosed(p.sessionClosed)
	h.OnUserDeleted(p.userDeleted)
	return nil
}

// handler is the module on one virtual host.
type handler struct {
	h *module.Host

	// saved is the last unavailable presence this process stored for each
	// account (as stored), so that a logout that would store the same
	// again, as most do (a plain <presence type='unavailable'/>), skips
	// the write. Only this module writes that key; savedLocks orders each
	// account's check-and-store.
	savedMu    sync.Mutex
	saved      map[jid.JID]string
	savedLocks keylock.Locks
}

// outbound processes presence sent by the local session s (RFC 6121 §3.1.2,
// §3.2.2, §3.3.2, §3.4, §4.2-§4.6). p's 'from' is s's full JID; to is
// zero for a broadcast.
func (p *handler) outbound(ctx context.Context, s module.Session, st *stanza.Element, to jid.JID) {
	switch typ := st.Get("type"); typ {
	case typeAvailable, typeUnavailable:
		if to.IsZero() {
			p.broadcast(ctx, s, st, typ)
			return
		}
		p.directed(ctx, s, st, to, typ)
	case typeSubscribe, typeSubscribed, typeUnsubscribe, typeUnsubscribed:
		if to.IsZero() {
			s.Send(stanza.ErrorReply(st, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "subscription presence without 'to'"}))
			return
		}
		if err := p.outboundSubscription(ctx, s, st, typ, to.Bare()); err != nil {
			p.h.Logger().Error("outbound subscription failed", "type", typ, "err", err)
			s.Send(stanza.ErrorReply(st, stanza.NewError("internal-server-error")))
		}
	case typeProbe:
		// RFC 6121 §4.3.1: probes are sent on behalf of the account, from
		// its bare JID; the contact's server decides what to reveal.
		if !to.IsZero() {
			p.route(ctx, st.Copy().Set("from", s.JID().Bare().String()))
		}
	case stanza.ErrorType:
		if !to.IsZero() {
			p.route(ctx, st)
		}
	default:
		s.Send(stanza.ErrorReply(st, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid presence type"}))
	}
}

// inbound processes presence addressed to the local account to (bare or
// full) from anyone (RFC 6121 §3.1.3, §3.1.6, §3.2.3, §3.3.3, §4.3.2, §8.5).
func (p *handler) inbound(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	switch typ := st.Get("type"); typ {
	case typeAvailable, typeUnavailable, stanza.ErrorType:
		p.deliver(st, to)
	case typeProbe:
		if err := p.probe(ctx, st, from, to.Bare()); err != nil {
			p.h.Logger().Error("answering probe failed", "err", err)
		}
	case typeSubscribe, typeSubscribed, typeUnsubscribe, typeUnsubscribed:
		if from.IsZero() {
			return
		}
		if err := p.inboundSubscription(ctx, st, typ, from.Bare(), to.Bare()); err != nil {
			p.h.Logger().Error("inbound subscription failed", "type", typ, "err", err)
		}
	default:
		p.bounce(ctx, st, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid presence type"})
	}
}

// deliver hands st to the session to (a full JID) if it is bound, or to
// every available resource of to (a bare JID) (RFC 6121 §8.5.2.1.1,
// §8.5.3.1).
func (p *handler) deliver(st *stanza.Element, to jid.JID) {
	if !to.IsBare() {
		if s := p.h.Session(to); s != nil {
			s.Send(st)
		}
		return
	}
	for _, s := range p.available(to) {
		s.Send(st)
	}
}

// available returns the available sessions of the account bare.
func (p *handler) available(bare jid.JID) []module.Session {
	var out []module.Session
	for _, s := range p.h.Sessions(bare) {
		if s.Presence() != nil {
			out = append(out, s)
		}
	}
	return out
}

// route routes a stanza this module generates or forwards; a failure
// (an unparsable address) is logged and the stanza dropped.
func (p *handler) route(ctx context.Context, st *stanza.Element) {
	if err := p.h.Route(ctx, st); err != nil {
		p.h.Logger().Warn("routing presence failed", "to", st.Get("to"), "err", err)
	}
}

// bounce answers an inbound stanza with an error, never an error with one
// (RFC 6120 §8.3.1).
func (p *handler) bounce(ctx context.Context, st *stanza.Element, err *stanza.Error) {
	if st.Get("type") == stanza.ErrorType || st.Get("from") == "" || st.Get("to") == "" {
		return
	}
	p.route(ctx, stanza.ErrorReply(st, err))
}

// presenceFrom returns a new presence stanza of type typ from 'from' to
// 'to'.
func presenceFrom(typ string, from, to jid.JID) *stanza.Element {
	return stanza.New(stanza.NSClient, "presence", "type", typ, "from", from.String(), "to", to.String())
}

// sendCurrent routes the presence of each available resource of user to
// contact, as after an approval (RFC 6121 §3.1.5) or in answer to a probe
// (§4.3.2). It reports whether any resource was available.
func (p *handler) sendCurrent(ctx context.Context, user, contact jid.JID) bool {
	sent := false
	for _, s := range p.h.Sessions(user) {
		if pres := s.Presence(); pres != nil {
			p.route(ctx, pres.Copy().Set("from", s.JID().String()).Set("to", contact.String()))
			sent = true
		}
	}
	return sent
}

// sendUnavailable routes unavailable presence from each available resource
// of user to contact, when the contact lost its subscription to the user
// (RFC 6121 §3.2.2, §3.3.3).
func (p *handler) sendUnavailable(ctx context.Context, user, contact jid.JID) {
	for _, s := range p.available(user) {
		p.route(ctx, presenceFrom(typeUnavailable, s.JID(), contact))
	}
}

// items returns the roster of owner (hidden items included).
func (p *handler) items(ctx context.Context, owner jid.JID) ([]roster.Item, error) {
	return roster.Items(ctx, p.h, owner)
}

package router

import (
	"context"
	"errors"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// route delivers st from 'from' to 'to' by the rules of RFC 6120 §10 and
// RFC 6121 §8 (docs/routing.md is the table this code follows).
func (r *Router) route(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	vh := r.hosts[to.Domain()]
	if vh == nil {
		if svc := r.services[to.Domain()]; svc != nil {
			r.routeService(ctx, svc, st, from, to)
			return
		}
		r.routeRemote(ctx, st, from, to)
		return
	}
	switch st.Name.Local {
	case "iq":
		r.routeIQ(ctx, vh, st, from, to, true)
	case "message":
		r.routeMessage(ctx, vh, st, from, to)
	case "presence":
		r.routePresence(ctx, vh, st, from, to)
	}
}

// bounce answers st with err unless st is itself an error (RFC 6120 §8.3.1:
// never reply to an error with an error).
func (r *Router) bounce(ctx context.Context, st *stanza.Element, from jid.JID, err *stanza.Error) {
	if st.Get("type") == stanza.ErrorType || from.IsZero() {
		return
	}
	reply := stanza.ErrorReply(st, err)
	if reply.Get("from") == "" {
		reply.Set("from", from.DomainJID().String())
	}
	var replyFrom jid.JID
	if f, perr := jid.Parse(reply.Get("from")); perr == nil {
		replyFrom = f
	}
	r.deliverReply(ctx, reply, replyFrom, from)
}

// deliverReply routes a reply generated here to its addressee.
func (r *Router) deliverReply(ctx context.Context, reply *stanza.Element, from, to jid.JID) {
	if to.IsZero() {
		return
	}
	r.route(ctx, reply, from, to)
}

// routeIQ implements RFC 6120 §8.2.3 and RFC 6121 §8.5: requests to the
// server or to an account's bare JID go to the module registered for
// their payload; requests to a full JID go to that session; replies go to
// the session or to the SendIQ waiting for them. explicitTo is false when
// the client sent no 'to' (then the reply carries no 'from').
func (r *Router) routeIQ(ctx context.Context, vh *VHost, st *stanza.Element, from, to jid.JID, explicitTo bool) {
	typ := st.Get("type")
	switch typ {
	case stanza.Result, stanza.ErrorType:
		if !to.IsBare() && to.Local() != "" {
			if s := r.session(to); s != nil {
				s.Send(st)
				return
			}
		}
		r.takeReply(st)
		return
	case stanza.Get, stanza.Set:
	default:
		r.bounce(ctx, st, from, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid iq type"})
		return
	}
	if st.Get("id") == "" {
		r.bounce(ctx, st, from, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "iq without id"})
		return
	}
	// Checked before delivery to a full JID too: RFC 6120 §8.2.3 makes
	// such an IQ invalid wherever it goes, and docs/routing.md promises it.
	children := st.Elements()
	if len(children) != 1 {
		r.bounce(ctx, st, from, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "an iq get or set has exactly one child"})
		return
	}
	if !to.IsBare() {
		if s := r.session(to); s != nil {
			if st = r.deliverHooks(ctx, vh, st, from, to); st != nil {
				s.Send(st)
			}
			return
		}
		r.bounce(ctx, st, from, stanza.NewError("service-unavailable"))
		return
	}
	payload := children[0]
	target := module.ServerTarget
	if to.Local() != "" {
		target = module.AccountTarget
		if !r.accountExists(ctx, to) {
			r.bounce(ctx, st, from, stanza.NewError("service-unavailable"))
			return
		}
		if st = r.deliverHooks(ctx, vh, st, from, to); st == nil {
			return
		}
		payload = st.FirstElement()
	}
	fn, ok := vh.reg.IQ(target, module.IQKey{Type: typ, Payload: payload.Name})
	if !ok {
		r.bounce(ctx, st, from, stanza.NewError("service-unavailable"))
		return
	}
	req := module.IQRequest{Stanza: st, Payload: payload, From: from, To: to}
	if s := r.session(from); s != nil && vh.r.IsLocal(from.Domain()) {
		req.Session = s
	}
	res, err := fn(ctx, req)
	reply := r.iqReply(st, res, err)
	if explicitTo {
		reply.Set("from", to.String())
	} else {
		reply.Set("from", "")
	}
	reply.Set("to", from.String())
	r.deliverReply(ctx, reply, to, from)
}

// iqReply builds the reply to iq from a handler's result.
func (r *Router) iqReply(iq *stanza.Element, payload *stanza.Element, err error) *stanza.Element {
	if err == nil {
		return stanza.ResultReply(iq, payload)
	}
	return stanza.ErrorReply(iq, r.stanzaError(err))
}

// routeMessage implements RFC 6121 §8.5.2 and §8.5.3 for a message to a
// local domain.
func (r *Router) routeMessage(ctx context.Context, vh *VHost, st *stanza.Element, from, to jid.JID) {
	typ := st.Get("type")
	if typ == "" {
		typ = "normal"
	}
	if to.Local() == "" {
		// Messages to the server itself: no module handles them yet.
		if typ == "normal" || typ == "chat" {
			r.bounce(ctx, st, from, stanza.NewError("service-unavailable"))
		}
		return
	}
	var target *Session
	if !to.IsBare() {
		if target = r.session(to); target == nil {
			// §8.5.3.2.1: no such resource. Only chat may be treated as
			// if addressed to the bare JID; normal and groupchat MUST be
			// ignored or refused, and refusing tells the sender.
			switch typ {
			case "chat":
				// treated as if addressed to the bare JID
			case "normal", "groupchat":
				r.bounce(ctx, st, from, stanza.NewError("service-unavailable"))
				return
			default: // headline, error: silently ignored
				return
			}
		}
	}
	if target == nil {
		switch typ {
		case stanza.ErrorType:
			return // §8.5.2.1.1: errors to a bare JID are ignored
		case "groupchat":
			r.bounce(ctx, st, from, stanza.NewError("service-unavailable"))
			return
		}
		if !r.accountExists(ctx, to.Bare()) {
			if typ != "headline" {
				r.bounce(ctx, st, from, stanza.NewError("service-unavailable"))
			}
			return
		}
	}
	// The message will reach an existing account: the deliver hooks
	// (blocking, archiving) see it first.
	orig := st
	if st = r.deliverHooks(ctx, vh, st, from, to); st == nil {
		return
	}
	bare := to.Bare()
	if target != nil {
		target.Send(st)
		vh.reg.RunDelivered(ctx, st, bare, []module.Session{target})
		return
	}
	var delivered []module.Session
	for _, s := range r.sessions(bare) {
		if avail, prio := s.available(); avail && prio >= 0 {
			s.Send(st)
			delivered = append(delivered, s)
		}
	}
	if len(delivered) > 0 {
		vh.reg.RunDelivered(ctx, st, bare, delivered)
		return
	}
	if typ == "headline" {
		return // §8.5.2.2.1: headlines are not stored
	}
	if vh.reg.RunUndelivered(ctx, st, bare) {
		return
	}
	// Nothing stores messages for offline users: say so instead of
	// dropping the message silently.
	r.bounce(ctx, orig, from, stanza.NewError("service-unavailable"))
}

// deliverHooks runs the host's deliver hooks on a stanza addressed to an
// existing local account and returns the stanza to deliver, or nil when a
// hook stopped it (bounced to the sender when the hook said why).
func (r *Router) deliverHooks(ctx context.Context, vh *VHost, st *stanza.Element, from, to jid.JID) *stanza.Element {
	next, err := vh.reg.RunDeliver(ctx, st, from, to)
	if next == nil && err != nil {
		r.bounce(ctx, st, from, r.stanzaError(err))
	}
	return next
}

// stanzaError turns a hook's or handler's error into the stanza error to
// send: a *stanza.Error as is, anything else (logged) as
// internal-server-error.
func (r *Router) stanzaError(err error) *stanza.Error {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se
	}
	r.log.Error("stanza processing failed", "err", err)
	return stanza.NewError("internal-server-error")
}

// routePresence hands presence for a local account to the host's presence
// handler (RFC 6121 §3-§4), or delivers it directly when none is loaded.
func (r *Router) routePresence(ctx context.Context, vh *VHost, st *stanza.Element, from, to jid.JID) {
	if to.Local() == "" {
		return // presence to the server itself is ignored
	}
	if !r.accountExists(ctx, to.Bare()) {
		if t := st.Get("type"); t == "subscribe" || t == "probe" {
			// RFC 6121 §3.1.3, §4.3.2: tell the requester there is no such
			// contact, which ends its request or stale subscription. The
			// id lets the client match the answer to its request.
			p := stanza.New(stanza.NSClient, "presence", "type", "unsubscribed", "from", to.Bare().String(), "to", from.Bare().String())
			p.Set("id", st.Get("id"))
			r.route(ctx, p, to.Bare(), from.Bare())
		}
		return
	}
	if st = r.deliverHooks(ctx, vh, st, from, to); st == nil {
		return
	}
	if in := vh.reg.InboundPresence(); in != nil {
		in(ctx, st, from, to)
		return
	}
	r.DeliverPresence(st, to)
}

// DeliverPresence sends presence st to the session to (full JID) or to all
// available sessions of to (bare JID).
func (r *Router) DeliverPresence(st *stanza.Element, to jid.JID) {
	if !to.IsBare() {
		if s := r.session(to); s != nil {
			s.Send(st)
		}
		return
	}
	for _, s := range r.sessions(to) {
		if avail, _ := s.available(); avail {
			s.Send(st)
		}
	}
}

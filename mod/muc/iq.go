package muc

import (
	"context"
	"errors"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// forwardedIQTimeout is how long a room waits for the reply to an IQ it
// forwarded between occupants (XEP-0045 §7.7.1); at most
// Config.MaxForwardedIQs wait at once.
const forwardedIQTimeout = time.Minute

// forwardedIQ is an IQ the room forwarded to an occupant, waiting for its
// reply under the ID the room gave it.
type forwardedIQ struct {
	from   jid.JID // the requester's real JID
	id     string  // the requester's ID
	target jid.JID // the session the request went to
	nick   string  // the target's nick
	at     time.Time
}

// errNoReply is returned by IQ handlers that send their reply themselves.
var errNoReply = errors.New("muc: reply sent")

// validIQ checks the shape of an IQ request (RFC 6120 §8.2.3), which the
// router leaves to services.
func validIQ(st *stanza.Element) (*stanza.Element, *stanza.Error) {
	switch st.Get("type") {
	case stanza.Get, stanza.Set:
	default:
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid iq type"}
	}
	els := st.Elements()
	if st.Get("id") == "" || len(els) != 1 {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "an iq get or set has an id and exactly one child"}
	}
	return els[0], nil
}

// handleIQ processes an IQ to the room or an occupant. Caller holds r.mu.
func (r *room) handleIQ(ctx context.Context, ev event) {
	st := ev.st
	if t := st.Get("type"); t == stanza.Result || t == stanza.ErrorType {
		r.forwardReply(ev)
		return
	}
	p, serr := validIQ(st)
	if serr != nil {
		r.fail(st, serr)
		return
	}
	if !ev.to.IsBare() {
		r.occupantIQ(ev, p)
		return
	}
	res, err := r.roomIQ(ctx, ev, st.Get("type"), p)
	switch {
	case err == errNoReply:
	case err != nil:
		r.fail(st, r.stanzaError(err))
	default:
		r.send(stanza.ResultReply(st, res))
	}
}

// stanzaError turns a handler's error into the error to send.
func (r *room) stanzaError(err error) *stanza.Error {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se
	}
	r.s.h.Logger().Error("muc: request failed", "room", r.jid.String(), "err", err)
	return stanza.NewError("internal-server-error")
}

// roomIQ answers an IQ request to the room itself.
func (r *room) roomIQ(ctx context.Context, ev event, typ string, p *stanza.Element) (*stanza.Element, error) {
	switch {
	case typ == stanza.Get && p.Name == module.Name(NSDiscoInfo, "query") && p.Get("node") == nodeRoomUser:
		return r.reservedNickInfo(ev), nil
	case typ == stanza.Get && p.Name == module.Name(NSDiscoInfo, "query"):
		return r.discoInfo(p)
	case p.Name == module.Name(NSRegister, "query"):
		if typ == stanza.Get {
			return r.registerGet(ev)
		}
		return nil, r.registerSet(ctx, ev, p)
	case typ == stanza.Get && p.Name == module.Name(NSDiscoItems, "query"):
		if p.Get("node") != "" {
			return nil, stanza.NewError("item-not-found")
		}
		return stanza.New(NSDiscoItems, "query"), nil
	case typ == stanza.Get && p.Name == module.Name(NSPing, "ping"):
		return nil, nil
	case p.Name == module.Name(NSAdmin, "query"):
		if typ == stanza.Get {
			return r.adminGet(ev, p)
		}
		return nil, r.adminSet(ctx, ev, p)
	case p.Name == module.Name(NSOwner, "query"):
		if typ == stanza.Get {
			return r.ownerGet(ev, p)
		}
		return nil, r.ownerSet(ctx, ev, p)
	case p.Name == module.Name(NSMAM, "query"):
		if typ == stanza.Get {
			return mamForm(), nil
		}
		return nil, r.mamQuery(ctx, ev, p)
	case typ == stanza.Set && p.Name == module.Name(NSModerate, "moderate"):
		return nil, r.moderate(ctx, ev, p)
	}
	return nil, stanza.NewError("service-unavailable")
}

// occupantIQ answers a self-ping (XEP-0410) or forwards an IQ to another
// occupant (XEP-0045 §7.7.1).
func (r *room) occupantIQ(ev event, p *stanza.Element) {
	st := ev.st
	o := r.byReal[ev.from]
	if o == nil {
		// XEP-0410 §3: tells the client it is not joined.
		r.fail(st, &stanza.Error{Type: stanza.Cancel, Condition: "not-acceptable", Text: "not an occupant of the room"})
		return
	}
	target := r.byNick[ev.to.Resource()]
	if target == nil {
		r.fail(st, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such occupant"})
		return
	}
	if target == o && p.Name == module.Name(NSPing, "ping") {
		r.send(stanza.ResultReply(st, nil))
		return
	}
	t := now()
	for id, f := range r.forwarded {
		if t.Sub(f.at) > forwardedIQTimeout {
			delete(r.forwarded, id)
		}
	}
	if len(r.forwarded) >= r.s.cfg.MaxForwardedIQs {
		r.fail(st, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many pending requests"})
		return
	}
	id := stanza.NewID()
	to := target.last().jid
	r.forwarded[id] = forwardedIQ{from: ev.from, id: st.Get("id"), target: to, nick: target.nick, at: t}
	fwd := st.Copy().Set("from", r.occJID(o.nick).String()).Set("to", to.String()).Set("id", id)
	fwd.Name.Space = stanza.NSClient
	r.send(fwd)
}

// forwardReply returns the reply to a forwarded IQ to its requester.
func (r *room) forwardReply(ev event) {
	f, ok := r.forwarded[ev.st.Get("id")]
	if !ok || f.target != ev.from {
		return
	}
	delete(r.forwarded, ev.st.Get("id"))
	reply := ev.st.Copy().Set("from", r.occJID(f.nick).String()).Set("to", f.from.String()).Set("id", f.id)
	reply.Name.Space = stanza.NSClient
	r.send(reply)
}

// handleDomain answers stanzas to the service domain itself.
func (s *service) handleDomain(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	switch st.Name.Local {
	case "iq":
		if t := st.Get("type"); t == stanza.Result || t == stanza.ErrorType {
			return
		}
		p, serr := validIQ(st)
		if serr != nil {
			s.reply(ctx, stanza.ErrorReply(st, serr))
			return
		}
		var res *stanza.Element
		var err *stanza.Error
		switch {
		case st.Get("type") == stanza.Get && p.Name == module.Name(NSDiscoInfo, "query"):
			res, err = s.discoInfo(p)
		case st.Get("type") == stanza.Get && p.Name == module.Name(NSDiscoItems, "query"):
			res, err = s.discoItems(p)
		case st.Get("type") == stanza.Get && p.Name == module.Name(NSPing, "ping"):
		case st.Get("type") == stanza.Get && p.Name == module.Name(NSUnique, "unique"):
			// XEP-0045 §10.1.4: a room name nobody uses.
			res = stanza.New(NSUnique, "unique").AppendText(stanza.NewID())
		default:
			err = stanza.NewError("service-unavailable")
		}
		if err != nil {
			s.reply(ctx, stanza.ErrorReply(st, err))
			return
		}
		s.reply(ctx, stanza.ResultReply(st, res))
	case "message":
		if t := st.Get("type"); t != stanza.ErrorType && t != "groupchat" && t != "headline" {
			s.reply(ctx, stanza.ErrorReply(st, stanza.NewError("service-unavailable")))
		}
	}
}

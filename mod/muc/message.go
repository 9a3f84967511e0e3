package muc

import (
	"context"
	"time"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces of payloads that are not conversation content: a message
// carrying only these is relayed but neither archived nor kept as history.
const (
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsHints      = "urn:xmpp:hints"
	nsReceipts   = "urn:xmpp:receipts"
)

// handleMessage processes a message to the room or an occupant. Caller
// holds r.mu.
func (r *room) handleMessage(ctx context.Context, ev event) {
	st := ev.st
	o := r.byReal[ev.from]
	if st.Get("type") == stanza.ErrorType {
		// A groupchat message or a presence the room sent bounced: the
		// occupant's session is gone (XEP-0045 §7.2.x, XEP-0410: the room
		// forgets it, so that a self-ping tells the client to rejoin).
		if o != nil && isDeliveryFailure(st) {
			r.leave(ctx, o, ev.from, nil, statusError)
		}
		return
	}
	if !ev.to.IsBare() {
		r.privateMessage(ev, o)
		return
	}
	if st.Get("type") == "groupchat" {
		r.groupchat(ctx, ev, o)
		return
	}
	if x := st.Child(NSUser, "x"); x != nil && (x.Child(NSUser, "invite") != nil || x.Child(NSUser, "decline") != nil) {
		r.invitations(ctx, ev, o, x)
		return
	}
	if f := voiceForm(st); f != nil {
		r.voiceRequest(ev, o, f)
		return
	}
	if o == nil {
		r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "only occupants may send messages to the room"})
		return
	}
	r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "messages to the room are of type groupchat"})
}

// groupchat relays a message to every occupant (XEP-0045 §7.4) or changes
// the subject (§8.1).
func (r *room) groupchat(ctx context.Context, ev event, o *occupant) {
	st := ev.st
	switch {
	case o == nil:
		r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "only occupants may send messages to the room"})
		return
	case o.role == roleVisitor || o.role == roleNone:
		r.fail(st, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "visitors may not speak in a moderated room"})
		return
	}
	subject := st.Child(st.Name.Space, "subject")
	isSubject := subject != nil && st.Child(st.Name.Space, "body") == nil
	if isSubject && !r.cfg.ChangeSubject && o.role != roleModerator {
		r.fail(st, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only moderators may change the subject"})
		return
	}
	msg := cleanCopy(st)
	msg.Name.Space = stanza.NSClient
	msg.Set("from", r.occJID(o.nick).String()).Set("to", "")
	if msg.Get("id") == "" {
		msg.Set("id", stanza.NewID())
	}
	msg.Append(stanza.New(NSOccupantID, "occupant-id", "id", o.id))
	if isSubject {
		r.subject = msg
		r.saveIfPersistent(ctx)
		r.sendAll(func(_ *occupant, to jid.JID) *stanza.Element { return msg.Copy().Set("to", to.String()) })
		return
	}
	if ret := msg.Child(NSRetract, "retract"); ret != nil {
		r.selfRetract(ctx, o, ret)
	}
	sid := storage.NewItemID() // the key of the room archive: grows with time
	msg.Append(stanza.New(NSStanzaID, "stanza-id", "id", sid, "by", r.jid.String()))
	if isContent(msg) {
		t := now()
		if r.cfg.EnableLogging {
			r.s.archive(ctx, r.jid, sid, t, r.occJID(o.nick), o.bare, msg)
		}
		r.remember(msg, t)
	}
	r.sendAll(func(_ *occupant, to jid.JID) *stanza.Element { return msg.Copy().Set("to", to.String()) })
}

// isDeliveryFailure reports whether the error stanza st says that what
// the room sent found no session: then the occupant's session is gone
// (the client did not leave cleanly), and the room removes it with 333 so
// that a XEP-0410 self-ping tells the client to join again. Other errors
// (a client refusing a private message) remove nobody.
func isDeliveryFailure(st *stanza.Element) bool {
	e := stanza.ParseError(st)
	if e == nil {
		return false
	}
	switch e.Condition {
	case "service-unavailable", "recipient-unavailable", "item-not-found", "gone", "redirect",
		"remote-server-not-found", "remote-server-timeout", "jid-malformed":
		return true
	}
	return false
}

// remember adds msg to the discussion history, dropping the oldest beyond
// muc#maxhistoryfetch. Caller holds r.mu.
func (r *room) remember(msg *stanza.Element, t time.Time) {
	if r.s.cfg.HistoryMax == 0 {
		return
	}
	e := histEntry{msg: msg, at: t, size: len(msg.String())}
	r.history = append(r.history, e)
	r.historyBytes += e.size
	for len(r.history) > r.s.cfg.HistoryMax || r.historyBytes > r.s.cfg.HistoryMaxBytes && len(r.history) > 0 {
		r.historyBytes -= r.history[0].size
		r.history[0] = histEntry{}
		r.history = r.history[1:]
	}
}

// isContent reports whether msg holds more than chat states, receipts
// and hints: something worth keeping.
func isContent(msg *stanza.Element) bool {
	for _, c := range msg.Elements() {
		switch c.Name.Space {
		case nsChatStates, nsHints, nsReceipts, NSOccupantID, NSStanzaID:
		default:
			return true
		}
	}
	return false
}

// privateMessage relays a message to one occupant (XEP-0045 §7.5).
func (r *room) privateMessage(ev event, o *occupant) {
	st := ev.st
	switch {
	case st.Get("type") == "groupchat":
		r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "groupchat messages go to the room"})
		return
	case o == nil:
		r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "only occupants may send private messages"})
		return
	}
	target := r.byNick[ev.to.Resource()]
	if target == nil {
		r.fail(st, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such occupant"})
		return
	}
	allowed := false
	switch r.cfg.AllowPM {
	case pmAnyone:
		allowed = true
	case pmParticipants:
		allowed = roleRank(o.role) >= roleRank(roleParticipant)
	case pmModerators:
		allowed = o.role == roleModerator
	}
	if !allowed {
		r.fail(st, &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "private messages are not allowed in this room"})
		return
	}
	msg := cleanCopy(st)
	msg.Name.Space = stanza.NSClient
	msg.Set("from", r.occJID(o.nick).String())
	msg.Append(stanza.New(NSUser, "x"), stanza.New(NSOccupantID, "occupant-id", "id", o.id))
	for _, s := range target.sessions {
		r.send(msg.Copy().Set("to", s.jid.String()))
	}
}

// invitations relays mediated invitations and declines (XEP-0045 §7.8.2).
func (r *room) invitations(ctx context.Context, ev event, o *occupant, x *stanza.Element) {
	st := ev.st
	for _, c := range x.Elements() {
		switch c.Name.Local {
		case "invite":
			if o == nil {
				r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "only occupants may invite"})
				return
			}
			// Anyone may enter an open room, so any occupant may invite
			// to it; a members-only room's invitation makes a member, which
			// muc#roomconfig_allowinvites leaves to admins unless set.
			if r.cfg.MembersOnly && !r.cfg.AllowInvites && o.role != roleModerator && affRank(r.affOf(o.bare)) < affRank(affAdmin) {
				r.fail(st, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "occupants may not invite others to this room"})
				return
			}
			to, err := jid.Parse(c.Get("to"))
			if err != nil {
				r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: "invalid invitee"})
				return
			}
			if r.cfg.MembersOnly && r.affOf(to) == affNone {
				if len(r.affs) >= r.s.cfg.MaxAffiliations {
					r.fail(st, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many affiliations"})
					return
				}
				r.affs[to.Bare()] = affiliation{Affiliation: affMember}
				r.saveIfPersistent(ctx)
			}
			inv := stanza.New(NSUser, "invite", "from", ev.from.String())
			if reason := c.ChildText(NSUser, "reason"); reason != "" {
				inv.Append(stanza.New(NSUser, "reason").AppendText(reason))
			}
			ux := stanza.New(NSUser, "x").Append(inv)
			if r.cfg.PasswordProtected {
				ux.Append(stanza.New(NSUser, "password").AppendText(r.cfg.Password))
			}
			m := stanza.New(stanza.NSClient, "message", "from", r.jid.String(), "to", to.String(), "id", stanza.NewID()).Append(ux)
			if b := st.Child(st.Name.Space, "body"); b != nil {
				m.Append(clientNS(b))
			}
			r.send(m)
		case "decline":
			to, err := jid.Parse(c.Get("to"))
			if err != nil {
				r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: "invalid inviter"})
				return
			}
			dec := stanza.New(NSUser, "decline", "from", ev.from.Bare().String())
			if reason := c.ChildText(NSUser, "reason"); reason != "" {
				dec.Append(stanza.New(NSUser, "reason").AppendText(reason))
			}
			r.send(stanza.New(stanza.NSClient, "message", "from", r.jid.String(), "to", to.String(), "id", stanza.NewID()).
				Append(stanza.New(NSUser, "x").Append(dec)))
		}
	}
}

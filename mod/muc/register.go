package muc

import (
	"context"

	"hearth/stanza"
)

// Namespaces of nick registration (XEP-0045 §7.10).
const (
	NSRegister    = "jabber:iq:register"
	NSMUCRegister = "http://jabber.org/protocol/muc#register"
	nodeRoomUser  = "x-roomuser-item" // XEP-0045 §7.12
)

// registerGet answers a registration request (XEP-0045 §7.10): the
// reserved nick of a registered user, or the form to register one.
func (r *room) registerGet(ev event) (*stanza.Element, error) {
	aff := r.affOf(ev.from)
	if aff == affOutcast {
		return nil, forbidden("banned from the room")
	}
	q := stanza.New(NSRegister, "query")
	if a, ok := r.affs[ev.from.Bare()]; ok && a.Nick != "" {
		return q.Append(stanza.New(NSRegister, "registered"), stanza.New(NSRegister, "username").AppendText(a.Nick)), nil
	}
	if r.cfg.MembersOnly && affRank(aff) < affRank(affMember) {
		return nil, &stanza.Error{Type: stanza.Auth, Condition: "registration-required", Text: "only members may register in a members-only room"}
	}
	f := &stanza.Form{Type: stanza.FormForm, Title: "Nickname registration in " + r.jid.String(),
		Instructions: "Reserve your nickname in this room.", Fields: []stanza.Field{
			{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NSMUCRegister}},
			{Var: "muc#register_roomnick", Type: stanza.FieldTextSingle, Label: "Nickname", Required: true},
		}}
	return q.Append(stanza.New(NSRegister, "instructions").AppendText(f.Instructions), f.Element()), nil
}

// registerSet reserves a nick for the sender, who becomes a member of the
// room if it was not affiliated, or cancels the registration (<remove/>).
func (r *room) registerSet(ctx context.Context, ev event, q *stanza.Element) error {
	bare := ev.from.Bare()
	aff := r.affOf(ev.from)
	if aff == affOutcast {
		return forbidden("banned from the room")
	}
	if q.Child(NSRegister, "remove") != nil {
		a, ok := r.affs[bare]
		if !ok {
			return &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "not registered"}
		}
		if a.Affiliation == affMember {
			return r.setAffiliation(ctx, adminChange{jid: bare, aff: affNone}, "")
		}
		a.Nick = ""
		r.affs[bare] = a
		r.saveIfPersistent(ctx)
		return nil
	}
	if r.cfg.MembersOnly && affRank(aff) < affRank(affMember) {
		return &stanza.Error{Type: stanza.Auth, Condition: "registration-required", Text: "only members may register in a members-only room"}
	}
	x := q.Child(stanza.NSData, "x")
	if x == nil {
		return badRequest("a submitted muc#register form is expected")
	}
	f, err := stanza.ParseForm(x)
	switch {
	case err != nil:
		return badRequest(err.Error())
	case f.Type == stanza.FormCancel:
		return nil
	case f.Type != stanza.FormSubmit:
		return badRequest("a submitted muc#register form is expected")
	}
	if ft := f.FormType(); ft != "" && ft != NSMUCRegister {
		return badRequest("FORM_TYPE is not " + NSMUCRegister)
	}
	nick := f.Value("muc#register_roomnick")
	if _, err := r.jid.WithResource(nick); err != nil || nick == "" {
		return &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "invalid nickname"}
	}
	if o := r.byNick[nick]; o != nil && o.bare != bare || r.reservedByOther(nick, ev.from) {
		return &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "nickname in use"}
	}
	a, ok := r.affs[bare]
	if !ok && len(r.affs) >= r.s.cfg.MaxAffiliations {
		return &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many affiliations"}
	}
	if !ok || a.Affiliation == affNone {
		a.Affiliation = affMember
	}
	a.Nick = nick
	r.affs[bare] = a
	r.saveIfPersistent(ctx)
	for _, o := range r.occupants {
		if o.bare == bare && o.role != r.defaultRole(a.Affiliation) && o.role != roleModerator {
			o.role = r.defaultRole(a.Affiliation)
			r.broadcastOccupant(o)
		}
	}
	return nil
}

// reservedNickInfo answers the disco#info query for one's reserved nick
// (XEP-0045 §7.12).
func (r *room) reservedNickInfo(ev event) *stanza.Element {
	q := stanza.New(NSDiscoInfo, "query", "node", nodeRoomUser)
	if a, ok := r.affs[ev.from.Bare()]; ok && a.Nick != "" {
		q.Append(stanza.New(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", a.Nick))
	}
	return q
}

package muc

import (
	"hearth/jid"
	"hearth/stanza"
)

// NSRequest is the FORM_TYPE of voice requests (XEP-0045 §8.6).
const NSRequest = "http://jabber.org/protocol/muc#request"

// voiceForm returns the muc#request form of a message, or nil.
func voiceForm(st *stanza.Element) *stanza.Form {
	x := st.Child(stanza.NSData, "x")
	if x == nil {
		return nil
	}
	f, err := stanza.ParseForm(x)
	if err != nil || f.FormType() != NSRequest {
		return nil
	}
	return f
}

// voiceRequest handles a muc#request form sent to the room (XEP-0045
// §8.6): from a visitor, a request relayed to the moderators; from a
// moderator, the approval (muc#request_allow) that gives voice. Caller
// holds r.mu.
func (r *room) voiceRequest(ev event, o *occupant, f *stanza.Form) {
	st := ev.st
	if o == nil {
		r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "only occupants may request voice"})
		return
	}
	if f.Type == stanza.FormSubmit && o.role == roleModerator && f.Value("muc#request_allow") != "" {
		allow := f.Value("muc#request_allow")
		if allow != "1" && allow != "true" {
			return
		}
		target := r.byNick[f.Value("muc#roomnick")]
		if target == nil {
			r.fail(st, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such occupant"})
			return
		}
		if target.role == roleVisitor {
			target.role = roleParticipant
			r.broadcastOccupant(target)
		}
		return
	}
	if f.Value("muc#role") != roleParticipant {
		r.fail(st, badRequest("only voice (participant) may be requested"))
		return
	}
	if o.role != roleVisitor {
		return // nothing to grant
	}
	req := &stanza.Form{Type: stanza.FormForm, Title: "Voice request", Instructions: "Allow this person to speak in " + r.jid.String() + "?", Fields: []stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NSRequest}},
		{Var: "muc#role", Type: stanza.FieldListSingle, Label: "Requested role", Values: []string{roleParticipant}},
		{Var: "muc#jid", Type: stanza.FieldJIDSingle, Label: "User ID", Values: []string{ev.from.Bare().String()}},
		{Var: "muc#roomnick", Type: stanza.FieldTextSingle, Label: "Room nickname", Values: []string{o.nick}},
		{Var: "muc#request_allow", Type: stanza.FieldBoolean, Label: "Grant voice to this person?", Values: []string{"0"}},
	}}
	id := stanza.NewID()
	r.sendAll(func(viewer *occupant, to jid.JID) *stanza.Element {
		if viewer.role != roleModerator {
			return nil
		}
		f := *req
		if !r.seesJIDs(viewer) {
			f.Fields = append(f.Fields[:2:2], f.Fields[3:]...)
		}
		return stanza.New(stanza.NSClient, "message", "from", r.jid.String(), "to", to.String(), "id", id).Append(f.Element())
	})
}

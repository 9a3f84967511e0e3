package muc

import (
	"context"
	"slices"

	"hearth/jid"
	"hearth/stanza"
)

// ownerGet returns the configuration form (XEP-0045 §10.2).
func (r *room) ownerGet(ev event, q *stanza.Element) (*stanza.Element, error) {
	if r.affOf(ev.from) != affOwner {
		return nil, forbidden("only owners may configure the room")
	}
	if len(q.Elements()) != 0 {
		return nil, badRequest("a configuration request is empty")
	}
	return stanza.New(NSOwner, "query").Append(r.configForm().Element()), nil
}

// ownerSet submits or cancels the configuration (XEP-0045 §10.1, §10.2)
// or destroys the room (§10.9).
func (r *room) ownerSet(ctx context.Context, ev event, q *stanza.Element) error {
	if r.affOf(ev.from) != affOwner {
		return forbidden("only owners may configure the room")
	}
	if d := q.Child(NSOwner, "destroy"); d != nil {
		r.destroy(ctx, d)
		return nil
	}
	x := q.Child(stanza.NSData, "x")
	if x == nil {
		return badRequest("a data form or <destroy/> is expected")
	}
	f, err := stanza.ParseForm(x)
	if err != nil {
		return badRequest(err.Error())
	}
	switch f.Type {
	case stanza.FormCancel:
		if r.locked {
			// §10.1.3: cancelling the initial configuration destroys the room.
			r.destroy(ctx, nil)
		}
		return nil
	case stanza.FormSubmit:
	default:
		return badRequest("the form is submitted or cancelled")
	}
	if ft := f.FormType(); ft != "" && ft != NSRoomConfig {
		return badRequest("FORM_TYPE is not " + NSRoomConfig)
	}
	cfg, ch, serr := r.applyForm(r.cfg, f)
	if serr != nil {
		return serr
	}
	if ch.setOwners {
		if len(ch.owners) == 0 {
			return &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "a room needs an owner"}
		}
		r.replaceAffs(affOwner, ch.owners)
	}
	if ch.setAdmins {
		r.replaceAffs(affAdmin, ch.admins)
	}
	old := r.cfg
	wasLocked := r.locked
	r.cfg = cfg
	r.locked = false
	if old.Persistent && !cfg.Persistent {
		r.s.forgetConfig(ctx, r.jid)
	}
	r.saveIfPersistent(ctx)
	if !wasLocked {
		r.announceConfig(old)
	}
	if cfg.MembersOnly && !old.MembersOnly {
		for _, o := range slices.Clone(r.occupants) {
			if affRank(r.affOf(o.bare)) < affRank(affMember) {
				r.kickOut(ctx, o, statusMembersOnly, "", "")
			}
		}
	}
	if ch.setOwners || ch.setAdmins || cfg.Moderated != old.Moderated {
		for _, o := range r.occupants {
			if role := r.defaultRole(r.affOf(o.bare)); role != o.role && (ch.setOwners || ch.setAdmins || o.role != roleModerator) {
				o.role = role
				r.broadcastOccupant(o)
			}
		}
	}
	r.maybeVanish(ctx)
	return nil
}

// replaceAffs makes js the only JIDs with affiliation aff; those who lose
// it become members. Caller holds r.mu.
func (r *room) replaceAffs(aff string, js []jid.JID) {
	for j, a := range r.affs {
		if a.Affiliation == aff && !slices.Contains(js, j) {
			a.Affiliation = affMember
			r.affs[j] = a
		}
	}
	for _, j := range js {
		a := r.affs[j]
		a.Affiliation = aff
		r.affs[j] = a
	}
}

// announceConfig tells the occupants that the configuration changed
// (XEP-0045 §10.2.1), with the privacy-related codes. Caller holds r.mu.
func (r *room) announceConfig(old roomConfig) {
	codes := []int{statusConfigChanged}
	if r.nonAnonymous() != (old.WhoIs == whoisAnyone) {
		if r.nonAnonymous() {
			codes = append(codes, statusNowNonAnon)
		} else {
			codes = append(codes, statusNowSemiAnon)
		}
	}
	if r.cfg.EnableLogging != old.EnableLogging {
		if r.cfg.EnableLogging {
			codes = append(codes, statusLogging)
		} else {
			codes = append(codes, statusNotLogging)
		}
	}
	id := stanza.NewID()
	r.sendAll(func(_ *occupant, to jid.JID) *stanza.Element {
		return stanza.New(stanza.NSClient, "message", "type", "groupchat", "from", r.jid.String(), "to", to.String(), "id", id).
			Append(appendCodes(stanza.New(NSUser, "x"), codes...))
	})
}

// destroy removes every occupant, telling them the alternate venue and
// reason of d (nil when the room goes away silently), and the room
// (XEP-0045 §10.9). Caller holds r.mu.
func (r *room) destroy(ctx context.Context, d *stanza.Element) {
	r.sendAll(func(o *occupant, to jid.JID) *stanza.Element {
		p := stanza.New(stanza.NSClient, "presence", "type", "unavailable", "from", r.occJID(o.nick).String(), "to", to.String())
		x := stanza.New(NSUser, "x").Append(stanza.New(NSUser, "item", "affiliation", affNone, "role", roleNone))
		if d != nil {
			dd := stanza.New(NSUser, "destroy")
			dd.Set("jid", d.Get("jid"))
			if reason := d.ChildText(NSOwner, "reason"); reason != "" {
				dd.Append(stanza.New(NSUser, "reason").AppendText(reason))
			}
			if pw := d.ChildText(NSOwner, "password"); pw != "" {
				dd.Append(stanza.New(NSUser, "password").AppendText(pw))
			}
			x.Append(dd)
		}
		return p.Append(appendCodes(x, statusSelf))
	})
	for _, o := range slices.Clone(r.occupants) {
		r.removeOccupant(o)
	}
	r.vanish(ctx)
}

// forgetConfig removes a room's stored configuration (it became
// temporary); its archive stays until it goes away.
func (s *service) forgetConfig(ctx context.Context, room jid.JID) {
	if err := s.h.Map(RoomsMapName).Delete(ctx, room.String(), roomKey); err != nil {
		s.h.Logger().Error("muc: removing room failed", "room", room.String(), "err", err)
	}
}

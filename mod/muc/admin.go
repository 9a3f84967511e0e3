package muc

import (
	"context"
	"slices"
	"strings"

	"hearth/jid"
	"hearth/stanza"
)

func forbidden(text string) *stanza.Error {
	return &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: text}
}

func notAllowed(text string) *stanza.Error {
	return &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: text}
}

func badRequest(text string) *stanza.Error {
	return &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: text}
}

// adminGet returns a list of the room's affiliations or roles (XEP-0045
// §8.5, §9.5, §9.8, §10.5, §10.8).
func (r *room) adminGet(ev event, q *stanza.Element) (*stanza.Element, error) {
	items := q.Elements()
	if len(items) != 1 || items[0].Name.Local != "item" {
		return nil, badRequest("one <item/> naming an affiliation or a role")
	}
	actor := r.byReal[ev.from]
	actorAff := r.affOf(ev.from)
	res := stanza.New(NSAdmin, "query")
	if aff := items[0].Get("affiliation"); aff != "" {
		if affRank(aff) == 0 && aff != affOutcast || aff == affNone {
			return nil, badRequest("unknown affiliation list")
		}
		// The member, admin and owner lists are open to the roles of
		// muc#roomconfig_getmemberlist and, in a non-anonymous room, to
		// its members: OMEMO group chats need every member's JID.
		allowed := affRank(actorAff) >= affRank(affAdmin) ||
			aff != affOutcast && actor != nil && slices.Contains(r.cfg.GetMemberList, actor.role) ||
			aff != affOutcast && r.nonAnonymous() && affRank(actorAff) >= affRank(affMember)
		if !allowed {
			return nil, forbidden("not allowed to see this list")
		}
		var js []jid.JID
		for j, a := range r.affs {
			if a.Affiliation == aff {
				js = append(js, j)
			}
		}
		slices.SortFunc(js, func(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) })
		for _, j := range js {
			a := r.affs[j]
			it := stanza.New(NSAdmin, "item", "affiliation", aff, "jid", j.String())
			it.Set("nick", a.Nick)
			if a.Reason != "" {
				it.Append(stanza.New(NSAdmin, "reason").AppendText(a.Reason))
			}
			res.Append(it)
		}
		return res, nil
	}
	role := items[0].Get("role")
	if roleRank(role) == 0 {
		return nil, badRequest("an <item/> names an affiliation or a role")
	}
	if actor == nil || actor.role != roleModerator {
		return nil, forbidden("only moderators may see this list")
	}
	for _, o := range r.occupants {
		if o.role != role {
			continue
		}
		it := stanza.New(NSAdmin, "item", "affiliation", r.affOf(o.bare), "role", o.role, "nick", o.nick)
		if r.seesJIDs(actor) {
			it.Set("jid", o.last().jid.String())
		}
		res.Append(it)
	}
	return res, nil
}

// adminChange is one validated <item/> of an admin request.
type adminChange struct {
	target *occupant // role changes
	role   string
	jid    jid.JID // affiliation changes
	aff    string
	nick   string
	reason string
}

// adminSet changes roles and affiliations (XEP-0045 §8, §9, §10). Every
// item is checked before any is applied.
func (r *room) adminSet(ctx context.Context, ev event, q *stanza.Element) error {
	actor := r.byReal[ev.from]
	actorAff := r.affOf(ev.from)
	var changes []adminChange
	for _, it := range q.Elements() {
		if it.Name.Local != "item" {
			continue
		}
		c, err := r.checkChange(ev, actor, actorAff, it)
		if err != nil {
			return err
		}
		changes = append(changes, c)
	}
	if len(changes) == 0 {
		return badRequest("no <item/>")
	}
	actorNick := ""
	if actor != nil {
		actorNick = actor.nick
	}
	for _, c := range changes {
		if c.aff != "" {
			if err := r.setAffiliation(ctx, c, actorNick); err != nil {
				return err
			}
			continue
		}
		r.setRole(ctx, c, actorNick)
	}
	return nil
}

// checkChange validates one item of an admin request by its actor.
func (r *room) checkChange(ev event, actor *occupant, actorAff string, it *stanza.Element) (adminChange, error) {
	c := adminChange{role: it.Get("role"), aff: it.Get("affiliation"), nick: it.Get("nick"), reason: it.ChildText(NSAdmin, "reason")}
	switch {
	case c.aff != "" && c.role != "", c.aff == "" && c.role == "":
		return c, badRequest("an <item/> changes either an affiliation or a role")
	case c.role != "":
		if roleRank(c.role) == 0 && c.role != roleNone {
			return c, badRequest("unknown role")
		}
		if actor == nil || actor.role != roleModerator {
			return c, forbidden("only moderators may change roles")
		}
		c.target = r.byNick[c.nick]
		if c.target == nil {
			return c, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such occupant"}
		}
		targetAff := r.affOf(c.target.bare)
		switch c.role {
		case roleNone:
			if c.target == actor {
				return c, &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "a moderator may not kick itself"}
			}
			if affRank(targetAff) >= affRank(affAdmin) || affRank(targetAff) > affRank(actorAff) {
				return c, notAllowed("admins, owners and those of higher affiliation may not be kicked")
			}
		case roleVisitor:
			if affRank(targetAff) >= affRank(affAdmin) || affRank(targetAff) > affRank(actorAff) {
				return c, notAllowed("admins, owners and those of higher affiliation may not lose voice")
			}
		case roleParticipant:
			if c.target.role == roleModerator {
				if affRank(actorAff) < affRank(affAdmin) {
					return c, forbidden("only admins may revoke moderation")
				}
				if affRank(targetAff) >= affRank(affAdmin) {
					return c, notAllowed("admins and owners stay moderators")
				}
			}
		case roleModerator:
			if affRank(actorAff) < affRank(affAdmin) {
				return c, forbidden("only admins may grant moderation")
			}
		}
		return c, nil
	}
	if affRank(c.aff) == 0 && c.aff != affOutcast {
		return c, badRequest("unknown affiliation")
	}
	j, err := jid.Parse(it.Get("jid"))
	if err != nil {
		if o := r.byNick[c.nick]; it.Get("jid") == "" && o != nil {
			j = o.bare // an affiliation given to an occupant by nick
			c.nick = ""
		} else {
			return c, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: "an affiliation is given to a JID"}
		}
	}
	c.jid = j.Bare()
	current := r.affOf(c.jid)
	if affRank(actorAff) < affRank(affAdmin) {
		return c, forbidden("only admins and owners may change affiliations")
	}
	if actorAff != affOwner && (affRank(c.aff) >= affRank(affAdmin) || affRank(current) >= affRank(affAdmin)) {
		if c.aff == affOutcast && affRank(current) >= affRank(affAdmin) {
			return c, notAllowed("admins and owners may not be banned")
		}
		return c, forbidden("only owners may change admins and owners")
	}
	if r.s.isAdmin(c.jid) {
		return c, notAllowed("service administrators own every room")
	}
	if current == affOwner && c.aff != affOwner && r.countAff(affOwner) == 1 {
		return c, &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "a room needs an owner"}
	}
	if _, ok := r.affs[c.jid]; !ok && c.aff != affNone && len(r.affs) >= r.s.cfg.MaxAffiliations {
		return c, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many affiliations"}
	}
	return c, nil
}

// countAff returns the number of JIDs with affiliation aff. Caller holds r.mu.
func (r *room) countAff(aff string) int {
	n := 0
	for _, a := range r.affs {
		if a.Affiliation == aff {
			n++
		}
	}
	return n
}

// setRole applies a role change: a kick (307) or a new role broadcast.
func (r *room) setRole(ctx context.Context, c adminChange, actorNick string) {
	if c.target.role == c.role {
		return
	}
	if c.role == roleNone {
		r.kickOut(ctx, c.target, statusKicked, actorNick, c.reason)
		return
	}
	c.target.role = c.role
	r.broadcastOccupant(c.target)
}

// setAffiliation applies an affiliation change to the room and to the
// occupants of that account: a ban (301), a removal from a members-only
// room (321) or a new role.
func (r *room) setAffiliation(ctx context.Context, c adminChange, actorNick string) error {
	if c.aff == affNone {
		delete(r.affs, c.jid)
	} else {
		r.affs[c.jid] = affiliation{Affiliation: c.aff, Nick: c.nick, Reason: c.reason}
	}
	r.saveIfPersistent(ctx)
	present := false
	for _, o := range slices.Clone(r.occupants) {
		if o.bare != c.jid {
			continue
		}
		present = true
		switch {
		case c.aff == affOutcast:
			r.kickOut(ctx, o, statusBanned, actorNick, c.reason)
		case r.cfg.MembersOnly && c.aff == affNone:
			r.kickOut(ctx, o, statusAffiliationOut, actorNick, c.reason)
		default:
			o.role = r.defaultRole(c.aff)
			r.broadcastOccupant(o)
		}
	}
	if !present {
		r.announceAffiliation(c.jid, c.aff)
	}
	return nil
}

// announceAffiliation tells the occupants who may see real JIDs that the
// affiliation of j, who is not in the room, changed (XEP-0045 §9.3,
// §9.4): clients of members-only, non-anonymous rooms keep their member
// list (and OMEMO recipients) from it. Caller holds r.mu.
func (r *room) announceAffiliation(j jid.JID, aff string) {
	id := stanza.NewID()
	r.sendAll(func(viewer *occupant, to jid.JID) *stanza.Element {
		if !r.seesJIDs(viewer) {
			return nil
		}
		return stanza.New(stanza.NSClient, "message", "from", r.jid.String(), "to", to.String(), "id", id).
			Append(stanza.New(NSUser, "x").Append(stanza.New(NSUser, "item", "affiliation", aff, "jid", j.String())))
	})
}

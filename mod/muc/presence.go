package muc

import (
	"context"
	"slices"
	"strconv"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// Status codes of XEP-0045 §15.6.2.
const (
	statusNonAnonymous   = 100
	statusConfigChanged  = 104
	statusSelf           = 110
	statusLogging        = 170
	statusNotLogging     = 171
	statusNowNonAnon     = 172
	statusNowSemiAnon    = 173
	statusCreated        = 201
	statusNickModified   = 210
	statusBanned         = 301
	statusNickChanged    = 303
	statusKicked         = 307
	statusAffiliationOut = 321
	statusMembersOnly    = 322
	statusShutdown       = 332
	statusError          = 333
)

// handlePresence processes presence to the room or an occupant. Caller
// holds r.mu.
func (r *room) handlePresence(ctx context.Context, ev event) {
	st := ev.st
	o := r.byReal[ev.from]
	switch st.Get("type") {
	case "":
		if ev.to.IsBare() {
			r.fail(st, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: "a nickname is required"})
			return
		}
		switch {
		case o == nil:
			r.join(ctx, ev)
		case o.nick != ev.to.Resource():
			r.changeNick(ctx, ev, o)
		case st.Child(NS, "x") != nil:
			r.rejoin(ev, o)
		default:
			r.updatePresence(ev, o)
		}
	case "unavailable":
		if o != nil {
			r.leave(ctx, o, ev.from, st, 0)
		}
	case stanza.ErrorType:
		if o != nil && isDeliveryFailure(st) {
			r.leave(ctx, o, ev.from, nil, statusError)
		}
	default:
		// Subscription requests and probes are not for rooms.
		if t := st.Get("type"); t == "subscribe" || t == "probe" {
			r.fail(st, stanza.NewError("service-unavailable"))
		}
	}
}

// join processes the presence of a user entering the room (XEP-0045 §7.2),
// creating it if it is new.
func (r *room) join(ctx context.Context, ev event) {
	st, user, nick := ev.st, ev.from, ev.to.Resource()
	mucX := st.Child(NS, "x")
	created := r.locked && len(r.occupants) == 0 && r.creator == user.Bare()
	aff := r.affOf(user)
	isAdmin := affRank(aff) >= affRank(affAdmin)
	switch {
	case created:
		if mucX == nil {
			// XEP-0045 §10.1.3: a client that does not speak MUC gets an
			// instant room.
			r.locked = false
		}
	case r.locked && aff != affOwner:
		r.fail(st, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "the room is not configured yet"})
		return
	case aff == affOutcast:
		r.fail(st, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "banned from the room"})
		return
	case r.cfg.MembersOnly && affRank(aff) < affRank(affMember):
		r.fail(st, &stanza.Error{Type: stanza.Auth, Condition: "registration-required", Text: "the room is members-only"})
		return
	}
	if o := r.byNick[nick]; o != nil && o.bare != user.Bare() || r.reservedByOther(nick, user) {
		r.fail(st, &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "nickname in use"})
		return
	}
	if !created && r.cfg.PasswordProtected {
		var pw string
		if mucX != nil {
			pw = mucX.ChildText(NS, "password")
		}
		if pw != r.cfg.Password {
			r.fail(st, &stanza.Error{Type: stanza.Auth, Condition: "not-authorized", Text: "a password is required"})
			return
		}
	}
	o := r.byNick[nick]
	if o == nil && !isAdmin && len(r.occupants) >= r.cfg.MaxUsers {
		r.fail(st, &stanza.Error{Type: stanza.Wait, Condition: "service-unavailable", Text: "the room is full"})
		return
	}
	if o != nil && len(o.sessions) >= r.s.cfg.MaxSessionsPerNick {
		r.fail(st, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many devices joined under this nickname"})
		return
	}
	sess := &occSession{jid: user, pres: st}
	newOccupant := o == nil
	if newOccupant {
		o = &occupant{nick: nick, bare: user.Bare(), role: r.defaultRole(aff), id: r.occupantID(user.Bare())}
		r.occupants = append(r.occupants, o)
		r.byNick[nick] = o
	}
	o.sessions = append(o.sessions, sess)
	r.byReal[user] = o

	// The presence of every other occupant, then the newcomer's presence
	// to them, then its own presence (XEP-0045 §7.2.2, §7.2.3).
	for _, other := range r.occupants {
		if other != o && r.broadcastsPresence(other.role) {
			r.send(r.presenceOf(other, user, o))
		}
	}
	if newOccupant && r.broadcastsPresence(o.role) {
		for _, other := range r.occupants {
			if other == o {
				continue
			}
			for _, s := range other.sessions {
				r.send(r.presenceOf(o, s.jid, other))
			}
		}
	}
	codes := []int{statusSelf}
	if r.nonAnonymous() {
		codes = append(codes, statusNonAnonymous)
	}
	if r.cfg.EnableLogging {
		codes = append(codes, statusLogging)
	}
	if created {
		codes = append(codes, statusCreated)
	}
	r.send(r.presenceOf(o, user, o, codes...))
	r.sendHistory(user, mucX)
	r.sendSubject(user)
}

// rejoin answers a join presence from a session that is already in the
// room (a client that lost track of its state, or whose self-ping made it
// doubt): it gets the room's state again as on entry. The others hear
// nothing: for them the occupant never left. Caller holds r.mu.
func (r *room) rejoin(ev event, o *occupant) {
	user := ev.from
	i := slices.IndexFunc(o.sessions, func(s *occSession) bool { return s.jid == user })
	sess := o.sessions[i]
	sess.pres = ev.st
	o.sessions = append(slices.Delete(o.sessions, i, i+1), sess)
	for _, other := range r.occupants {
		if other != o && r.broadcastsPresence(other.role) {
			r.send(r.presenceOf(other, user, o))
		}
	}
	codes := []int{statusSelf}
	if r.nonAnonymous() {
		codes = append(codes, statusNonAnonymous)
	}
	if r.cfg.EnableLogging {
		codes = append(codes, statusLogging)
	}
	r.send(r.presenceOf(o, user, o, codes...))
	r.sendHistory(user, ev.st.Child(NS, "x"))
	r.sendSubject(user)
}

// reservedByOther reports whether nick is reserved (XEP-0045 §7.10) by an
// account other than user's. Caller holds r.mu.
func (r *room) reservedByOther(nick string, user jid.JID) bool {
	for j, a := range r.affs {
		if a.Nick == nick && j != user.Bare() {
			return true
		}
	}
	return false
}

// updatePresence broadcasts an occupant's changed presence (XEP-0045 §7.7).
func (r *room) updatePresence(ev event, o *occupant) {
	i := slices.IndexFunc(o.sessions, func(s *occSession) bool { return s.jid == ev.from })
	sess := o.sessions[i]
	sess.pres = ev.st
	// The latest presence is the occupant's.
	o.sessions = append(slices.Delete(o.sessions, i, i+1), sess)
	r.broadcastOccupant(o)
}

// broadcastOccupant sends o's presence to everyone in the room, with 110
// to o's own sessions, when the room broadcasts o's role. Caller holds r.mu.
func (r *room) broadcastOccupant(o *occupant, codes ...int) {
	r.sendAll(func(viewer *occupant, to jid.JID) *stanza.Element {
		if viewer == o {
			return r.presenceOf(o, to, o, append([]int{statusSelf}, codes...)...)
		}
		if !r.broadcastsPresence(o.role) {
			return nil
		}
		return r.presenceOf(o, to, viewer, codes...)
	})
}

// changeNick processes a change of nickname (XEP-0045 §7.6).
func (r *room) changeNick(_ context.Context, ev event, o *occupant) {
	nick := ev.to.Resource()
	if other := r.byNick[nick]; other != nil || r.reservedByOther(nick, ev.from) {
		r.fail(ev.st, &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "nickname in use"})
		return
	}
	old := o.nick
	// Unavailable from the old nick with the new one and 303.
	r.sendAll(func(viewer *occupant, to jid.JID) *stanza.Element {
		if viewer != o && !r.broadcastsPresence(o.role) {
			return nil
		}
		codes := []int{statusNickChanged}
		if viewer == o {
			codes = append(codes, statusSelf)
		}
		p := stanza.New(stanza.NSClient, "presence", "type", "unavailable", "from", r.occJID(old).String(), "to", to.String())
		real := o.last().jid
		if viewer == o {
			real = to
		}
		x := r.userX(o, real, viewer == o || r.seesJIDs(viewer), codes...)
		x.Child(NSUser, "item").Set("nick", nick)
		return p.Append(x, stanza.New(NSOccupantID, "occupant-id", "id", o.id))
	})
	delete(r.byNick, old)
	o.nick = nick
	r.byNick[nick] = o
	i := slices.IndexFunc(o.sessions, func(s *occSession) bool { return s.jid == ev.from })
	sess := o.sessions[i]
	sess.pres = ev.st
	o.sessions = append(slices.Delete(o.sessions, i, i+1), sess)
	r.broadcastOccupant(o)
}

// leave removes session real of occupant o. pres is the unavailable
// presence it sent (nil when the room removes it), code the status of a
// removal (0 for a voluntary exit). An occupant with other sessions stays;
// the last one leaving makes a temporary room go away. Caller holds r.mu.
func (r *room) leave(ctx context.Context, o *occupant, real jid.JID, pres *stanza.Element, code int) {
	i := slices.IndexFunc(o.sessions, func(s *occSession) bool { return s.jid == real })
	if i < 0 {
		return
	}
	delete(r.byReal, real)
	o.sessions = slices.Delete(o.sessions, i, i+1)
	unavailable := func(to jid.JID, self bool, viewer *occupant) *stanza.Element {
		p := stanza.New(stanza.NSClient, "presence")
		if pres != nil {
			p = cleanCopy(pres)
		}
		p.Set("type", "unavailable").Set("from", r.occJID(o.nick).String()).Set("to", to.String()).Set("id", "")
		var codes []int
		if self {
			codes = append(codes, statusSelf)
		}
		if code != 0 {
			codes = append(codes, code)
		}
		item := stanza.New(NSUser, "item", "affiliation", r.affOf(o.bare), "role", roleNone)
		if self || r.seesJIDs(viewer) {
			item.Set("jid", real.String())
		}
		return p.Append(appendCodes(stanza.New(NSUser, "x").Append(item), codes...), stanza.New(NSOccupantID, "occupant-id", "id", o.id))
	}
	if code != statusError {
		r.send(unavailable(real, true, o))
	}
	if len(o.sessions) > 0 {
		return
	}
	r.removeOccupant(o)
	if r.broadcastsPresence(o.role) {
		r.sendAll(func(viewer *occupant, to jid.JID) *stanza.Element { return unavailable(to, false, viewer) })
	}
	r.maybeVanish(ctx)
}

// removeOccupant forgets o. Caller holds r.mu.
func (r *room) removeOccupant(o *occupant) {
	for _, s := range o.sessions {
		delete(r.byReal, s.jid)
	}
	delete(r.byNick, o.nick)
	r.occupants = slices.DeleteFunc(r.occupants, func(x *occupant) bool { return x == o })
}

// maybeVanish destroys a temporary room once its last occupant left.
// Caller holds r.mu.
func (r *room) maybeVanish(ctx context.Context) {
	if len(r.occupants) > 0 || r.cfg.Persistent && !r.locked {
		return
	}
	r.vanish(ctx)
}

// vanish removes the room from the service and its data from storage.
// Caller holds r.mu.
func (r *room) vanish(ctx context.Context) {
	r.gone = true
	r.s.remove(r)
	r.s.forget(ctx, r.jid)
}

// kickOut removes every session of o with presence status code, as the
// room decided (kick, ban, affiliation change), telling everyone; actor
// and reason go into the <item/>. Caller holds r.mu.
func (r *room) kickOut(ctx context.Context, o *occupant, code int, actor, reason string) {
	aff := r.affOf(o.bare)
	build := func(to jid.JID, viewer *occupant) *stanza.Element {
		self := viewer == o
		p := stanza.New(stanza.NSClient, "presence", "type", "unavailable", "from", r.occJID(o.nick).String(), "to", to.String())
		item := stanza.New(NSUser, "item", "affiliation", aff, "role", roleNone)
		if self || r.seesJIDs(viewer) {
			item.Set("jid", o.bare.String())
		}
		if actor != "" {
			item.Append(stanza.New(NSUser, "actor", "nick", actor))
		}
		if reason != "" {
			item.Append(stanza.New(NSUser, "reason").AppendText(reason))
		}
		codes := []int{code}
		if self {
			codes = []int{statusSelf, code}
		}
		return p.Append(appendCodes(stanza.New(NSUser, "x").Append(item), codes...), stanza.New(NSOccupantID, "occupant-id", "id", o.id))
	}
	r.sendAll(func(viewer *occupant, to jid.JID) *stanza.Element {
		if viewer != o && !r.broadcastsPresence(o.role) {
			return nil
		}
		return build(to, viewer)
	})
	r.removeOccupant(o)
	r.maybeVanish(ctx)
}

// sendHistory sends the discussion history to a joining session as its
// <history/> asks (XEP-0045 §7.2.14). Caller holds r.mu.
func (r *room) sendHistory(to jid.JID, mucX *stanza.Element) {
	maxStanzas := min(r.s.cfg.HistoryDefault, r.cfg.MaxHistoryFetch)
	maxChars := -1
	var since time.Time
	var h *stanza.Element
	if mucX != nil {
		h = mucX.Child(NS, "history")
	}
	if h != nil {
		if v, err := strconv.Atoi(h.Get("maxstanzas")); err == nil && v >= 0 {
			maxStanzas = min(v, r.cfg.MaxHistoryFetch)
		} else if h.Get("maxstanzas") == "" {
			maxStanzas = r.cfg.MaxHistoryFetch
		}
		if v, err := strconv.Atoi(h.Get("maxchars")); err == nil && v >= 0 {
			maxChars = v
		}
		if v, err := strconv.Atoi(h.Get("seconds")); err == nil && v >= 0 {
			since = now().Add(-time.Duration(v) * time.Second)
		}
		if t, err := time.Parse(time.RFC3339, h.Get("since")); err == nil && t.After(since) {
			since = t
		}
	}
	first := len(r.history)
	chars := 0
	for i := len(r.history) - 1; i >= 0 && len(r.history)-i <= maxStanzas; i-- {
		e := r.history[i]
		if !since.IsZero() && !e.at.After(since) {
			break
		}
		if maxChars >= 0 && chars+e.size > maxChars {
			break
		}
		chars += e.size
		first = i
	}
	for _, e := range r.history[first:] {
		m := e.msg.Copy().Set("to", to.String())
		m.Append(stanza.New(NSDelay, "delay", "from", r.jid.String(), "stamp", e.at.UTC().Format(time.RFC3339Nano)))
		r.send(m)
	}
}

// sendSubject sends the room's subject (empty if none) to a joining
// session: the end of the join (XEP-0045 §7.2.15). Caller holds r.mu.
func (r *room) sendSubject(to jid.JID) {
	if r.subject != nil {
		r.send(r.subject.Copy().Set("to", to.String()))
		return
	}
	r.send(stanza.New(stanza.NSClient, "message", "type", "groupchat", "from", r.jid.String(), "to", to.String(), "id", stanza.NewID()).
		Append(stanza.New(stanza.NSClient, "subject")))
}

package presence

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// directedKey holds, per session, the entities that received directed
// available presence from it and no directed unavailable since (RFC 6121
// §4.6.3): they get unavailable presence when the session goes away. The
// map is replaced, never changed in place.
var directedKey = module.NewKey[map[jid.JID]struct{}]("presence.directed")

// broadcast processes presence without 'to' from s: initial presence
// (§4.2), a presence update (§4.4) or unavailable presence (§4.5).
func (p *handler) broadcast(ctx context.Context, s module.Session, st *stanza.Element, typ string) {
	if typ == typeUnavailable {
		wasAvailable := s.Presence() != nil
		s.SetPresence(nil)
		p.unavailable(ctx, s, st, wasAvailable)
		return
	}
	initial := s.Presence() == nil
	s.SetPresence(st)
	user := s.JID().Bare()
	items, err := p.items(ctx, user)
	if err != nil {
		// The user's own resources still hear of it.
		p.h.Logger().Error("loading roster for broadcast failed", "err", err)
	}
	if initial {
		// §4.2.2: probe the contacts the user is subscribed to, on behalf
		// of the account.
		for _, it := range items {
			if it.Subscription.HasTo() {
				p.route(ctx, presenceFrom(typeProbe, user, it.JID))
			}
		}
	}
	for _, it := range items {
		if it.Subscription.HasFrom() {
			p.route(ctx, st.Copy().Set("to", it.JID.String()))
		}
	}
	// §4.2.2, §4.4.2: every available resource, the sender included.
	others := p.available(user)
	for _, o := range others {
		o.Send(st.Copy().Set("to", o.JID().String()))
	}
	if !initial {
		return
	}
	// The new resource learns where the account's other resources stand,
	// as a probe of the user's own account would tell it.
	for _, o := range others {
		if o == s {
			continue
		}
		if pres := o.Presence(); pres != nil {
			s.Send(pres.Copy().Set("from", o.JID().String()).Set("to", s.JID().String()))
		}
	}
	// §3.1.3: subscription requests still unanswered are delivered again
	// each time a resource becomes available.
	for _, it := range items {
		if it.PendingIn != nil {
			s.Send(it.PendingIn)
		}
	}
	// The session is available: offline messages (XEP-0160) and the like
	// come after its broadcast, probes and pending requests.
	p.h.Registry().RunSessionAvailable(ctx, s)
}

// unavailable sends the unavailable presence st of session s, which is no
// longer available (or bound): when s had broadcast available presence, to
// the contacts subscribed to the user and the user's available resources
// (§4.5.2); in any case to the entities s sent directed presence to
// (§4.6.3), unless the broadcast reached them.
func (p *handler) unavailable(ctx context.Context, s module.Session, st *stanza.Element, wasAvailable bool) {
	user := s.JID().Bare()
	covered := map[jid.JID]bool{user: true}
	if wasAvailable {
		items, err := p.items(ctx, user)
		if err != nil {
			p.h.Logger().Error("loading roster for unavailable broadcast failed", "err", err)
		}
		for _, it := range items {
			if it.Subscription.HasFrom() {
				p.route(ctx, st.Copy().Set("to", it.JID.String()))
				covered[it.JID.Bare()] = true
			}
		}
		for _, o := range p.available(user) {
			if o != s {
				o.Send(st.Copy().Set("to", o.JID().String()))
			}
		}
		p.saveLastUnavailable(ctx, user, st)
	}
	directed, _ := directedKey.Get(s)
	directedKey.Set(s, nil)
	targets := slices.SortedFunc(maps.Keys(directed), func(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) })
	for _, j := range targets {
		if !covered[j.Bare()] {
			p.route(ctx, st.Copy().Set("to", j.String()))
		}
	}
}

// directed routes presence st from s to a single entity (§4.6.2) and
// keeps track of it for the session's eventual unavailable presence.
func (p *handler) directed(ctx context.Context, s module.Session, st *stanza.Element, to jid.JID, typ string) {
	p.route(ctx, st)
	if to.Bare() == s.JID().Bare() {
		return // the user's own resources hear of the user's logoff anyway
	}
	directedKey.Update(s, func(old map[jid.JID]struct{}, _ bool) map[jid.JID]struct{} {
		next := maps.Clone(old)
		if next == nil {
			next = map[jid.JID]struct{}{}
		}
		if typ == typeAvailable {
			next[to] = struct{}{}
		} else {
			delete(next, to)
		}
		return next
	})
}

// sessionClosed runs after s left the session table: a session that was
// available, or that sent directed presence, goes unavailable as if it had
// said so (RFC 6121 §4.5.2, §4.6.3).
func (p *handler) sessionClosed(ctx context.Context, s module.Session) {
	st := stanza.New(stanza.NSClient, "presence", "type", typeUnavailable, "from", s.JID().String())
	p.unavailable(ctx, s, st, s.Presence() != nil)
}

// probe answers a presence probe st from 'from' about the local account
// owner (RFC 6121 §4.3.2): an entity subscribed to owner's presence (or
// owner itself) gets the presence of each available resource, or the last
// unavailable presence when none is available; anyone else gets
// unsubscribed from owner's bare JID, which reveals no presence and ends a
// subscription the prober's side still believes in.
func (p *handler) probe(ctx context.Context, st *stanza.Element, from, owner jid.JID) error {
	if from.IsZero() {
		return nil
	}
	if from.Bare() != owner {
		it, err := roster.Get(ctx, p.h, owner, from.Bare())
		if err != nil {
			return err
		}
		if !it.Subscription.HasFrom() {
			p.route(ctx, presenceFrom(typeUnsubscribed, owner, from.Bare()).Set("id", st.Get("id")))
			return nil
		}
	}
	if p.sendCurrent(ctx, owner, from) {
		return nil
	}
	last, err := p.lastUnavailable(ctx, owner)
	if err != nil {
		return err
	}
	p.route(ctx, last.Copy().Set("from", owner.String()).Set("to", from.String()))
	return nil
}

// saveLastUnavailable keeps st, without its addresses, as user's last
// unavailable presence.
func (p *handler) saveLastUnavailable(ctx context.Context, user jid.JID, st *stanza.Element) {
	kept := st.Copy().Set("from", "").Set("to", "").Set("id", "").String()
	defer p.savedLocks.Lock(user.String())()
	p.savedMu.Lock()
	stored, known := p.saved[user]
	p.savedMu.Unlock()
	if !known {
		// Reading is cheaper than writing, and the first logout since the
		// server started usually finds what it would store, or nothing
		// where it would store the plain presence that nothing stands
		// for.
		b, err := p.h.Map(MapName).Get(ctx, user.String(), lastUnavailableKey)
		switch {
		case err == nil:
			stored, known = string(b), true
		case errors.Is(err, storage.ErrNotFound):
			stored, known = plainUnavailable, true
		}
	}
	if known && stored == kept {
		p.savedMu.Lock()
		p.saved[user] = kept
		p.savedMu.Unlock()
		return
	}
	if err := p.h.Map(MapName).Set(ctx, user.String(), lastUnavailableKey, []byte(kept)); err != nil {
		p.h.Logger().Error("storing last unavailable presence failed", "err", err)
		return
	}
	p.savedMu.Lock()
	p.saved[user] = kept
	p.savedMu.Unlock()
}

// userDeleted forgets what was stored for the account, which goes with
// its data.
func (p *handler) userDeleted(_ context.Context, user jid.JID) {
	defer p.savedLocks.Lock(user.Bare().String())()
	p.savedMu.Lock()
	delete(p.saved, user.Bare())
	p.savedMu.Unlock()
}

// plainUnavailable is the stored form of a plain unavailable presence,
// which lastUnavailable also answers when nothing is stored.
var plainUnavailable = stanza.New(stanza.NSClient, "presence", "type", typeUnavailable).String()

// lastUnavailable returns user's last unavailable presence, or a bare
// unavailable presence when none was kept.
func (p *handler) lastUnavailable(ctx context.Context, user jid.JID) (*stanza.Element, error) {
	b, err := p.h.Map(MapName).Get(ctx, user.String(), lastUnavailableKey)
	if errors.Is(err, storage.ErrNotFound) {
		return stanza.New(stanza.NSClient, "presence", "type", typeUnavailable), nil
	}
	if err != nil {
		return nil, err
	}
	el, err := stanza.NewDecoder(strings.NewReader(string(b)), stanza.Limits{}).Next()
	if err != nil {
		return nil, err
	}
	return el, nil
}

package pep

import (
	"context"
	"sync"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
)

// ownCapsKey holds the capabilities a session of the owner last announced
// in its broadcast presence, so that a change (or the first one) sends it
// the last items (XEP-0163 §4.3.4).
var ownCapsKey = module.NewKey[caps]("pep.caps")

// inbound watches the broadcast presence of the owner's own sessions.
func (p *service) inbound(ctx context.Context, st *stanza.Element, from, _ jid.JID) (*stanza.Element, error) {
	if st.Name.Local != "presence" || st.Get("to") != "" {
		return st, nil
	}
	s := p.h.Session(from)
	if s == nil {
		return st, nil
	}
	switch st.Get("type") {
	case "":
	case "unavailable":
		// Available again later, the session gets the last items again.
		ownCapsKey.Set(s, caps{})
		return st, nil
	default:
		return st, nil
	}
	c := parseCaps(st)
	old, had := ownCapsKey.Get(s)
	if had && old == c {
		return st, nil
	}
	ownCapsKey.Set(s, c)
	p.seen(ctx, from.Bare(), from, c)
	return st, nil
}

// deliver watches the presence of contacts to a local account: an entity
// subscribed to the owner's presence that announces capabilities is
// tracked until it goes unavailable. Only presence to the bare JID counts
// (broadcasts and answers to probes, RFC 6121 §4.2.2, §4.3.2): directed
// presence, MUC occupants' among them, goes to a full JID and is not a
// subscription.
func (p *service) deliver(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	if st.Name.Local != "presence" || from.IsBare() || !to.IsBare() || from.Bare() == to {
		return st, nil
	}
	owner := to.Bare()
	switch st.Get("type") {
	case "":
		c := parseCaps(st)
		if c == (caps{}) {
			p.interest.remove(owner, from)
			return st, nil
		}
		it, err := roster.Get(ctx, p.h, owner, from.Bare())
		if err != nil {
			p.h.Logger().Error("reading roster for PEP failed", "err", err)
			return st, nil
		}
		if !it.Subscription.HasFrom() {
			return st, nil
		}
		if p.interest.set(owner, from, c) {
			p.seen(ctx, owner, from, c)
		}
	case "unavailable", "error":
		p.interest.remove(owner, from)
	}
	return st, nil
}

// seen is called when entity, an owner's session or a contact, announced
// new capabilities c: once they are known, it gets the last items of the
// nodes it wants notifications of.
func (p *service) seen(ctx context.Context, owner, entity jid.JID, c caps) {
	if c == (caps{}) {
		return
	}
	feats, ok := p.caps.lookup(c, waiter{owner, entity})
	if ok {
		p.sendLast(ctx, owner, entity, feats)
	}
}

// capsResolved is the resolver's callback: the waiter still announcing c
// gets the last items it wants.
func (p *service) capsResolved(ctx context.Context, w waiter, c caps, feats map[string]bool) {
	if w.entity.Bare() == w.owner {
		s := p.h.Session(w.entity)
		if s == nil {
			return
		}
		if cur, _ := ownCapsKey.Get(s); cur != c {
			return
		}
	} else if cur, ok := p.interest.get(w.owner, w.entity); !ok || cur != c {
		return
	}
	p.sendLast(ctx, w.owner, w.entity, feats)
}

// userDeleted forgets what was tracked for the account; its nodes go with
// the rest of its stored data (storage.Store.DeleteOwner).
func (p *service) userDeleted(_ context.Context, user jid.JID) {
	p.interest.dropOwner(user.Bare())
}

// interest tracks, per account, the available resources of contacts with
// the capabilities they announced. It lives in memory only: contacts
// announce themselves again when the account's resources come online and
// probe them.
type interest struct {
	max int // per owner

	mu sync.Mutex
	m  map[jid.JID]map[jid.JID]caps
}

func newInterest(max int) *interest {
	return &interest{max: max, m: map[jid.JID]map[jid.JID]caps{}}
}

// set records c for entity and reports whether it changed. Beyond the
// limit per owner, new entities are not tracked.
func (in *interest) set(owner, entity jid.JID, c caps) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := in.m[owner]
	if m == nil {
		m = map[jid.JID]caps{}
		in.m[owner] = m
	}
	old, ok := m[entity]
	if ok && old == c {
		return false
	}
	if !ok && len(m) >= in.max {
		return false
	}
	m[entity] = c
	return true
}

func (in *interest) get(owner, entity jid.JID) (caps, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c, ok := in.m[owner][entity]
	return c, ok
}

func (in *interest) remove(owner, entity jid.JID) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if m := in.m[owner]; m != nil {
		delete(m, entity)
		if len(m) == 0 {
			delete(in.m, owner)
		}
	}
}

func (in *interest) dropOwner(owner jid.JID) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.m, owner)
}

// snapshot returns a copy of owner's tracked entities.
func (in *interest) snapshot(owner jid.JID) map[jid.JID]caps {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[jid.JID]caps, len(in.m[owner]))
	for k, v := range in.m[owner] {
		out[k] = v
	}
	return out
}

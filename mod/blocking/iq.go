package blocking

import (
	"context"
	"fmt"
	"slices"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// interestKey marks the sessions that retrieved the blocklist: XEP-0191
// §3.3 and §3.4 push changes to those resources only.
var interestKey = module.NewKey[bool]("blocking.interest")

// Interested reports whether s retrieved the blocklist and so receives
// block and unblock pushes.
func Interested(s module.Session) bool {
	v, _ := interestKey.Get(s)
	return v
}

// authorize refuses commands about another account's blocklist: only the
// account's own resources may read or change it.
func authorize(req module.IQRequest) error {
	if req.From.Bare() != req.To.Bare() {
		return stanza.NewError("forbidden")
	}
	return nil
}

// get answers a blocklist request (XEP-0191 §3.2) with every blocked JID
// and makes the requesting session an interested resource.
func (b *blocker) get(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := authorize(req); err != nil {
		return nil, err
	}
	owner := req.To.Bare()
	// Mark the session before reading, under the lock: every change after
	// the read is pushed to it, none before is missed.
	defer b.locks.lock(owner)()
	if req.Session != nil {
		interestKey.Set(req.Session, true)
	}
	l, err := b.list(ctx, owner)
	if err != nil {
		return nil, err
	}
	return payload("blocklist", l.jids), nil
}

// block handles a block command (XEP-0191 §3.3): it adds the items that
// are not blocked yet, pushes them to the interested resources and sends
// unavailable presence to the newly blocked contacts that could see the
// user's presence. Items already blocked change nothing and are not
// pushed again.
func (b *blocker) block(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := authorize(req); err != nil {
		return nil, err
	}
	jids, err := items(req.Payload)
	if err != nil {
		return nil, err
	}
	if len(jids) == 0 {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "a block command carries at least one item"}
	}
	owner := req.To.Bare()
	defer b.locks.lock(owner)()
	l, err := b.list(ctx, owner)
	if err != nil {
		return nil, err
	}
	added := slices.DeleteFunc(jids, l.has)
	if len(added) == 0 {
		return nil, nil
	}
	if b.cfg.MaxItems > 0 && len(l.jids)+len(added) > b.cfg.MaxItems {
		return nil, &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "blocklist size limit reached"}
	}
	for _, j := range added {
		if err := b.m.Set(ctx, owner.String(), j.String(), []byte{}); err != nil {
			b.cache.set(owner, nil) // some items may be stored: read again
			return nil, fmt.Errorf("blocklist of %s: storing %s: %w", owner, j, err)
		}
	}
	next := l.with(added)
	b.cache.set(owner, next)
	b.push(owner, payload("block", added))
	b.announce(ctx, owner, added, next, true)
	return nil, nil
}

// unblock handles an unblock command (XEP-0191 §3.4, §3.5): it removes the
// listed items, or every item when none is listed, pushes the change and
// sends the user's current presence to the contacts that are no longer
// blocked and may see it. Items that were not blocked are ignored.
func (b *blocker) unblock(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := authorize(req); err != nil {
		return nil, err
	}
	jids, err := items(req.Payload)
	if err != nil {
		return nil, err
	}
	all := len(jids) == 0
	owner := req.To.Bare()
	defer b.locks.lock(owner)()
	l, err := b.list(ctx, owner)
	if err != nil {
		return nil, err
	}
	removed := l.jids
	if !all {
		removed = slices.DeleteFunc(jids, func(j jid.JID) bool { return !l.has(j) })
	}
	if len(removed) == 0 {
		return nil, nil
	}
	for _, j := range removed {
		if err := b.m.Delete(ctx, owner.String(), j.String()); err != nil {
			b.cache.set(owner, nil)
			return nil, fmt.Errorf("blocklist of %s: deleting %s: %w", owner, j, err)
		}
	}
	next := l.without(removed)
	b.cache.set(owner, next)
	if all {
		b.push(owner, payload("unblock", nil)) // §3.5: the push is an empty <unblock/> too
	} else {
		b.push(owner, payload("unblock", removed))
	}
	b.announce(ctx, owner, removed, next, false)
	return nil, nil
}

// items returns the JIDs of the <item/> children of a block or unblock
// element, normalised, without duplicates, in document order. A missing
// or invalid 'jid' is jid-malformed (XEP-0191 §3.3 refers to XEP-0086).
func items(el *stanza.Element) ([]jid.JID, error) {
	var jids []jid.JID
	for _, c := range el.Elements() {
		if c.Name.Space != NS || c.Name.Local != "item" {
			continue
		}
		j, err := jid.Parse(c.Get("jid"))
		if err != nil {
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: "invalid item jid"}
		}
		if !slices.Contains(jids, j) {
			jids = append(jids, j)
		}
	}
	return jids, nil
}

// payload returns <local xmlns=NS> with one <item/> per JID.
func payload(local string, jids []jid.JID) *stanza.Element {
	el := stanza.New(NS, local)
	for _, j := range jids {
		el.Append(stanza.New(NS, "item", "jid", j.String()))
	}
	return el
}

// push sends el (a <block/> or <unblock/>) in an IQ set to every
// interested resource of owner (XEP-0191 §3.3-§3.5). Like roster pushes
// it has no 'from', which clients take as coming from their own account.
// Caller holds owner's lock, so pushes keep the order of the changes.
func (b *blocker) push(owner jid.JID, el *stanza.Element) {
	for _, s := range b.h.Sessions(owner) {
		if !Interested(s) {
			continue
		}
		s.Send(stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "id", "push-"+stanza.NewID(), "to", s.JID().String()).Append(el))
	}
}

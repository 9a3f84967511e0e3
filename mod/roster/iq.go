package roster

import (
	"context"
	"errors"
	"fmt"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// rosterIQ answers roster gets and sets (RFC 6121 §2.2-§2.5).
type rosterIQ struct {
	h   *module.Host
	cfg Config
}

// authorize refuses requests about another account's roster: only the
// account's own resources may read or change it (RFC 6121 §2.3.3).
func authorize(req module.IQRequest) error {
	if req.From.Bare() != req.To.Bare() {
		return stanza.NewError("forbidden")
	}
	return nil
}

// get answers a roster get (RFC 6121 §2.2) and makes the requesting
// session an interested resource. With a 'ver' attribute equal to the
// current version the result is empty (RFC 6121 §2.6.3); otherwise it is
// the whole roster, hidden items left out, with 'ver' when the request had
// one.
func (r *rosterIQ) get(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := authorize(req); err != nil {
		return nil, err
	}
	clientVer, versioned := attr(req.Payload, "ver")
	owner := req.To.Bare()
	// Mark the session before reading, under the lock: every change after
	// the read is pushed to it, none before is missed.
	unlock := lockOwner(owner.String())
	defer unlock()
	if req.Session != nil {
		interestKey.Set(req.Session, interest{versioned: versioned})
	}
	// Only a versioned request needs the version: the others are spared
	// a storage read (one of a login's few).
	var ver string
	if versioned {
		var err error
		if ver, err = version(ctx, r.h, owner); err != nil {
			return nil, err
		}
		if clientVer == ver {
			return nil, nil
		}
	}
	items, err := Items(ctx, r.h, owner)
	if err != nil {
		return nil, err
	}
	q := stanza.New(NS, "query")
	if versioned {
		q.Set("ver", ver)
	}
	for i := range items {
		if items[i].InRoster() {
			q.Append(items[i].Element())
		}
	}
	return q, nil
}

// attr returns the value of the unnamespaced attribute local of e and
// whether e has it (Element.Get cannot tell absent from empty).
func attr(e *stanza.Element, local string) (string, bool) {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// set handles a roster set (RFC 6121 §2.3, §2.4, §2.5): it adds, updates
// or removes exactly one item.
func (r *rosterIQ) set(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := authorize(req); err != nil {
		return nil, err
	}
	el, err := onlyItem(req.Payload)
	if err != nil {
		return nil, err
	}
	contact, err := itemJID(el)
	if err != nil {
		return nil, err
	}
	owner := req.To.Bare()
	// RFC 6121 §2.1.2.5: in a roster set, every 'subscription' value but
	// "remove" is ignored, as are 'ask' and 'approved' (§2.1.2.1, §2.1.2.2).
	if el.Get("subscription") == "remove" {
		return nil, r.remove(ctx, owner, contact)
	}
	name := el.Get("name")
	if len(name) > r.cfg.MaxNameLength {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "name too long"}
	}
	groups, err := r.groups(el)
	if err != nil {
		return nil, err
	}
	_, err = Update(ctx, r.h, owner, contact, func(it *Item) bool {
		it.Name, it.Groups, it.Hidden = name, groups, false
		return true
	})
	if errors.Is(err, ErrFull) {
		return nil, &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "roster size limit reached"}
	}
	return nil, err
}

// onlyItem returns the single <item/> of a roster set (RFC 6121 §2.3.3).
func onlyItem(q *stanza.Element) (*stanza.Element, error) {
	var item *stanza.Element
	for _, c := range q.Elements() {
		if c.Name.Space != NS || c.Name.Local != "item" {
			continue
		}
		if item != nil {
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "a roster set carries exactly one item"}
		}
		item = c
	}
	if item == nil {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "a roster set carries exactly one item"}
	}
	return item, nil
}

// itemJID returns the parsed 'jid' of an item.
func itemJID(item *stanza.Element) (jid.JID, error) {
	s := item.Get("jid")
	if s == "" {
		return jid.JID{}, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "item without jid"}
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: "invalid item jid"}
	}
	return j, nil
}

// groups returns the groups of an item, checked as RFC 6121 §2.3.3 asks:
// an empty or too long group is not-acceptable, a duplicate a bad-request.
func (r *rosterIQ) groups(item *stanza.Element) ([]string, error) {
	var groups []string
	for _, c := range item.Elements() {
		if c.Name.Space != NS || c.Name.Local != "group" {
			continue
		}
		g := c.Text()
		switch {
		case g == "":
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "empty group"}
		case len(g) > r.cfg.MaxGroupLength:
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "group name too long"}
		}
		for _, x := range groups {
			if x == g {
				return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "duplicate group"}
			}
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// remove deletes owner's item for contact and pushes its removal (RFC 6121
// §2.5.2), then tells the contact: unsubscribe when the user was subscribed
// to the contact, unsubscribed (and unavailable from every available
// resource) when the contact was subscribed to the user. A removed item
// that is not in the roster is item-not-found (§2.5.3).
func (r *rosterIQ) remove(ctx context.Context, owner, contact jid.JID) error {
	old, err := r.delete(ctx, owner, contact)
	if err != nil {
		return err
	}
	// Beyond RFC 6121 §2.5.2, which names only established subscriptions, a
	// pending outbound request is cancelled and a pending inbound one
	// denied, as Prosody and ejabberd do: the item that recorded them is
	// gone, so nothing would ever answer them.
	if old.Subscription.HasTo() || old.Ask {
		r.route(ctx, stanza.New(stanza.NSClient, "presence", "type", "unsubscribe", "from", owner.String(), "to", contact.String()))
	}
	if old.Subscription.HasFrom() || old.PendingIn != nil {
		r.route(ctx, stanza.New(stanza.NSClient, "presence", "type", "unsubscribed", "from", owner.String(), "to", contact.String()))
	}
	if old.Subscription.HasFrom() {
		for _, s := range r.h.Sessions(owner) {
			if s.Presence() != nil {
				r.route(ctx, stanza.New(stanza.NSClient, "presence", "type", "unavailable", "from", s.JID().String(), "to", contact.String()))
			}
		}
	}
	return nil
}

// delete removes the item under owner's lock and returns what it was.
func (r *rosterIQ) delete(ctx context.Context, owner, contact jid.JID) (Item, error) {
	defer lockOwner(owner.String())()
	m := r.h.Map(MapName)
	old, err := load(ctx, m, owner, contact)
	if err != nil {
		return Item{}, err
	}
	if !old.InRoster() {
		return Item{}, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found"}
	}
	err = m.Delete(ctx, owner.String(), contact.String())
	invalidate(r.h, owner)
	if err != nil {
		return Item{}, fmt.Errorf("roster of %s: deleting %s: %w", owner, contact, err)
	}
	ver, err := bumpVersion(ctx, r.h, owner)
	if err != nil {
		return Item{}, err
	}
	push(r.h, owner, removal(contact), ver)
	return old, nil
}

// route routes a stanza the server generates for the user; a failure is
// logged, the roster change stands.
func (r *rosterIQ) route(ctx context.Context, st *stanza.Element) {
	if err := r.h.Route(ctx, st); err != nil {
		r.h.Logger().Warn("routing roster presence failed", "to", st.Get("to"), "err", err)
	}
}

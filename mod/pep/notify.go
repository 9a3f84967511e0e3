package pep

import (
	"context"
	"time"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/stanza"
)

// notify sends event (a <event xmlns=NSEvent/>) about owner's node of
// configuration cfg to every entity that gets its notifications: the
// owner's available resources and the available resources of contacts
// subscribed to the owner's presence that the access model admits, each
// only when its capabilities ask for node+"+notify" (XEP-0163 §4.3).
func (p *service) notify(ctx context.Context, owner jid.JID, node string, cfg nodeConfig, event *stanza.Element) {
	if owner.Local() == "" {
		// A node of the standalone service: its subscribers (service.go).
		for _, s := range cfg.Subscriptions {
			if to, err := jid.Parse(s); err == nil {
				p.send(ctx, owner, to, event)
			}
		}
		return
	}
	want := node + "+notify"
	for _, to := range p.recipients(ctx, owner, cfg, want) {
		p.send(ctx, owner, to, event)
	}
}

// recipients returns the full JIDs of the entities that want (the
// +notify feature of a node) and may receive notifications of a node of
// configuration cfg.
func (p *service) recipients(ctx context.Context, owner jid.JID, cfg nodeConfig, want string) []jid.JID {
	var out []jid.JID
	for _, s := range p.h.Sessions(owner) {
		if feats, ok := p.caps.features(parseCaps(s.Presence())); ok && feats[want] {
			out = append(out, s.JID())
		}
	}
	contacts := map[jid.JID]bool{} // bare JID -> may be notified
	for entity, c := range p.interest.snapshot(owner) {
		feats, ok := p.caps.features(c)
		if !ok || !feats[want] {
			continue
		}
		bare := entity.Bare()
		allowed, seen := contacts[bare]
		if !seen {
			it, err := roster.Get(ctx, p.h, owner, bare)
			if err != nil {
				p.h.Logger().Error("reading roster for PEP notifications failed", "err", err)
				return out
			}
			allowed = mayNotify(cfg, it)
			contacts[bare] = allowed
		}
		if allowed {
			out = append(out, entity)
		}
	}
	return out
}

// send routes one notification from owner's bare JID (XEP-0163 §4.3:
// headline messages), or from the standalone service's domain.
func (p *service) send(ctx context.Context, owner, to jid.JID, children ...*stanza.Element) {
	msg := stanza.New(stanza.NSClient, "message", "from", owner.String(), "to", to.String(), "type", "headline", "id", stanza.NewID())
	for _, c := range children {
		msg.Append(c)
	}
	if err := p.h.Route(ctx, msg); err != nil {
		p.h.Logger().Debug("routing PEP notification failed", "err", err)
	}
}

// sendLast sends entity, which just announced features (an owner's
// resource or a contact), the last item of each of owner's nodes it wants
// notifications of and may read (XEP-0060 §12.20, XEP-0163 §4.3.4), with
// its publication time (XEP-0203).
func (p *service) sendLast(ctx context.Context, owner, entity jid.JID, feats map[string]bool) {
	nodes, err := p.store.all(ctx, owner)
	if err != nil {
		p.h.Logger().Error("loading PEP nodes failed", "err", err)
		return
	}
	var it *roster.Item
	for _, n := range nodes {
		if !feats[n.Name+"+notify"] || n.Config.SendLast == sendNever {
			continue
		}
		if entity.Bare() != owner {
			if it == nil {
				r, err := roster.Get(ctx, p.h, owner, entity.Bare())
				if err != nil {
					p.h.Logger().Error("reading roster for PEP failed", "err", err)
					return
				}
				it = &r
			}
			if !mayNotify(n.Config, *it) {
				continue
			}
		}
		items, err := p.store.itemsOf(ctx, owner, n.Name)
		if err != nil {
			p.h.Logger().Error("loading PEP items failed", "err", err)
			continue
		}
		if len(items) == 0 {
			continue
		}
		last := items[len(items)-1]
		el, err := last.element()
		if err != nil {
			p.h.Logger().Error("decoding PEP item failed", "err", err)
			continue
		}
		event := stanza.New(NSEvent, "event").Append(stanza.New(NSEvent, "items", "node", n.Name).Append(eventItem(el)))
		delay := stanza.New(NSDelay, "delay", "from", owner.String(), "stamp", last.Published.UTC().Format(time.RFC3339Nano))
		p.send(ctx, owner, entity, event, delay)
	}
}

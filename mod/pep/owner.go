package pep

import (
	"context"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// ownerSet answers <pubsub xmlns=NSOwner/> sets: configure (XEP-0060
// §8.2.4), purge (§8.5) and delete (§8.4). Only the account may.
func (p *service) ownerSet(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	action, err := ownerAction(req.Payload)
	if err != nil {
		return nil, err
	}
	if req.From.Bare() != req.To {
		return nil, notOwner()
	}
	owner := req.To
	switch action.Name.Local {
	case "configure":
		return nil, p.configure(ctx, owner, action)
	case "purge":
		return nil, p.purge(ctx, owner, action)
	case "delete":
		return nil, p.deleteNode(ctx, owner, action)
	case "affiliations":
		return nil, unsupported("modify-affiliations")
	case "subscriptions":
		return nil, unsupported("manage-subscriptions")
	}
	return nil, badRequest("unknown pubsub owner action " + action.Name.Local)
}

// ownerGet answers <pubsub xmlns=NSOwner/> gets: the configuration form
// of a node (XEP-0060 §8.2.1) and the default configuration (§8.3).
func (p *service) ownerGet(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	action, err := ownerAction(req.Payload)
	if err != nil {
		return nil, err
	}
	if req.From.Bare() != req.To {
		return nil, notOwner()
	}
	switch action.Name.Local {
	case "configure":
		node, err := p.nodeName(action)
		if err != nil {
			return nil, err
		}
		cfg, exists, err := p.store.node(ctx, req.To, node)
		if err != nil {
			return nil, err
		}
		if !exists {
			return nil, itemNotFound("no such node")
		}
		return stanza.New(NSOwner, "pubsub").Append(
			stanza.New(NSOwner, "configure", "node", node).Append(cfg.fullForm(p.cfg.MaxItems).Element())), nil
	case "default":
		return stanza.New(NSOwner, "pubsub").Append(
			stanza.New(NSOwner, "default").Append(defaultConfig().fullForm(p.cfg.MaxItems).Element())), nil
	case "affiliations":
		return nil, unsupported("modify-affiliations")
	case "subscriptions":
		return nil, unsupported("manage-subscriptions")
	}
	return nil, badRequest("unknown pubsub owner request " + action.Name.Local)
}

func ownerAction(ps *stanza.Element) (*stanza.Element, error) {
	var action *stanza.Element
	for _, c := range ps.Elements() {
		if c.Name.Space != NSOwner {
			continue
		}
		if action != nil {
			return nil, badRequest("more than one pubsub owner action")
		}
		action = c
	}
	if action == nil {
		return nil, badRequest("no pubsub owner action")
	}
	return action, nil
}

// configure applies a submitted configuration form (XEP-0060 §8.2.4); a
// cancelled form changes nothing.
func (p *service) configure(ctx context.Context, owner jid.JID, el *stanza.Element) error {
	node, err := p.nodeName(el)
	if err != nil {
		return err
	}
	f, err := optionsForm(el)
	if err != nil {
		return err
	}
	if f == nil {
		return badRequest("configure without a form")
	}
	if f.Type == stanza.FormCancel {
		return nil
	}
	if f.Type != stanza.FormSubmit || f.FormType() != NSNodeConfig && f.FormType() != "" {
		return badRequest("the configuration must be a submitted form of type " + NSNodeConfig)
	}
	defer lock(owner)()
	cfg, exists, err := p.store.node(ctx, owner, node)
	if err != nil {
		return err
	}
	if !exists {
		return itemNotFound("no such node")
	}
	next, err := cfg.apply(f, p.cfg.MaxItems)
	if err != nil {
		return &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: err.Error()}
	}
	if err := p.store.setNode(ctx, owner, node, next); err != nil {
		return err
	}
	// Fewer items allowed, or none persisted: drop what no longer fits.
	items, err := p.store.itemsOf(ctx, owner, node)
	if err != nil {
		return err
	}
	keep := items
	if !next.Persist {
		keep = nil
	} else {
		keep = trim(items, next.MaxItems)
	}
	if len(keep) != len(items) {
		return p.store.setItems(ctx, owner, node, keep)
	}
	return nil
}

// purge removes every item of a node and tells subscribers (XEP-0060 §8.5).
func (p *service) purge(ctx context.Context, owner jid.JID, el *stanza.Element) error {
	node, err := p.nodeName(el)
	if err != nil {
		return err
	}
	unlock := lock(owner)
	cfg, exists, err := p.store.node(ctx, owner, node)
	if err == nil && !exists {
		err = itemNotFound("no such node")
	}
	if err == nil {
		err = p.store.setItems(ctx, owner, node, nil)
	}
	unlock()
	if err != nil {
		return err
	}
	p.notify(ctx, owner, node, cfg, stanza.New(NSEvent, "event").Append(stanza.New(NSEvent, "purge", "node", node)))
	p.changed(ctx, owner, node)
	return nil
}

// deleteNode removes a node with its items and tells subscribers
// (XEP-0060 §8.4).
func (p *service) deleteNode(ctx context.Context, owner jid.JID, el *stanza.Element) error {
	node, err := p.nodeName(el)
	if err != nil {
		return err
	}
	unlock := lock(owner)
	cfg, exists, err := p.store.node(ctx, owner, node)
	if err == nil && !exists {
		err = itemNotFound("no such node")
	}
	if err == nil {
		err = p.store.deleteNode(ctx, owner, node)
	}
	unlock()
	if err != nil {
		return err
	}
	p.notify(ctx, owner, node, cfg, stanza.New(NSEvent, "event").Append(stanza.New(NSEvent, "delete", "node", node)))
	p.changed(ctx, owner, node)
	return nil
}

package pep

import (
	"context"
	"strconv"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// set answers <pubsub xmlns=NS/> sets: publish (with publish-options),
// retract and create (with configure).
func (p *service) set(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	action, extra, err := splitActions(req.Payload)
	if err != nil {
		return nil, err
	}
	switch action.Name.Local {
	case "publish", "retract", "create":
	case "subscribe", "unsubscribe", "options":
		return nil, unsupported("subscribe")
	default:
		return nil, badRequest("unknown pubsub action " + action.Name.Local)
	}
	if req.From.Bare() != req.To {
		return nil, notOwner()
	}
	owner := req.To
	switch action.Name.Local {
	case "publish":
		return p.publish(ctx, owner, action, extra, defaultConfig())
	case "retract":
		return nil, p.retract(ctx, owner, action)
	default:
		return nil, p.create(ctx, owner, action, extra, defaultConfig())
	}
}

// splitActions returns the action child of a <pubsub/> element and the
// element that may go with it (publish-options, configure), or bad-request.
func splitActions(ps *stanza.Element) (action, extra *stanza.Element, err error) {
	for _, c := range ps.Elements() {
		if c.Name.Space != ps.Name.Space {
			continue
		}
		switch c.Name.Local {
		case "publish-options", "configure":
			if extra != nil {
				return nil, nil, badRequest("more than one options element")
			}
			extra = c
		default:
			if action != nil {
				return nil, nil, badRequest("more than one pubsub action")
			}
			action = c
		}
	}
	if action == nil {
		// A lone <configure/> under NS has no meaning either.
		return nil, nil, badRequest("no pubsub action")
	}
	return action, extra, nil
}

// nodeName returns the validated 'node' attribute of el.
func (p *service) nodeName(el *stanza.Element) (string, error) {
	node := el.Get("node")
	if node == "" {
		return "", pubsubError("bad-request", "nodeid-required", "")
	}
	if len(node) > p.cfg.MaxNameLength {
		return "", &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "node name too long"}
	}
	return node, nil
}

// optionsForm returns the form inside a <publish-options/> or
// <configure/> element, nil when there is none.
func optionsForm(el *stanza.Element) (*stanza.Form, error) {
	if el == nil {
		return nil, nil
	}
	x := el.Child(stanza.NSData, "x")
	if x == nil {
		return nil, nil
	}
	f, err := stanza.ParseForm(x)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	return f, nil
}

// publish implements XEP-0060 §7.1 with auto-create (§7.1.4) and
// publish-options (§7.1.5); a node created gets defaults, changed by the
// options.
func (p *service) publish(ctx context.Context, owner jid.JID, pub, extra *stanza.Element, defaults nodeConfig) (*stanza.Element, error) {
	node, err := p.nodeName(pub)
	if err != nil {
		return nil, err
	}
	var opts *stanza.Form
	if extra != nil {
		if extra.Name.Local != "publish-options" {
			return nil, badRequest("configure does not go with publish")
		}
		if opts, err = optionsForm(extra); err != nil {
			return nil, err
		}
		if opts != nil && opts.Type != stanza.FormSubmit || opts != nil && opts.FormType() != NSPublishOptions {
			return nil, badRequest("publish-options must be a submitted form of type " + NSPublishOptions)
		}
	}
	var itemEl *stanza.Element
	for _, c := range pub.Elements() {
		if c.Name.Space == NS && c.Name.Local == "item" {
			if itemEl != nil {
				return nil, pubsubError("bad-request", "invalid-payload", "one item per publish")
			}
			itemEl = c
		}
	}
	if itemEl == nil {
		return nil, pubsubError("bad-request", "item-required", "")
	}
	payloads := itemEl.Elements()
	switch {
	case len(payloads) == 0:
		return nil, pubsubError("bad-request", "payload-required", "")
	case len(payloads) > 1:
		return nil, pubsubError("bad-request", "invalid-payload", "one payload element per item")
	}
	id := itemEl.Get("id")
	if id == "" {
		id = stanza.NewID()
	} else if len(id) > p.cfg.MaxNameLength {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "item id too long"}
	}
	// The item as notifications and retrieval show it: our id, the payload.
	stored := stanza.New(NS, "item", "id", id).Append(payloads[0])
	xml := stored.String()
	if len(xml) > p.cfg.MaxPayloadBytes {
		return nil, pubsubError("not-acceptable", "payload-too-big", "")
	}

	unlock := lock(owner)
	cfg, exists, err := p.store.node(ctx, owner, node)
	if err != nil {
		unlock()
		return nil, err
	}
	if exists {
		if opts != nil {
			if perr := cfg.meets(opts, p.cfg.MaxItems); perr != nil {
				unlock()
				return nil, pubsubError("conflict", "precondition-not-met", perr.Error())
			}
		}
	} else {
		cfg = defaults
		if opts != nil {
			if cfg, err = cfg.apply(opts, p.cfg.MaxItems); err != nil {
				unlock()
				return nil, pubsubError("conflict", "precondition-not-met", err.Error())
			}
		}
		if err := p.checkNodeCount(ctx, owner); err != nil {
			unlock()
			return nil, err
		}
		if err := p.store.setNode(ctx, owner, node, cfg); err != nil {
			unlock()
			return nil, err
		}
	}
	if cfg.Persist {
		items, err := p.store.itemsOf(ctx, owner, node)
		if err != nil {
			unlock()
			return nil, err
		}
		// A new item with an existing id replaces it and becomes the newest.
		kept := items[:0]
		for _, it := range items {
			if it.ID != id {
				kept = append(kept, it)
			}
		}
		kept = append(kept, item{ID: id, Published: time.Now().UTC(), XML: xml})
		if err := p.store.setItems(ctx, owner, node, trim(kept, cfg.MaxItems)); err != nil {
			unlock()
			return nil, err
		}
	}
	unlock()

	event := stanza.New(NSEvent, "event").Append(stanza.New(NSEvent, "items", "node", node).Append(eventItem(stored)))
	p.notify(ctx, owner, node, cfg, event)
	p.changed(ctx, owner, node)
	return stanza.New(NS, "pubsub").Append(
		stanza.New(NS, "publish", "node", node).Append(stanza.New(NS, "item", "id", id))), nil
}

// eventItem returns the stored <item/> in the event namespace.
func eventItem(it *stanza.Element) *stanza.Element {
	c := it.Copy()
	c.Name.Space = NSEvent
	return c
}

// checkNodeCount fails when owner may not have one more node. Caller holds
// owner's lock.
func (p *service) checkNodeCount(ctx context.Context, owner jid.JID) error {
	if p.cfg.MaxNodes <= 0 {
		return nil
	}
	n, err := p.store.countNodes(ctx, owner)
	if err != nil {
		return err
	}
	if n >= p.cfg.MaxNodes {
		return &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many nodes"}
	}
	return nil
}

// retract implements XEP-0060 §7.2.
func (p *service) retract(ctx context.Context, owner jid.JID, el *stanza.Element) error {
	node, err := p.nodeName(el)
	if err != nil {
		return err
	}
	var ids []string
	for _, c := range el.Elements() {
		if c.Name.Space == NS && c.Name.Local == "item" {
			if c.Get("id") == "" {
				return pubsubError("bad-request", "item-required", "")
			}
			ids = append(ids, c.Get("id"))
		}
	}
	if len(ids) == 0 {
		return pubsubError("bad-request", "item-required", "")
	}
	notify, _ := parseBool(el.Get("notify"))
	unlock := lock(owner)
	cfg, exists, err := p.store.node(ctx, owner, node)
	if err != nil || !exists {
		unlock()
		if err == nil {
			err = itemNotFound("no such node")
		}
		return err
	}
	items, err := p.store.itemsOf(ctx, owner, node)
	if err != nil {
		unlock()
		return err
	}
	var kept []item
	var gone []string
	for _, it := range items {
		if contains(ids, it.ID) {
			gone = append(gone, it.ID)
		} else {
			kept = append(kept, it)
		}
	}
	if len(gone) == 0 {
		unlock()
		return itemNotFound("no such item")
	}
	if err := p.store.setItems(ctx, owner, node, kept); err != nil {
		unlock()
		return err
	}
	unlock()
	if notify || cfg.NotifyRetract {
		its := stanza.New(NSEvent, "items", "node", node)
		for _, id := range gone {
			its.Append(stanza.New(NSEvent, "retract", "id", id))
		}
		p.notify(ctx, owner, node, cfg, stanza.New(NSEvent, "event").Append(its))
	}
	p.changed(ctx, owner, node)
	return nil
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// create implements XEP-0060 §8.1 (with §8.1.3 create-and-configure),
// the node starting from defaults. Instant nodes are not offered.
func (p *service) create(ctx context.Context, owner jid.JID, el, extra *stanza.Element, defaults nodeConfig) error {
	if el.Get("node") == "" {
		return pubsubError("not-acceptable", "nodeid-required", "")
	}
	node, err := p.nodeName(el)
	if err != nil {
		return err
	}
	cfg := defaults
	if extra != nil {
		if extra.Name.Local != "configure" {
			return badRequest("publish-options do not go with create")
		}
		f, err := optionsForm(extra)
		if err != nil {
			return err
		}
		if f != nil {
			if f.Type != stanza.FormSubmit {
				return badRequest("the configuration must be a submitted form")
			}
			if cfg, err = cfg.apply(f, p.cfg.MaxItems); err != nil {
				return &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: err.Error()}
			}
		}
	}
	defer lock(owner)()
	_, exists, err := p.store.node(ctx, owner, node)
	if err != nil {
		return err
	}
	if exists {
		return &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "node exists"}
	}
	if err := p.checkNodeCount(ctx, owner); err != nil {
		return err
	}
	return p.store.setNode(ctx, owner, node, cfg)
}

// get answers <pubsub xmlns=NS/> gets: items retrieval (XEP-0060 §6.5).
func (p *service) get(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	action, _, err := splitActions(req.Payload)
	if err != nil {
		return nil, err
	}
	switch action.Name.Local {
	case "items":
	case "subscriptions", "options":
		return nil, unsupported("retrieve-subscriptions")
	case "affiliations":
		return nil, unsupported("retrieve-affiliations")
	default:
		return nil, badRequest("unknown pubsub request " + action.Name.Local)
	}
	node, err := p.nodeName(action)
	if err != nil {
		return nil, err
	}
	owner := req.To
	cfg, exists, err := p.store.node(ctx, owner, node)
	if err != nil {
		return nil, err
	}
	if !exists {
		// The router's error reply echoes the request's <pubsub/>.
		// COMPAT: Profanity only creates its OMEMO device list when
		// the item-not-found it gets carries it.
		return nil, itemNotFound("no such node")
	}
	if err := p.mayRead(ctx, owner, req.From, cfg); err != nil {
		return nil, err
	}
	items, err := p.store.itemsOf(ctx, owner, node)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range action.Elements() {
		if c.Name.Space == NS && c.Name.Local == "item" && c.Get("id") != "" {
			ids = append(ids, c.Get("id"))
		}
	}
	if ids != nil {
		var sel []item
		for _, it := range items {
			if contains(ids, it.ID) {
				sel = append(sel, it)
			}
		}
		items = sel
	} else if m := action.Get("max_items"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return nil, badRequest("max_items is not a number")
		}
		items = trim(items, n)
	}
	out := stanza.New(NS, "items", "node", node)
	for _, it := range items {
		el, err := it.element()
		if err != nil {
			return nil, err
		}
		out.Append(el)
	}
	return stanza.New(NS, "pubsub").Append(out), nil
}

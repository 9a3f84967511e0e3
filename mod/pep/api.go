package pep

import (
	"context"
	"errors"
	"sync"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// The API below lets other modules (the XEP-0402 bookmarks compatibility
// of hearth/mod/private) use an account's PEP service as its owner would,
// notifications included. They must declare Requires("pep").

// hostKey identifies one virtual host of one server: the API receives
// another module's *module.Host and finds the service of the same host.
type hostKey struct {
	store  storage.Store
	domain string
}

// services maps a hostKey to the *service started on that host.
var services sync.Map

// register records p for h's virtual host until the server stops.
func register(h *module.Host, p *service) {
	k := hostKey{h.Store(), h.Domain()}
	services.Store(k, p)
	h.Go(func(ctx context.Context) {
		<-ctx.Done()
		services.CompareAndDelete(k, p)
	})
}

// ErrNotRunning is returned by the API when the pep module does not run on
// the host.
var ErrNotRunning = errors.New("pep: module not running on this host")

func serviceFor(h *module.Host) (*service, error) {
	if p, ok := services.Load(hostKey{h.Store(), h.Domain()}); ok {
		return p.(*service), nil
	}
	return nil, ErrNotRunning
}

// Item is one item of a node: its id and payload.
type Item struct {
	ID      string
	Payload *stanza.Element
}

// Items returns the items of owner's node, oldest first (none when the
// node does not exist).
func Items(ctx context.Context, h *module.Host, owner jid.JID, node string) ([]Item, error) {
	p, err := serviceFor(h)
	if err != nil {
		return nil, err
	}
	items, err := p.store.itemsOf(ctx, owner.Bare(), node)
	if err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(items))
	for _, it := range items {
		el, err := it.element()
		if err != nil {
			return nil, err
		}
		out = append(out, Item{ID: it.ID, Payload: el.FirstElement()})
	}
	return out, nil
}

// Publish publishes payload as item id of owner's node, as the owner would
// (XEP-0060 §7.1). A node that does not exist yet is created with the
// configuration options (pubsub#... field, value pairs); an existing node
// keeps its configuration. Errors are *stanza.Error values or storage
// errors.
func Publish(ctx context.Context, h *module.Host, owner jid.JID, node, id string, payload *stanza.Element, options ...string) error {
	p, err := serviceFor(h)
	if err != nil {
		return err
	}
	owner = owner.Bare()
	pub := stanza.New(NS, "publish", "node", node).Append(stanza.New(NS, "item", "id", id).Append(payload))
	var extra *stanza.Element
	if len(options) > 0 {
		f := &stanza.Form{Type: stanza.FormSubmit, Fields: []stanza.Field{{Var: fieldType, Type: stanza.FieldHidden, Values: []string{NSPublishOptions}}}}
		for i := 0; i+1 < len(options); i += 2 {
			f.Fields = append(f.Fields, stanza.Field{Var: options[i], Values: []string{options[i+1]}})
		}
		extra = stanza.New(NS, "publish-options").Append(f.Element())
	}
	_, err = p.publish(ctx, owner, pub, extra, defaultConfig())
	var se *stanza.Error
	if extra != nil && errors.As(err, &se) && se.App != nil && se.App.Name.Local == "precondition-not-met" {
		_, err = p.publish(ctx, owner, pub, nil, defaultConfig())
	}
	return err
}

// Retract retracts items of owner's node and notifies subscribers
// (XEP-0060 §7.2). Unknown ids are ignored; an absent node is not an error.
func Retract(ctx context.Context, h *module.Host, owner jid.JID, node string, ids ...string) error {
	p, err := serviceFor(h)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	el := stanza.New(NS, "retract", "node", node, "notify", "true")
	for _, id := range ids {
		el.Append(stanza.New(NS, "item", "id", id))
	}
	err = p.retract(ctx, owner.Bare(), el)
	var se *stanza.Error
	if errors.As(err, &se) && se.Condition == "item-not-found" {
		return nil
	}
	return err
}

// ChangeHook is told that owner's node changed: an item was published or
// retracted, the node purged or deleted (by the owner or through this
// API). It runs after the change is stored and notified, with no lock held,
// in the goroutine that made the change; it may use this API, also on the
// same node (a hook that publishes must stop when nothing changes).
type ChangeHook func(ctx context.Context, owner jid.JID, node string)

// OnChange registers fn for changes of node on h's virtual host. It may
// only be called from a start function (of a module that requires pep).
func OnChange(h *module.Host, node string, fn ChangeHook) error {
	p, err := serviceFor(h)
	if err != nil {
		return err
	}
	p.hooksMu.Lock()
	defer p.hooksMu.Unlock()
	if p.hooks == nil {
		p.hooks = map[string][]ChangeHook{}
	}
	p.hooks[node] = append(p.hooks[node], fn)
	return nil
}

// changed runs the change hooks of node.
func (p *service) changed(ctx context.Context, owner jid.JID, node string) {
	p.hooksMu.Lock()
	hooks := p.hooks[node]
	p.hooksMu.Unlock()
	for _, fn := range hooks {
		fn(ctx, owner, node)
	}
}

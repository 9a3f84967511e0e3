package pep

import (
	"context"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

var _ module.AccountNodes = (*service)(nil)

// Items lists the nodes of account that from may read (XEP-0163 §8,
// XEP-0060 §5.2), or the items of one node (§5.5).
func (p *service) Items(ctx context.Context, account, from jid.JID, node string) ([]*stanza.Element, error) {
	if node != "" {
		cfg, exists, err := p.store.node(ctx, account, node)
		if err != nil {
			return nil, err
		}
		if !exists || p.mayRead(ctx, account, from, cfg) != nil {
			return nil, itemNotFound("no such node")
		}
		items, err := p.store.itemsOf(ctx, account, node)
		if err != nil {
			return nil, err
		}
		out := make([]*stanza.Element, 0, len(items))
		for _, it := range items {
			out = append(out, stanza.New(NSDiscoItems, "item", "jid", account.String(), "name", it.ID))
		}
		return out, nil
	}
	nodes, err := p.store.all(ctx, account)
	if err != nil {
		return nil, err
	}
	var out []*stanza.Element
	for _, n := range nodes {
		if p.mayRead(ctx, account, from, n.Config) != nil {
			continue
		}
		el := stanza.New(NSDiscoItems, "item", "jid", account.String(), "node", n.Name)
		out = append(out, el.Set("name", n.Config.Title))
	}
	return out, nil
}

// NodeInfo describes one node of account: a leaf node of a pubsub service
// (XEP-0060 §5.3).
func (p *service) NodeInfo(ctx context.Context, account, from jid.JID, node string) ([]*stanza.Element, error) {
	cfg, exists, err := p.store.node(ctx, account, node)
	if err != nil {
		return nil, err
	}
	if !exists || p.mayRead(ctx, account, from, cfg) != nil {
		return nil, itemNotFound("no such node")
	}
	return []*stanza.Element{
		stanza.New(NSDiscoInfo, "identity", "category", "pubsub", "type", "leaf"),
		stanza.New(NSDiscoInfo, "feature", "var", NS),
	}, nil
}

package pep

import (
	"context"
	"slices"
	"strings"
	"time"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// importMaxItems is the largest max_items an import accepts: the dump
// comes from a server whose limit this one cannot know; the configured
// limit applies again to the next publish-options or configure.
const importMaxItems = 1 << 20

// Export returns owner's nodes in the form XEP-0227 gives them: a
// <pubsub xmlns=NSOwner/> with one <configure/> (a submitted
// configuration form) per node, then a <pubsub xmlns=NS/> with the items
// of each node, oldest first. Nodes are in bytewise order of their names;
// nothing is returned for an account without nodes. It reads st directly:
// the server need not run (hearth/dump).
func Export(ctx context.Context, st storage.Store, owner jid.JID) ([]*stanza.Element, error) {
	s := store{nodes: st.Map(NodesMapName), items: st.Map(ItemsMapName)}
	owner = owner.Bare()
	nodes, err := s.all(ctx, owner)
	if err != nil || len(nodes) == 0 {
		return nil, err
	}
	slices.SortFunc(nodes, func(a, b nodeEntry) int { return strings.Compare(a.Name, b.Name) })
	configs := stanza.New(NSOwner, "pubsub")
	items := stanza.New(NS, "pubsub")
	for _, n := range nodes {
		// A submitted form: values and types (several values need one),
		// no labels or options.
		f := n.Config.form(n.Config.MaxItems)
		f.Type = stanza.FormSubmit
		for i := range f.Fields {
			f.Fields[i].Label, f.Fields[i].Options = "", nil
		}
		configs.Append(stanza.New(NSOwner, "configure", "node", n.Name).Append(f.Element()))
		its, err := s.itemsOf(ctx, owner, n.Name)
		if err != nil {
			return nil, err
		}
		if len(its) == 0 {
			continue
		}
		el := stanza.New(NS, "items", "node", n.Name)
		for _, it := range its {
			x, err := it.element()
			if err != nil {
				return nil, err
			}
			el.Append(x)
		}
		items.Append(el)
	}
	out := []*stanza.Element{configs}
	if len(items.Children) > 0 {
		out = append(out, items)
	}
	return out, nil
}

// Import stores the nodes of the <pubsub/> elements Export writes (either
// namespace, in document order) for owner, an account without nodes. A
// node with items but no configuration gets the default one.
func Import(ctx context.Context, st storage.Store, owner jid.JID, els []*stanza.Element) error {
	s := store{nodes: st.Map(NodesMapName), items: st.Map(ItemsMapName)}
	owner = owner.Bare()
	for _, ps := range els {
		for _, c := range ps.Elements() {
			node := c.Get("node")
			if node == "" {
				continue
			}
			switch {
			case ps.Name.Space == NSOwner && c.Name.Local == "configure":
				cfg := defaultConfig()
				f, err := optionsForm(c)
				if err != nil {
					return err
				}
				if f != nil {
					if cfg, err = cfg.apply(f, importMaxItems); err != nil {
						return err
					}
				}
				if err := s.setNode(ctx, owner, node, cfg); err != nil {
					return err
				}
			case ps.Name.Space == NS && c.Name.Local == "items":
				cfg, exists, err := s.node(ctx, owner, node)
				if err != nil {
					return err
				}
				if !exists {
					cfg = defaultConfig()
					if err := s.setNode(ctx, owner, node, cfg); err != nil {
						return err
					}
				}
				var its []item
				now := time.Now().UTC()
				for _, x := range c.Elements() {
					if x.Name.Local != "item" || len(x.Elements()) != 1 {
						continue
					}
					id := x.Get("id")
					if id == "" {
						id = stanza.NewID()
					}
					stored := stanza.New(NS, "item", "id", id).Append(x.FirstElement())
					its = append(its, item{ID: id, Published: now, XML: stored.String()})
				}
				if err := s.setItems(ctx, owner, node, trim(its, max(cfg.MaxItems, 1))); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

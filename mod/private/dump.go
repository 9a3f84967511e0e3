package private

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"hearth/jid"
	"hearth/mod/pep"
	"hearth/stanza"
	"hearth/storage"
)

// Export returns owner's private XML (XEP-0227: a <query
// xmlns='jabber:iq:private'/> with the stored elements, in bytewise order
// of their names), or nothing. Bookmarks are not in it: they live in PEP
// and are exported with it. It reads st directly (hearth/dump).
func Export(ctx context.Context, st storage.Store, owner jid.JID) ([]*stanza.Element, error) {
	entries, err := st.Map(MapName).All(ctx, owner.Bare().String())
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b storage.Entry) int { return strings.Compare(a.Key, b.Key) })
	q := stanza.New(NS, "query")
	for _, e := range entries {
		el, err := stanza.NewDecoder(strings.NewReader(string(e.Value)), stanza.Limits{}).Next()
		if err != nil {
			return nil, err
		}
		q.Append(el)
	}
	return []*stanza.Element{q}, nil
}

// Import stores the elements of the <query/> elements in els for owner.
// XEP-0048 bookmarks (storage:bookmarks), which other servers keep in
// private XML, become the XEP-0402 node they are in here (bookmarks.go);
// conferences without a valid room JID are dropped. A dump of hearth has
// them in its PEP section, imported after this one.
func Import(ctx context.Context, st storage.Store, owner jid.JID, els []*stanza.Element) error {
	m := st.Map(MapName)
	for _, q := range els {
		for _, el := range q.Elements() {
			if el.Name.Space == NSBookmarks && el.Name.Local == "storage" {
				if err := importBookmarks(ctx, st, owner, el); err != nil {
					return err
				}
				continue
			}
			switch el.Name.Space {
			case NS, stanza.NSClient, stanza.NSServer, "":
				continue
			}
			if err := m.Set(ctx, owner.Bare().String(), key(el), []byte(el.String())); err != nil {
				return err
			}
		}
	}
	return nil
}

// importBookmarks stores a XEP-0048 <storage/> as owner's XEP-0402 node,
// configured as XEP-0402 says.
func importBookmarks(ctx context.Context, st storage.Store, owner jid.JID, storageEl *stanza.Element) error {
	items := stanza.New(pep.NS, "items", "node", NSBookmarks2)
	n := 0
	for _, c := range storageEl.Elements() {
		if c.Name.Space != NSBookmarks || c.Name.Local != "conference" {
			continue
		}
		id, conf, err := convert(c)
		if err != nil {
			continue
		}
		items.Append(stanza.New(pep.NS, "item", "id", id).Append(conf))
		n++
	}
	if n == 0 {
		return nil
	}
	f := &stanza.Form{Type: stanza.FormSubmit, Fields: []stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{pep.NSNodeConfig}},
		{Var: "pubsub#persist_items", Values: []string{"1"}},
		{Var: "pubsub#max_items", Values: []string{strconv.Itoa(max(n, pep.DefaultMaxItems))}},
		{Var: "pubsub#send_last_published_item", Values: []string{"never"}},
		{Var: "pubsub#access_model", Values: []string{"whitelist"}},
	}}
	configure := stanza.New(pep.NSOwner, "pubsub").Append(stanza.New(pep.NSOwner, "configure", "node", NSBookmarks2).Append(f.Element()))
	return pep.Import(ctx, st, owner, []*stanza.Element{configure, stanza.New(pep.NS, "pubsub").Append(items)})
}

package private

import (
	"context"

	"hearth/jid"
	"hearth/mod/pep"
	"hearth/stanza"
)

// bookmarkOptions are the node options XEP-0402 gives for the
// bookmarks node, used when the compatibility layer creates it.
var bookmarkOptions = []string{
	"pubsub#persist_items", "true",
	"pubsub#max_items", "max",
	"pubsub#send_last_published_item", "never",
	"pubsub#access_model", "whitelist",
}

// bookmarks returns owner's XEP-0402 bookmarks as a XEP-0048 <storage/>
// (as XEP-0402 asks for compatibility). Extensions have no XEP-0048 form and are left out.
func (p *store) bookmarks(ctx context.Context, owner jid.JID) (*stanza.Element, error) {
	items, err := pep.Items(ctx, p.h, owner, NSBookmarks2)
	if err != nil {
		return nil, err
	}
	st := stanza.New(NSBookmarks, "storage")
	for _, it := range items {
		c := it.Payload
		if c == nil || c.Name.Space != NSBookmarks2 || c.Name.Local != "conference" {
			continue
		}
		conf := stanza.New(NSBookmarks, "conference", "jid", it.ID).Set("name", c.Get("name"))
		if a := c.Get("autojoin"); a == "true" || a == "1" {
			conf.Set("autojoin", "true")
		}
		for _, child := range []string{"nick", "password"} {
			if el := c.Child(NSBookmarks2, child); el != nil {
				conf.Append(stanza.New(NSBookmarks, child).AppendText(el.Text()))
			}
		}
		st.Append(conf)
	}
	return st, nil
}

// setBookmarks makes owner's XEP-0402 bookmarks those of a XEP-0048
// <storage/>: new and changed conferences are published, conferences no
// longer listed retracted (as XEP-0402 asks for compatibility), so clients on either
// specification are notified. <url/> bookmarks have no XEP-0402 form and
// are dropped.
func (p *store) setBookmarks(ctx context.Context, owner jid.JID, st *stanza.Element) error {
	existing, err := pep.Items(ctx, p.h, owner, NSBookmarks2)
	if err != nil {
		return err
	}
	old := map[string]string{}
	for _, it := range existing {
		if it.Payload != nil {
			old[it.ID] = it.Payload.String()
		}
	}
	keep := map[string]bool{}
	for _, c := range st.Elements() {
		if c.Name.Space != NSBookmarks || c.Name.Local != "conference" {
			continue
		}
		id, conf, err := convert(c)
		if err != nil {
			return err
		}
		keep[id] = true
		if old[id] == conf.String() {
			continue
		}
		if err := pep.Publish(ctx, p.h, owner, NSBookmarks2, id, conf, bookmarkOptions...); err != nil {
			return err
		}
	}
	var gone []string
	for _, it := range existing {
		if !keep[it.ID] {
			gone = append(gone, it.ID)
		}
	}
	return pep.Retract(ctx, p.h, owner, NSBookmarks2, gone...)
}

// convert returns the XEP-0402 item id and <conference/> of a XEP-0048
// <conference/>, or bad-request when its room JID is not a valid bare JID.
func convert(c *stanza.Element) (string, *stanza.Element, error) {
	room, err := jid.Parse(c.Get("jid"))
	if err != nil || room.Local() == "" || !room.IsBare() {
		return "", nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "conference without a valid room jid"}
	}
	conf := stanza.New(NSBookmarks2, "conference").Set("name", c.Get("name"))
	if a := c.Get("autojoin"); a == "true" || a == "1" {
		conf.Set("autojoin", "true")
	}
	for _, child := range []string{"nick", "password"} {
		if el := c.Child(NSBookmarks, child); el != nil {
			conf.Append(stanza.New(NSBookmarks2, child).AppendText(el.Text()))
		}
	}
	return room.String(), conf, nil
}

package private

import (
	"context"

	"hearth/jid"
	"hearth/mod/pep"
	"hearth/stanza"
)

// NSConversion is the account feature of XEP-0411: XEP-0048 bookmarks
// published in PEP (node storage:bookmarks, item "current") are the same
// bookmarks as those in private XML storage, which hearth keeps in the
// XEP-0402 node (bookmarks.go).
const NSConversion = "urn:xmpp:bookmarks-conversion:0"

// legacyItem is the item id XEP-0048 §3 uses in the storage:bookmarks node.
const legacyItem = "current"

// startConversion ties the storage:bookmarks PEP node to the XEP-0402
// node both ways. Each direction publishes only what differs, so a change
// goes around once and stops.
func (p *store) startConversion() error {
	if err := pep.OnChange(p.h, NSBookmarks, p.legacyChanged); err != nil {
		return err
	}
	return pep.OnChange(p.h, NSBookmarks2, p.modernChanged)
}

// convertingKey marks the context of a conversion into the XEP-0402 node:
// the item-by-item changes it makes are not mirrored back one by one.
type convertingKey struct{}

// legacyChanged takes a XEP-0048 <storage/> published in PEP into the
// XEP-0402 node (XEP-0411 §3). The published <storage/> stays as the
// client wrote it.
func (p *store) legacyChanged(ctx context.Context, owner jid.JID, _ string) {
	if ctx.Value(convertingKey{}) != nil {
		return
	}
	st, err := p.legacy(ctx, owner)
	if err != nil || st == nil {
		return
	}
	if err := p.setBookmarks(context.WithValue(ctx, convertingKey{}, true), owner, st); err != nil {
		p.h.Logger().Info("converting PEP storage:bookmarks failed", "err", err)
	}
}

// modernChanged republishes the storage:bookmarks PEP node from the
// XEP-0402 node, when a client uses that node at all and it differs.
func (p *store) modernChanged(ctx context.Context, owner jid.JID, _ string) {
	if ctx.Value(convertingKey{}) != nil {
		return
	}
	p.mirror(ctx, owner)
}

// mirror republishes the storage:bookmarks PEP node from the XEP-0402
// node when the former exists and differs.
func (p *store) mirror(ctx context.Context, owner jid.JID) {
	cur, err := p.legacy(ctx, owner)
	if err != nil || cur == nil {
		return
	}
	st, err := p.bookmarks(ctx, owner)
	if err != nil {
		p.h.Logger().Error("reading bookmarks failed", "err", err)
		return
	}
	if st.String() == cur.String() {
		return
	}
	ctx = context.WithValue(ctx, convertingKey{}, true)
	if err := pep.Publish(ctx, p.h, owner, NSBookmarks, legacyItem, st, bookmarkOptions...); err != nil {
		p.h.Logger().Info("publishing PEP storage:bookmarks failed", "err", err)
	}
}

// legacy returns the <storage/> of owner's storage:bookmarks PEP node, nil
// when there is none.
func (p *store) legacy(ctx context.Context, owner jid.JID) (*stanza.Element, error) {
	items, err := pep.Items(ctx, p.h, owner, NSBookmarks)
	if err != nil {
		return nil, err
	}
	for i := len(items) - 1; i >= 0; i-- {
		if pl := items[i].Payload; pl != nil && pl.Name.Space == NSBookmarks && pl.Name.Local == "storage" {
			return pl, nil
		}
	}
	return nil, nil
}

package roster

import (
	"hearth/jid"
	"hearth/mod/internal/online"
)

// The rosters of online accounts are kept in memory (online.Cache): a
// login reads its roster three times (the roster get, the initial presence
// broadcast and the unavailable broadcast when the session ends), and
// every presence probe, subscription stanza and PEP notification of a
// contact reads an item. Every change made through this package (Update,
// roster sets) invalidates the owner's entry after it is stored, under
// the owner's lock.
type cache = online.Cache[[]Item]

// cachedItems returns owner's items through c; load reads them from
// storage.
func cachedItems(c *cache, owner jid.JID, load func() ([]Item, error)) ([]Item, error) {
	items, err := c.Get(owner, load)
	if err != nil {
		return nil, err
	}
	return cloneItems(items), nil
}

// cachedItem returns owner's item for contact from a loaded entry; ok is
// false when the entry holds no items (the caller reads storage).
func cachedItem(c *cache, owner, contact jid.JID) (it Item, ok bool) {
	items, ok := c.Peek(owner)
	if !ok {
		return Item{}, false
	}
	for i := range items {
		if items[i].JID == contact {
			return items[i].clone(), true
		}
	}
	// Not stored: what load returns for an absent item.
	return Item{JID: contact, Hidden: true}, true
}

// cloneItems copies items so that neither the cache nor its callers see
// the other's changes.
func cloneItems(items []Item) []Item {
	out := make([]Item, len(items))
	for i := range items {
		out[i] = items[i].clone()
	}
	return out
}

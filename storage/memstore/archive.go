package memstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"hearth/storage"
)

// record is an archived item with its insertion sequence number, which
// orders items of equal time.
type record struct {
	storage.Item
	seq uint64
}

// compare orders records as archives are ordered: by time, then insertion.
func (r record) compare(o record) int {
	return cmp.Or(r.Time.Compare(o.Time), cmp.Compare(r.seq, o.seq))
}

// idRef locates an item id in the store.
type idRef struct {
	name, owner string
	time        time.Time
	seq         uint64
}

// archive implements storage.Archive on a store.
type archive struct {
	s    *store
	name string
}

var _ storage.Archive = archive{}

func (a archive) Append(ctx context.Context, owner string, item storage.Item) (storage.Item, error) {
	if err := ctx.Err(); err != nil {
		return storage.Item{}, err
	}
	if item.Time.IsZero() {
		item.Time = time.Now()
	}
	item.Time = normTime(item.Time)
	item.Data = clone(item.Data)
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if item.ID == "" {
		item.ID = storage.NewItemID()
	} else if _, ok := a.s.ids[item.ID]; ok {
		return storage.Item{}, storage.ErrExists
	}
	a.s.seq++
	r := record{item, a.s.seq}
	owners := a.s.archives[a.name]
	if owners == nil {
		owners = map[string][]record{}
		a.s.archives[a.name] = owners
	}
	items := owners[owner]
	// The new record sorts after every record of the same time.
	i, _ := slices.BinarySearchFunc(items, r, record.compare)
	owners[owner] = slices.Insert(items, i, r)
	a.s.ids[item.ID] = idRef{a.name, owner, r.Time, r.seq}
	item.Data = clone(item.Data)
	return item, nil
}

// position returns the index of item id in items, or ErrNotFound when id is
// not an item of owner in this archive. Caller holds a.s.mu.
func (a archive) position(owner string, items []record, id string) (int, error) {
	ref, ok := a.s.ids[id]
	if !ok || ref.name != a.name || ref.owner != owner {
		return 0, storage.ErrNotFound
	}
	i, found := slices.BinarySearchFunc(items, record{storage.Item{Time: ref.time}, ref.seq}, record.compare)
	if !found {
		panic("memstore: id index out of step with archive")
	}
	return i, nil
}

func (a archive) Query(ctx context.Context, owner string, q storage.Query) (storage.Result, error) {
	if err := ctx.Err(); err != nil {
		return storage.Result{}, err
	}
	a.s.mu.RLock()
	defer a.s.mu.RUnlock()
	items := a.s.archives[a.name][owner]
	// lo and hi bound the positions (exclusive hi) AfterID and BeforeID allow.
	lo, hi := 0, len(items)
	if q.AfterID != "" {
		i, err := a.position(owner, items, q.AfterID)
		if err != nil {
			return storage.Result{}, err
		}
		lo = i + 1
	}
	if q.BeforeID != "" {
		i, err := a.position(owner, items, q.BeforeID)
		if err != nil {
			return storage.Result{}, err
		}
		hi = i
	}
	var ids map[string]bool
	if len(q.IDs) > 0 {
		ids = make(map[string]bool, len(q.IDs))
		for _, id := range q.IDs {
			ids[id] = true
		}
	}
	var res storage.Result
	var page []int // indices of the matching items within [lo, hi)
	for i, r := range items {
		if !matches(r.Item, q, ids) {
			continue
		}
		res.Count++
		if lo <= i && i < hi {
			page = append(page, i)
		}
	}
	res.Complete = true
	if q.Limit > 0 && len(page) > q.Limit {
		res.Complete = false
		if q.Last {
			page = page[len(page)-q.Limit:]
		} else {
			page = page[:q.Limit]
		}
	}
	if q.CountLimit > 0 && res.Count > q.CountLimit {
		res.Count = -1
	}
	res.Items = make([]storage.Item, 0, len(page))
	for _, i := range page {
		it := items[i].Item
		it.Data = clone(it.Data)
		res.Items = append(res.Items, it)
	}
	return res, nil
}

// matches reports whether it passes the filter of q (everything but paging).
func matches(it storage.Item, q storage.Query, ids map[string]bool) bool {
	if !q.Start.IsZero() && it.Time.Before(q.Start) || !q.End.IsZero() && it.Time.After(q.End) {
		return false
	}
	if q.With != "" && it.With != q.With && !(q.WithPrefix && strings.HasPrefix(it.With, q.With+"/")) {
		return false
	}
	return ids == nil || ids[it.ID]
}

func (a archive) Get(ctx context.Context, owner, id string) (storage.Item, error) {
	if err := ctx.Err(); err != nil {
		return storage.Item{}, err
	}
	a.s.mu.RLock()
	defer a.s.mu.RUnlock()
	items := a.s.archives[a.name][owner]
	i, err := a.position(owner, items, id)
	if err != nil {
		return storage.Item{}, err
	}
	it := items[i].Item
	it.Data = clone(it.Data)
	return it, nil
}

func (a archive) Delete(ctx context.Context, owner string, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	drop := map[string]bool{}
	for _, id := range ids {
		if ref, ok := a.s.ids[id]; ok && ref.name == a.name && ref.owner == owner {
			drop[id] = true
		}
	}
	if len(drop) == 0 {
		return nil
	}
	a.removeIf(owner, func(r record) bool { return drop[r.ID] })
	return nil
}

// removeIf removes the items of owner for which del is true and returns how
// many. Caller holds a.s.mu for writing.
func (a archive) removeIf(owner string, del func(record) bool) int64 {
	owners := a.s.archives[a.name]
	items := owners[owner]
	kept := slices.DeleteFunc(items, func(r record) bool {
		if del(r) {
			delete(a.s.ids, r.ID)
			return true
		}
		return false
	})
	n := int64(len(items) - len(kept))
	if len(kept) == 0 {
		delete(owners, owner)
	} else {
		owners[owner] = kept
	}
	return n
}

func (a archive) DeleteBefore(ctx context.Context, owner string, t time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	old := func(r record) bool { return r.Time.Before(t) }
	if owner != "" {
		return a.removeIf(owner, old), nil
	}
	var n int64
	for o := range a.s.archives[a.name] {
		n += a.removeIf(o, old)
	}
	return n, nil
}

func (a archive) Count(ctx context.Context, owner string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	a.s.mu.RLock()
	defer a.s.mu.RUnlock()
	return len(a.s.archives[a.name][owner]), nil
}

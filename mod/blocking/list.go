package blocking

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"hearth/jid"
)

// list is one user's blocklist. It is never changed once built: a change
// builds a new list, so readers need no lock.
type list struct {
	items map[jid.JID]struct{}
	// domains holds the domain of every item: every rule matches JIDs at
	// the item's domain only, so most stanzas are cleared by one lookup.
	domains map[string]struct{}
	jids    []jid.JID // the items sorted by their string form, for results
}

// emptyList is the blocklist of every user who blocks nobody.
var emptyList = &list{}

func newList(jids []jid.JID) *list {
	if len(jids) == 0 {
		return emptyList
	}
	l := &list{items: make(map[jid.JID]struct{}, len(jids)), domains: map[string]struct{}{}}
	for _, j := range jids {
		if _, dup := l.items[j]; !dup {
			l.items[j] = struct{}{}
			l.domains[j.Domain()] = struct{}{}
			l.jids = append(l.jids, j)
		}
	}
	slices.SortFunc(l.jids, compareJIDs)
	return l
}

func compareJIDs(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) }

// has reports whether j itself is an item of l.
func (l *list) has(j jid.JID) bool {
	_, ok := l.items[j]
	return ok
}

// blocks reports whether l blocks j by the rules of XEP-0191 §5: j itself
// (user@domain/res, user@domain, domain/res or domain), its bare JID (a
// blocked user@domain covers its resources; the bare JID of domain/res is
// domain) or its domain.
func (l *list) blocks(j jid.JID) bool {
	if len(l.items) == 0 {
		return false
	}
	if _, ok := l.domains[j.Domain()]; !ok {
		return false
	}
	if l.has(j) {
		return true
	}
	if j.IsBare() && j.Local() == "" {
		return false // a domain: nothing wider matches it
	}
	if !j.IsBare() && l.has(j.Bare()) {
		return true
	}
	return j.Local() != "" && l.has(j.DomainJID())
}

// with returns l plus add.
func (l *list) with(add []jid.JID) *list {
	return newList(append(slices.Clone(l.jids), add...))
}

// without returns l minus remove.
func (l *list) without(remove []jid.JID) *list {
	keep := slices.DeleteFunc(slices.Clone(l.jids), func(j jid.JID) bool { return slices.Contains(remove, j) })
	return newList(keep)
}

// cache keeps the blocklists of up to limit users. A list is loaded from
// storage on first use and replaced (written through) by every change.
type cache struct {
	limit int

	mu    sync.RWMutex
	lists map[jid.JID]*list // bare JID -> blocklist
	// gen counts changes; a load that started before a change does not
	// store what it read, which the change may have made stale.
	gen uint64
}

func newCache(limit int) *cache {
	return &cache{limit: limit, lists: map[jid.JID]*list{}}
}

func (c *cache) get(owner jid.JID) (l *list, gen uint64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	l, ok = c.lists[owner]
	return l, c.gen, ok
}

// fill stores l, loaded when the generation was gen, unless a change came
// since.
func (c *cache) fill(owner jid.JID, l *list, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, present := c.lists[owner]; !present {
		c.evict()
	}
	c.lists[owner] = l
}

// set stores owner's changed list (nil: forget it, to be loaded again).
func (c *cache) set(owner jid.JID, l *list) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if l == nil {
		delete(c.lists, owner)
		return
	}
	if _, present := c.lists[owner]; !present {
		c.evict()
	}
	c.lists[owner] = l
}

// evict makes room for one more list. Which lists go is arbitrary (map
// order): any list can be read again. Caller holds c.mu.
func (c *cache) evict() {
	for k := range c.lists {
		if len(c.lists) < c.limit {
			return
		}
		delete(c.lists, k)
	}
}

// list returns owner's blocklist, from the cache or else from storage.
func (b *blocker) list(ctx context.Context, owner jid.JID) (*list, error) {
	l, gen, ok := b.cache.get(owner)
	if ok {
		return l, nil
	}
	l, err := b.load(ctx, owner)
	if err != nil {
		return nil, err
	}
	b.cache.fill(owner, l, gen)
	return l, nil
}

// load reads owner's blocklist from storage.
func (b *blocker) load(ctx context.Context, owner jid.JID) (*list, error) {
	entries, err := b.m.All(ctx, owner.String())
	if err != nil {
		return nil, fmt.Errorf("blocklist of %s: %w", owner, err)
	}
	jids := make([]jid.JID, 0, len(entries))
	for _, e := range entries {
		j, err := jid.Parse(e.Key)
		if err != nil {
			return nil, fmt.Errorf("blocklist of %s: key %q: %w", owner, e.Key, err)
		}
		jids = append(jids, j)
	}
	return newList(jids), nil
}

// ownerLocks serialises the changes of each blocklist, so that concurrent
// commands from several resources never lose one another's items and
// pushes reach each resource in the order of the changes. Entries live
// only while someone holds or waits for them.
type ownerLocks struct {
	mu sync.Mutex
	m  map[jid.JID]*ownerLock
}

type ownerLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; guarded by ownerLocks.mu
}

// lock locks owner's blocklist and returns the unlock function.
func (o *ownerLocks) lock(owner jid.JID) (unlock func()) {
	o.mu.Lock()
	if o.m == nil {
		o.m = map[jid.JID]*ownerLock{}
	}
	l := o.m[owner]
	if l == nil {
		l = &ownerLock{}
		o.m[owner] = l
	}
	l.refs++
	o.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		o.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(o.m, owner)
		}
		o.mu.Unlock()
	}
}

package memstore

import (
	"context"
	"slices"
	"strings"

	"hearth/storage"
)

// kvMap implements storage.Map on a store.
type kvMap struct {
	s    *store
	name string
}

var _ storage.Map = kvMap{}

func (m kvMap) Get(ctx context.Context, owner, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.s.mu.RLock()
	defer m.s.mu.RUnlock()
	v, ok := m.s.maps[m.name][owner][key]
	if !ok {
		return nil, storage.ErrNotFound
	}
	return clone(v), nil
}

func (m kvMap) Set(ctx context.Context, owner, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	m.setLocked(owner, key, value)
	return nil
}

func (m kvMap) SetMany(ctx context.Context, entries []storage.OwnerEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	for _, e := range entries {
		m.setLocked(e.Owner, e.Key, e.Value)
	}
	return nil
}

// setLocked sets one value; the caller holds m.s.mu.
func (m kvMap) setLocked(owner, key string, value []byte) {
	owners := m.s.maps[m.name]
	if owners == nil {
		owners = map[string]map[string][]byte{}
		m.s.maps[m.name] = owners
	}
	keys := owners[owner]
	if keys == nil {
		keys = map[string][]byte{}
		owners[owner] = keys
	}
	keys[key] = clone(value)
}

func (m kvMap) Delete(ctx context.Context, owner, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	keys := m.s.maps[m.name][owner]
	delete(keys, key)
	if len(keys) == 0 {
		// An owner without entries is no longer listed by Owners.
		delete(m.s.maps[m.name], owner)
	}
	return nil
}

func (m kvMap) All(ctx context.Context, owner string) ([]storage.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.s.mu.RLock()
	defer m.s.mu.RUnlock()
	keys := m.s.maps[m.name][owner]
	entries := make([]storage.Entry, 0, len(keys))
	for k, v := range keys {
		entries = append(entries, storage.Entry{Key: k, Value: clone(v)})
	}
	slices.SortFunc(entries, func(x, y storage.Entry) int { return strings.Compare(x.Key, y.Key) })
	return entries, nil
}

func (m kvMap) Owners(ctx context.Context, host string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.s.mu.RLock()
	defer m.s.mu.RUnlock()
	var owners []string
	for o := range m.s.maps[m.name] {
		if host == "" || storage.OwnerHost(o) == host {
			owners = append(owners, o)
		}
	}
	slices.Sort(owners)
	return owners, nil
}

// Package memstore is an in-memory storage.Store, for tests and ephemeral
// data. Everything is lost when the process exits.
package memstore

import (
	"context"
	"sync"
	"time"

	"hearth/storage"
)

// store keeps all data under one lock: operations are short and in memory,
// and one lock makes DeleteOwner atomic for free.
type store struct {
	mu       sync.RWMutex
	accounts map[accountKey]storage.Account
	maps     map[string]map[string]map[string][]byte // name → owner → key → value
	archives map[string]map[string][]record          // name → owner → items in archive order
	ids      map[string]idRef                        // item id → where it is, for store-wide uniqueness
	seq      uint64                                  // last insertion sequence number
}

var _ storage.Store = (*store)(nil)

// New returns an empty in-memory store. Its methods are safe for concurrent
// use; Close does nothing and the store remains usable.
func New() storage.Store {
	return &store{
		accounts: map[accountKey]storage.Account{},
		maps:     map[string]map[string]map[string][]byte{},
		archives: map[string]map[string][]record{},
		ids:      map[string]idRef{},
	}
}

func (s *store) Accounts() storage.Accounts { return accounts{s} }

func (s *store) Map(name string) storage.Map {
	storage.MustValidName(name)
	return kvMap{s, name}
}

func (s *store) Archive(name string) storage.Archive {
	storage.MustValidName(name)
	return archive{s, name}
}

func (s *store) DeleteOwner(ctx context.Context, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, owners := range s.maps {
		delete(owners, owner)
	}
	for _, owners := range s.archives {
		for _, r := range owners[owner] {
			delete(s.ids, r.ID)
		}
		delete(owners, owner)
	}
	return nil
}

func (s *store) Close() error { return nil }

// normTime returns t as stored: UTC, microsecond precision.
func normTime(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// clone copies b; the copy is never nil, so that stored values read back
// alike from every backend.
func clone(b []byte) []byte { return append([]byte{}, b...) }

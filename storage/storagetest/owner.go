package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"hearth/storage"
)

func testDeleteOwner(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	const alice, bob = "alice@example.com", "bob@example.com"
	must(t, s.Accounts().Create(ctx, "example.com", "alice", credentials(1)))
	for _, owner := range []string{alice, bob, "alice@example.com2", "alice@example.co"} {
		for _, name := range []string{"roster", "vcard"} {
			must(t, s.Map(name).Set(ctx, owner, "k", []byte(owner)))
		}
		for _, name := range []string{"mam", "offline"} {
			_, err := s.Archive(name).Append(ctx, owner, storage.Item{With: alice, Data: []byte(owner)})
			must(t, err)
		}
	}
	must(t, s.DeleteOwner(ctx, alice))
	for _, name := range []string{"roster", "vcard"} {
		m := s.Map(name)
		_, err := m.Get(ctx, alice, "k")
		errIs(t, name+": Get", err, storage.ErrNotFound)
		all(t, m, alice, nil)
		owners(t, m, "example.com", []string{bob})
		get(t, m, bob, "k", []byte(bob))
		get(t, m, "alice@example.co", "k", []byte("alice@example.co"))
	}
	for _, name := range []string{"mam", "offline"} {
		count(t, s.Archive(name), alice, 0)
		count(t, s.Archive(name), bob, 1)
		count(t, s.Archive(name), "alice@example.com2", 1)
	}
	// The account itself is not DeleteOwner's business.
	if _, err := s.Accounts().Get(ctx, "example.com", "alice"); err != nil {
		t.Errorf("DeleteOwner removed the account: %v", err)
	}
	// Deleting an owner that has nothing is not an error.
	must(t, s.DeleteOwner(ctx, alice))
	must(t, s.DeleteOwner(ctx, "nobody@example.com"))
}

func testConcurrency(t *testing.T, open func(t *testing.T) storage.Store) {
	const (
		workers = 16
		each    = 40
	)
	t.Run("Writes", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		a, m := s.Archive("mam"), s.Map("roster")
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			ids  = map[string]bool{}
			errs []error
		)
		for w := range workers {
			wg.Go(func() {
				owner := fmt.Sprintf("user%d@example.com", w%4)
				for i := range each {
					it, err := a.Append(ctx, owner, storage.Item{With: "peer@example.com", Data: []byte{byte(w), byte(i)}})
					if err == nil {
						err = m.Set(ctx, owner, fmt.Sprintf("key-%d-%d", w, i), []byte{byte(i)})
					}
					if err == nil {
						// Everyone also fights over one key.
						err = m.Set(ctx, "shared@example.com", "key", []byte{byte(w)})
					}
					if err == nil && i%10 == 0 {
						_, err = a.Query(ctx, owner, storage.Query{Last: true, Limit: 5})
					}
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else if ids[it.ID] {
						errs = append(errs, fmt.Errorf("id %q assigned twice", it.ID))
					}
					ids[it.ID] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs[:min(len(errs), 5)] {
			t.Error(err)
		}
		total := 0
		for o := range 4 {
			owner := fmt.Sprintf("user%d@example.com", o)
			n, err := a.Count(ctx, owner)
			must(t, err)
			total += n
			entries, err := m.All(ctx, owner)
			must(t, err)
			if len(entries) != n {
				t.Errorf("%s: %d map entries, %d archive items", owner, len(entries), n)
			}
		}
		if total != workers*each {
			t.Errorf("archived %d items, want %d", total, workers*each)
		}
		v, err := m.Get(ctx, "shared@example.com", "key")
		must(t, err)
		if len(v) != 1 || int(v[0]) >= workers {
			t.Errorf("shared key holds %v, want one worker's value", v)
		}
	})
	t.Run("ExplicitIDRace", func(t *testing.T) {
		// Many goroutines append the same explicit id: exactly one wins.
		ctx := t.Context()
		a := open(t).Archive("offline")
		var (
			wg          sync.WaitGroup
			mu          sync.Mutex
			won, exists int
		)
		for w := range workers {
			wg.Go(func() {
				_, err := a.Append(ctx, fmt.Sprintf("user%d@example.com", w), storage.Item{ID: "contended"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, storage.ErrExists):
					exists++
				default:
					t.Errorf("Append: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || exists != workers-1 {
			t.Errorf("%d appends won and %d got ErrExists, want 1 and %d", won, exists, workers-1)
		}
	})
	t.Run("Accounts", func(t *testing.T) {
		ctx := t.Context()
		acc := open(t).Accounts()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range 5 {
					if err := acc.Create(ctx, "example.com", fmt.Sprintf("u%d-%d", w, i), credentials(byte(w))); err != nil {
						t.Errorf("Create: %v", err)
					}
				}
			})
		}
		wg.Wait()
		list, err := acc.List(ctx, "example.com")
		must(t, err)
		if len(list) != workers*5 {
			t.Errorf("List: %d accounts, want %d", len(list), workers*5)
		}
	})
}

package memstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"hearth/sasl"
	"hearth/storage"
)

type accountKey struct{ host, user string }

// accounts implements storage.Accounts on a store.
type accounts struct{ s *store }

var _ storage.Accounts = accounts{}

func (a accounts) Create(ctx context.Context, host, user string, cred sasl.Credentials) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	k := accountKey{host, user}
	if _, ok := a.s.accounts[k]; ok {
		return storage.ErrExists
	}
	a.s.accounts[k] = storage.Account{Host: host, User: user, Credentials: cloneCredentials(cred), Created: normTime(time.Now())}
	return nil
}

func (a accounts) Get(ctx context.Context, host, user string) (storage.Account, error) {
	if err := ctx.Err(); err != nil {
		return storage.Account{}, err
	}
	a.s.mu.RLock()
	defer a.s.mu.RUnlock()
	acc, ok := a.s.accounts[accountKey{host, user}]
	if !ok {
		return storage.Account{}, storage.ErrNotFound
	}
	acc.Credentials = cloneCredentials(acc.Credentials)
	return acc, nil
}

func (a accounts) SetCredentials(ctx context.Context, host, user string, cred sasl.Credentials) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	k := accountKey{host, user}
	acc, ok := a.s.accounts[k]
	if !ok {
		return storage.ErrNotFound
	}
	acc.Credentials = cloneCredentials(cred)
	a.s.accounts[k] = acc
	return nil
}

func (a accounts) Delete(ctx context.Context, host, user string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	k := accountKey{host, user}
	if _, ok := a.s.accounts[k]; !ok {
		return storage.ErrNotFound
	}
	delete(a.s.accounts, k)
	return nil
}

func (a accounts) List(ctx context.Context, host string) ([]storage.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.s.mu.RLock()
	defer a.s.mu.RUnlock()
	var list []storage.Account
	for k, acc := range a.s.accounts {
		if host == "" || k.host == host {
			acc.Credentials = cloneCredentials(acc.Credentials)
			list = append(list, acc)
		}
	}
	slices.SortFunc(list, func(x, y storage.Account) int {
		return cmp.Or(strings.Compare(x.Host, y.Host), strings.Compare(x.User, y.User))
	})
	return list, nil
}

func cloneCredentials(c sasl.Credentials) sasl.Credentials {
	key := func(k sasl.SCRAMKey) sasl.SCRAMKey {
		return sasl.SCRAMKey{Salt: clone(k.Salt), Iterations: k.Iterations, StoredKey: clone(k.StoredKey), ServerKey: clone(k.ServerKey)}
	}
	return sasl.Credentials{SHA1: key(c.SHA1), SHA256: key(c.SHA256)}
}

package server

import (
	"context"
	"errors"
	"time"

	"hearth/sasl"
	"hearth/storage"
)

// instrumentedStore times every storage operation into
// hearth_storage_duration_seconds{op} and counts failures. The embedded
// interfaces pass through any method added later, untimed, rather than
// breaking the build. Unwrap returns the store underneath, for optional
// interfaces found by type assertion.
type instrumentedStore struct {
	storage.Store
	m *metrics
}

var (
	_ storage.Store    = (*instrumentedStore)(nil)
	_ storage.Accounts = instrumentedAccounts{}
	_ storage.Map      = instrumentedMap{}
	_ storage.Archive  = instrumentedArchive{}
)

// Unwrap returns the store that st times.
func (st *instrumentedStore) Unwrap() storage.Store { return st.Store }

// observe records one operation that started at start and ended with err.
func (m *metrics) observe(op string, start time.Time, err error) {
	m.storageTime.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrExists) {
		m.storageErrors.WithLabelValues(op).Inc()
	}
}

func (st *instrumentedStore) Accounts() storage.Accounts {
	return instrumentedAccounts{st.Store.Accounts(), st.m}
}

func (st *instrumentedStore) Map(name string) storage.Map {
	return instrumentedMap{st.Store.Map(name), st.m}
}

func (st *instrumentedStore) Archive(name string) storage.Archive {
	return instrumentedArchive{st.Store.Archive(name), st.m}
}

func (st *instrumentedStore) DeleteOwner(ctx context.Context, owner string) error {
	start := time.Now()
	err := st.Store.DeleteOwner(ctx, owner)
	st.m.observe("delete_owner", start, err)
	return err
}

type instrumentedAccounts struct {
	storage.Accounts
	m *metrics
}

func (a instrumentedAccounts) Create(ctx context.Context, host, user string, cred sasl.Credentials) error {
	start := time.Now()
	err := a.Accounts.Create(ctx, host, user, cred)
	a.m.observe("accounts.create", start, err)
	return err
}

func (a instrumentedAccounts) Get(ctx context.Context, host, user string) (storage.Account, error) {
	start := time.Now()
	acct, err := a.Accounts.Get(ctx, host, user)
	a.m.observe("accounts.get", start, err)
	return acct, err
}

func (a instrumentedAccounts) SetCredentials(ctx context.Context, host, user string, cred sasl.Credentials) error {
	start := time.Now()
	err := a.Accounts.SetCredentials(ctx, host, user, cred)
	a.m.observe("accounts.set_credentials", start, err)
	return err
}

func (a instrumentedAccounts) Delete(ctx context.Context, host, user string) error {
	start := time.Now()
	err := a.Accounts.Delete(ctx, host, user)
	a.m.observe("accounts.delete", start, err)
	return err
}

func (a instrumentedAccounts) List(ctx context.Context, host string) ([]storage.Account, error) {
	start := time.Now()
	list, err := a.Accounts.List(ctx, host)
	a.m.observe("accounts.list", start, err)
	return list, err
}

type instrumentedMap struct {
	storage.Map
	m *metrics
}

func (mp instrumentedMap) Get(ctx context.Context, owner, key string) ([]byte, error) {
	start := time.Now()
	v, err := mp.Map.Get(ctx, owner, key)
	mp.m.observe("map.get", start, err)
	return v, err
}

func (mp instrumentedMap) Set(ctx context.Context, owner, key string, value []byte) error {
	start := time.Now()
	err := mp.Map.Set(ctx, owner, key, value)
	mp.m.observe("map.set", start, err)
	return err
}

func (mp instrumentedMap) SetMany(ctx context.Context, entries []storage.OwnerEntry) error {
	start := time.Now()
	err := mp.Map.SetMany(ctx, entries)
	mp.m.observe("map.set_many", start, err)
	return err
}

func (mp instrumentedMap) Delete(ctx context.Context, owner, key string) error {
	start := time.Now()
	err := mp.Map.Delete(ctx, owner, key)
	mp.m.observe("map.delete", start, err)
	return err
}

func (mp instrumentedMap) All(ctx context.Context, owner string) ([]storage.Entry, error) {
	start := time.Now()
	e, err := mp.Map.All(ctx, owner)
	mp.m.observe("map.all", start, err)
	return e, err
}

func (mp instrumentedMap) Owners(ctx context.Context, host string) ([]string, error) {
	start := time.Now()
	o, err := mp.Map.Owners(ctx, host)
	mp.m.observe("map.owners", start, err)
	return o, err
}

type instrumentedArchive struct {
	storage.Archive
	m *metrics
}

func (ar instrumentedArchive) Append(ctx context.Context, owner string, item storage.Item) (storage.Item, error) {
	start := time.Now()
	it, err := ar.Archive.Append(ctx, owner, item)
	ar.m.observe("archive.append", start, err)
	return it, err
}

func (ar instrumentedArchive) Query(ctx context.Context, owner string, q storage.Query) (storage.Result, error) {
	start := time.Now()
	r, err := ar.Archive.Query(ctx, owner, q)
	ar.m.observe("archive.query", start, err)
	return r, err
}

func (ar instrumentedArchive) Get(ctx context.Context, owner, id string) (storage.Item, error) {
	start := time.Now()
	it, err := ar.Archive.Get(ctx, owner, id)
	ar.m.observe("archive.get", start, err)
	return it, err
}

func (ar instrumentedArchive) Delete(ctx context.Context, owner string, ids ...string) error {
	start := time.Now()
	err := ar.Archive.Delete(ctx, owner, ids...)
	ar.m.observe("archive.delete", start, err)
	return err
}

func (ar instrumentedArchive) DeleteBefore(ctx context.Context, owner string, t time.Time) (int64, error) {
	start := time.Now()
	n, err := ar.Archive.DeleteBefore(ctx, owner, t)
	ar.m.observe("archive.delete_before", start, err)
	return n, err
}

func (ar instrumentedArchive) Count(ctx context.Context, owner string) (int, error) {
	start := time.Now()
	n, err := ar.Archive.Count(ctx, owner)
	ar.m.observe("archive.count", start, err)
	return n, err
}

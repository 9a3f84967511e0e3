package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"hearth/storage"
)

// kvMap implements storage.Map as the rows of table kv whose store is name.
type kvMap struct {
	s    *store
	name string
}

var _ storage.Map = kvMap{}

func (m kvMap) Get(ctx context.Context, owner, key string) ([]byte, error) {
	var v []byte
	err := m.s.read.QueryRowContext(ctx, m.s.q.kvGet, owner, m.name, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	return nonNil(v), err
}

func (m kvMap) Set(ctx context.Context, owner, key string, value []byte) error {
	_, err := m.s.write.ExecContext(ctx, m.s.q.kvSet, owner, m.name, key, storage.OwnerHost(owner), nonNil(value))
	return err
}

func (m kvMap) SetMany(ctx context.Context, entries []storage.OwnerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return m.s.inTx(ctx, func(tx *sql.Tx) error {
		st := m.s.write.txStmt(ctx, tx, m.s.q.kvSet)
		for _, e := range entries {
			args := []any{e.Owner, m.name, e.Key, storage.OwnerHost(e.Owner), nonNil(e.Value)}
			var err error
			if st != nil {
				_, err = st.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, m.s.q.kvSet, args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (m kvMap) Delete(ctx context.Context, owner, key string) error {
	_, err := m.s.write.ExecContext(ctx, m.s.q.kvDelete, owner, m.name, key)
	return err
}

func (m kvMap) All(ctx context.Context, owner string) ([]storage.Entry, error) {
	rows, err := m.s.read.QueryContext(ctx, m.s.q.kvAll, owner, m.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	entries := []storage.Entry{}
	for rows.Next() {
		var e storage.Entry
		if err := rows.Scan(&e.Key, &e.Value); err != nil {
			return nil, err
		}
		e.Value = nonNil(e.Value)
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

func (m kvMap) Owners(ctx context.Context, host string) ([]string, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if host == "" {
		rows, err = m.s.read.QueryContext(ctx, m.s.q.kvOwners, m.name)
	} else {
		rows, err = m.s.read.QueryContext(ctx, m.s.q.kvOwnersHost, m.name, host)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var owners []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		owners = append(owners, o)
	}
	return owners, rows.Err()
}

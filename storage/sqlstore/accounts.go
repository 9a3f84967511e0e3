package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"hearth/sasl"
	"hearth/storage"
)

// accounts implements storage.Accounts on the accounts table.
type accounts struct{ s *store }

var _ storage.Accounts = accounts{}

func (a accounts) Create(ctx context.Context, host, user string, cred sasl.Credentials) error {
	args := append([]any{host, user}, credentialArgs(cred)...)
	args = append(args, time.Now().UnixMicro())
	_, err := a.s.write.ExecContext(ctx, a.s.q.accountInsert, args...)
	if err != nil && a.s.d.isUnique(err) {
		return storage.ErrExists
	}
	return err
}

func (a accounts) Get(ctx context.Context, host, user string) (storage.Account, error) {
	acc, err := scanAccount(a.s.read.QueryRowContext(ctx, a.s.q.accountGet, host, user))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Account{}, storage.ErrNotFound
	}
	return acc, err
}

func (a accounts) SetCredentials(ctx context.Context, host, user string, cred sasl.Credentials) error {
	args := append(credentialArgs(cred), host, user)
	return mustAffect(a.s.write.ExecContext(ctx, a.s.q.accountSet, args...))
}

func (a accounts) Delete(ctx context.Context, host, user string) error {
	return mustAffect(a.s.write.ExecContext(ctx, a.s.q.accountDelete, host, user))
}

func (a accounts) List(ctx context.Context, host string) ([]storage.Account, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if host == "" {
		rows, err = a.s.read.QueryContext(ctx, a.s.q.accountList)
	} else {
		rows, err = a.s.read.QueryContext(ctx, a.s.q.accountListHost, host)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []storage.Account
	for rows.Next() {
		acc, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, acc)
	}
	return list, rows.Err()
}

// credentialArgs returns the credential columns' values in table order.
func credentialArgs(c sasl.Credentials) []any {
	return []any{
		nonNil(c.SHA1.Salt), c.SHA1.Iterations, nonNil(c.SHA1.StoredKey), nonNil(c.SHA1.ServerKey),
		nonNil(c.SHA256.Salt), c.SHA256.Iterations, nonNil(c.SHA256.StoredKey), nonNil(c.SHA256.ServerKey),
	}
}

// scanAccount reads a row of accountColumns.
func scanAccount(row interface{ Scan(...any) error }) (storage.Account, error) {
	var (
		acc     storage.Account
		created int64
		c       = &acc.Credentials
	)
	err := row.Scan(&acc.Host, &acc.User,
		&c.SHA1.Salt, &c.SHA1.Iterations, &c.SHA1.StoredKey, &c.SHA1.ServerKey,
		&c.SHA256.Salt, &c.SHA256.Iterations, &c.SHA256.StoredKey, &c.SHA256.ServerKey, &created)
	acc.Created = fromMicros(created)
	return acc, err
}

// mustAffect turns the result of an UPDATE or DELETE of one row into
// ErrNotFound when no row matched.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

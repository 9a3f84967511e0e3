// Package sqlstore implements storage.Store over database/sql, with one SQL
// implementation for three dialects (SQLite via modernc.org/sqlite, the
// default; PostgreSQL via pgx; MySQL/MariaDB) and embedded, versioned
// migrations applied by Open.
//
// The schema is three tables, one per shape: accounts, kv (every Map, keyed
// by map name, owner and key) and archive (every Archive, ordered by time and
// an insertion sequence number). See migrations/ for the exact schema and
// its indexes.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"hearth/storage"
)

// Options tune the database connection pool and name the TLS files of a
// MySQL connection. Zero values mean defaults.
type Options struct {
	// MaxOpenConns and MaxIdleConns bound the pool (for SQLite, the pool
	// of readers: all writes go through one connection).
	MaxOpenConns int
	MaxIdleConns int
	// ConnMaxLifetime closes server connections older than this, so that
	// a load balancer or failover is followed; 0 keeps them.
	ConnMaxLifetime time.Duration
	// TLSCA, TLSCert and TLSKey are PEM files for MySQL only, whose DSN must
	// then say tls=custom: the CA bundle the server's certificate is
	// verified against (the system pool when empty) and an optional client
	// certificate and key. PostgreSQL takes the equivalent settings in its
	// DSN (sslmode=verify-full&sslrootcert=...&sslcert=...&sslkey=...).
	TLSCA, TLSCert, TLSKey string
}

// Open connects to the database named by driver ("sqlite", "postgres",
// "mysql") and dsn (for sqlite a file path, created with its directory if
// needed, opened in WAL mode with a busy timeout), applies pending
// migrations and returns the store.
func Open(ctx context.Context, driver, dsn string, opts Options) (storage.Store, error) {
	s, err := open(ctx, driver, dsn, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// open is Open returning the concrete type, for tests.
func open(ctx context.Context, driver, dsn string, opts Options) (*store, error) {
	s, err := openDB(driver, dsn, opts)
	if err != nil {
		return nil, err
	}
	if _, _, err := migrate(ctx, s.write.DB, s.d); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the connection pools of a store without touching its schema.
func openDB(driver, dsn string, opts Options) (*store, error) {
	s := &store{}
	var err error
	var write, read *sql.DB
	switch driver {
	case "sqlite":
		s.d = sqliteDialect
		write, read, err = openSQLite(dsn, opts)
	case "postgres":
		s.d = postgresDialect
		write, err = openPostgres(dsn, opts)
		read = write
	case "mysql":
		s.d = mysqlDialect
		write, err = openMySQL(dsn, opts)
		read = write
	default:
		return nil, fmt.Errorf("sqlstore: unknown driver %q (want sqlite, postgres or mysql)", driver)
	}
	if err != nil {
		return nil, err
	}
	s.write, s.read = newPool(write), newPool(read)
	if read == write {
		s.read = s.write
	}
	s.q = newStatements(s.d)
	if driver == "sqlite" {
		s.batch = startBatcher(s) // see batch.go
	}
	return s, nil
}

// store implements storage.Store. For SQLite, write is a single connection
// that serialises all writes and read a pool of read-only connections; for
// the servers both are the same pool.
type store struct {
	d           *dialect
	write, read *pool
	q           statements
	batch       *batcher // group commit of archive inserts; nil: none
}

var _ storage.Store = (*store)(nil)

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
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q.deleteOwnerKV, owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q.deleteOwnerArchive, owner)
		return err
	})
}

// Close closes the connection pools.
func (s *store) Close() error {
	if s.batch != nil {
		s.batch.stop() // writes what is queued
	}
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// inTx runs fn in a write transaction, committed when fn returns nil.
func (s *store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// statements are the fixed queries, in the store's dialect.
type statements struct {
	accountInsert, accountGet, accountSet, accountDelete, accountList, accountListHost string

	kvGet, kvSet, kvDelete, kvAll, kvOwners, kvOwnersHost string

	archiveInsert, archiveGet, archivePosition, archiveCount string
	archiveDeleteBefore, archiveDeleteBeforeAll              string

	deleteOwnerKV, deleteOwnerArchive string
}

const accountColumns = `host, username,
	sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
	sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created`

func newStatements(d *dialect) statements {
	r := d.rebind
	return statements{
		accountInsert: r(`INSERT INTO accounts (` + accountColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		accountGet:    r(`SELECT ` + accountColumns + ` FROM accounts WHERE host = ? AND username = ?`),
		accountSet: r(`UPDATE accounts SET
			sha1_salt = ?, sha1_iterations = ?, sha1_stored_key = ?, sha1_server_key = ?,
			sha256_salt = ?, sha256_iterations = ?, sha256_stored_key = ?, sha256_server_key = ?
			WHERE host = ? AND username = ?`),
		accountDelete:   r(`DELETE FROM accounts WHERE host = ? AND username = ?`),
		accountList:     r(`SELECT ` + accountColumns + ` FROM accounts ORDER BY host, username`),
		accountListHost: r(`SELECT ` + accountColumns + ` FROM accounts WHERE host = ? ORDER BY username`),

		kvGet:        r(`SELECT entry_value FROM kv WHERE owner = ? AND store = ? AND entry_key = ?`),
		kvSet:        r(`INSERT INTO kv (owner, store, entry_key, host, entry_value) VALUES (?, ?, ?, ?, ?)` + d.upsertKV),
		kvDelete:     r(`DELETE FROM kv WHERE owner = ? AND store = ? AND entry_key = ?`),
		kvAll:        r(`SELECT entry_key, entry_value FROM kv WHERE owner = ? AND store = ? ORDER BY entry_key`),
		kvOwners:     r(`SELECT DISTINCT owner FROM kv WHERE store = ? ORDER BY owner`),
		kvOwnersHost: r(`SELECT DISTINCT owner FROM kv WHERE store = ? AND host = ? ORDER BY owner`),

		archiveInsert: r(`INSERT INTO archive (owner, store, host, id, ts, with_jid, with_bare, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		archiveGet:             r(`SELECT ts, with_jid, data FROM archive WHERE id = ? AND owner = ? AND store = ?`),
		archivePosition:        r(`SELECT ts, seq FROM archive WHERE id = ? AND owner = ? AND store = ?`),
		archiveCount:           r(`SELECT COUNT(*) FROM archive WHERE owner = ? AND store = ?`),
		archiveDeleteBefore:    r(`DELETE FROM archive WHERE owner = ? AND store = ? AND ts < ?`),
		archiveDeleteBeforeAll: r(`DELETE FROM archive WHERE store = ? AND ts < ?`),

		deleteOwnerKV:      r(`DELETE FROM kv WHERE owner = ?`),
		deleteOwnerArchive: r(`DELETE FROM archive WHERE owner = ?`),
	}
}

// fromMicros returns the time of a stored timestamp.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// ceilMicros returns the first whole microsecond at or after t.
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro() // rounds down, also before 1970
	if time.UnixMicro(us).Before(t) {
		us++
	}
	return us
}

// nonNil returns b, or an empty slice for nil: columns are NOT NULL, and a
// nil []byte is NULL to database/sql drivers.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

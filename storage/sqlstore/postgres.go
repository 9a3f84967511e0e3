package sqlstore

import (
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

var postgresDialect = &dialect{
	name:     "postgres",
	numbered: true,
	upsertKV: " ON CONFLICT (owner, store, entry_key) DO UPDATE SET entry_value = excluded.entry_value",
	isUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505" // unique_violation
	},
	// Statements of a READ COMMITTED transaction each see their own
	// snapshot; REPEATABLE READ gives the whole Query one.
	readTx: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	// A session lock, so that it spans the migration transaction.
	lockMigrations:   "SELECT 1 FROM (SELECT pg_advisory_lock(7243327)) AS l",
	unlockMigrations: "SELECT pg_advisory_unlock(7243327)",
	hasSchemaVersion: `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name = 'schema_version'`,
}

// openPostgres opens dsn (a URL or key=value connection string, as pgx
// accepts) as one pool.
func openPostgres(dsn string, opts Options) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	setPool(db, opts)
	return db, nil
}

// setPool applies opts to a server database's pool.
func setPool(db *sql.DB, opts Options) {
	if opts.MaxOpenConns > 0 {
		db.SetMaxOpenConns(opts.MaxOpenConns)
	}
	if opts.MaxIdleConns > 0 {
		db.SetMaxIdleConns(opts.MaxIdleConns)
	}
	if opts.ConnMaxLifetime > 0 {
		db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	}
}

// Package sqlstore implements storage.Store over database/sql, with one SQL
// implementation for three dialects (SQLite via modernc.org/sqlite, the
// default; PostgreSQL via pgx; MySQL/MariaDB) and embedded, versioned
// migrations applied by Open.
package sqlstore

import (
	"context"

	"hearth/storage"
)

// Options tune the database connection pool. Zero values mean defaults.
type Options struct {
	MaxOpenConns int
	MaxIdleConns int
}

// Open connects to the database named by driver ("sqlite", "postgres",
// "mysql") and dsn (for sqlite a file path, created with its directory if
// needed, opened in WAL mode with a busy timeout), applies pending
// migrations and returns the store.
func Open(ctx context.Context, driver, dsn string, opts Options) (storage.Store, error) {
	panic("unimplemented")
}

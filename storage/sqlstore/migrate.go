package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema, one directory per dialect, one file per
// version: migrations/<dialect>/NNNN_title.sql, numbered from 1 without
// gaps. Applied migrations are never edited; a change is a new file.
//
//go:embed migrations
var migrationFS embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	stmts   []string
}

// loadMigrations returns the migrations of dialect in order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	files, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		num, _, ok := strings.Cut(f.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(f.Name(), ".sql") {
			return nil, fmt.Errorf("sqlstore: bad migration file name %s", f.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("sqlstore: migration %s is out of sequence (want version %d)", f.Name(), len(ms)+1)
		}
		text, err := fs.ReadFile(migrationFS, path.Join(dir, f.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: f.Name(), stmts: splitStatements(string(text))})
	}
	return ms, nil
}

// splitStatements splits a migration into statements at semicolons that end
// a line, after dropping "--" comment lines; migrations must not put such a
// semicolon inside a string literal.
func splitStatements(text string) []string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	var stmts []string
	for s := range strings.SplitSeq(b.String(), ";\n") {
		if s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";")); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// migrate brings the schema of db up to date: it applies the migrations
// newer than the highest version in schema_version, in one transaction, and
// returns the schema version before and after (equal when nothing was
// pending; 0 is an empty database). It refuses a database whose schema is
// newer than this binary knows. Concurrent migrate calls on one database (two
// processes starting at once) are serialised by a dialect-specific lock.
// MySQL commits DDL implicitly, so there a failure can leave a migration
// half-applied; its files are therefore written to be re-runnable.
func migrate(ctx context.Context, db *sql.DB, d *dialect) (from, to int, err error) {
	ms, err := loadMigrations(d.name)
	if err != nil {
		return 0, 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	if d.lockMigrations != "" {
		var held sql.NullInt64
		if err := conn.QueryRowContext(ctx, d.lockMigrations).Scan(&held); err != nil {
			return 0, 0, fmt.Errorf("sqlstore: locking for migration: %w", err)
		}
		if held.Int64 != 1 {
			return 0, 0, errors.New("sqlstore: timed out waiting for another process's migration")
		}
		if d.unlockMigrations != "" {
			defer conn.ExecContext(context.WithoutCancel(ctx), d.unlockMigrations)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER NOT NULL PRIMARY KEY,
		applied BIGINT NOT NULL
	)`); err != nil {
		return 0, 0, fmt.Errorf("sqlstore: creating schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return 0, 0, fmt.Errorf("sqlstore: reading schema_version: %w", err)
	}
	if current > len(ms) {
		return 0, 0, fmt.Errorf("sqlstore: database schema version %d is newer than this program's %d", current, len(ms))
	}
	for _, m := range ms[current:] {
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return 0, 0, fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_version (version, applied) VALUES (?, ?)`),
			m.version, time.Now().UnixMicro()); err != nil {
			return 0, 0, fmt.Errorf("sqlstore: recording migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	return current, len(ms), nil
}

// Migrate opens the database named by driver and dsn (as Open does),
// applies its pending migrations and returns the schema version before and
// after; from == to when the schema was up to date. It is what Open does at
// start, for running migrations explicitly (hearth migrate) before a
// deployment starts its servers.
func Migrate(ctx context.Context, driver, dsn string, opts Options) (from, to int, err error) {
	s, err := openDB(driver, dsn, opts)
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	return migrate(ctx, s.write.DB, s.d)
}

// SchemaVersion returns the version of the schema of the database named by
// driver and dsn (0 for an empty database) and the version this program
// would migrate it to, without changing anything.
func SchemaVersion(ctx context.Context, driver, dsn string, opts Options) (current, latest int, err error) {
	s, err := openDB(driver, dsn, opts)
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	ms, err := loadMigrations(s.d.name)
	if err != nil {
		return 0, 0, err
	}
	var tables int
	if err := s.read.QueryRowContext(ctx, s.d.hasSchemaVersion).Scan(&tables); err != nil {
		return 0, 0, fmt.Errorf("sqlstore: looking for schema_version: %w", err)
	}
	if tables == 0 {
		return 0, len(ms), nil
	}
	err = s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: reading schema_version: %w", err)
	}
	return current, len(ms), nil
}

package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var sqliteDialect = &dialect{
	name:     "sqlite",
	upsertKV: " ON CONFLICT (owner, store, entry_key) DO UPDATE SET entry_value = excluded.entry_value",
	isUnique: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) &&
			(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	// A deferred transaction on a WAL database reads one snapshot.
	readTx:           &sql.TxOptions{ReadOnly: true},
	hasSchemaVersion: `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`,
}

// sqliteParams are the connection settings of every SQLite connection. The
// busy timeout covers other processes (an admin command next to the
// server): within the process, writes are serialised by the single writer
// connection and never see SQLITE_BUSY. synchronous=NORMAL is safe in WAL
// mode (a power loss may lose the last commits, never corrupt the file).
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// openSQLite opens the database at dsn, a file path (its directory and the
// file are created, private to the user, when missing) or a "file:" URI,
// as two pools: one connection for all writes, whose transactions begin
// IMMEDIATE so that they take the write lock up front and never fail to
// upgrade, and a pool of read-only connections, which WAL lets run
// alongside the writer.
func openSQLite(dsn string, opts Options) (write, read *sql.DB, err error) {
	var uri string
	switch {
	case dsn == "":
		return nil, nil, errors.New("sqlstore: empty sqlite database path")
	case strings.HasPrefix(dsn, "file:"):
		uri = dsn + "?"
		if strings.Contains(dsn, "?") {
			uri = dsn + "&"
		}
	default:
		if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			return nil, nil, fmt.Errorf("sqlstore: %w", err)
		}
		// The database holds credentials: create it private. SQLite gives
		// its -wal and -shm files the permissions of the database file.
		f, err := os.OpenFile(dsn, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlstore: %w", err)
		}
		f.Close()
		uri = "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(dsn) + "?"
	}
	write, err = sql.Open("sqlite", uri+sqliteParams+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	read, err = sql.Open("sqlite", uri+sqliteParams+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, nil, err
	}
	n := opts.MaxOpenConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(cmpOr(opts.MaxIdleConns, n))
	return write, read, nil
}

// cmpOr returns a if it is positive, else b.
func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

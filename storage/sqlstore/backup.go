package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// BackupSQLite writes a consistent copy of the SQLite database at dsn (a
// path or "file:" URI, as Open takes) to the new file dest, while other
// connections, such as a running server's, keep reading and writing: it
// uses VACUUM INTO, which reads one snapshot of the database and writes
// a compact copy. The copy is checked with PRAGMA quick_check and gets
// mode 0600 (it holds credentials). dest must not exist.
func BackupSQLite(ctx context.Context, dsn, dest string) error {
	if !strings.HasPrefix(dsn, "file:") {
		if _, err := os.Stat(dsn); err != nil {
			return fmt.Errorf("sqlstore: backup: %w", err)
		}
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("sqlstore: backup: %s already exists", dest)
	}
	db, err := sql.Open("sqlite", sqliteURI(dsn)+sqliteParams)
	if err != nil {
		return err
	}
	defer db.Close()
	// Create the file first so that it is private from the start.
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	f.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		os.Remove(dest)
		return fmt.Errorf("sqlstore: backup: VACUUM INTO %s: %w", dest, err)
	}
	if err := checkSQLite(ctx, dest); err != nil {
		return fmt.Errorf("sqlstore: backup: the copy does not check out: %w", err)
	}
	return nil
}

// RestoreSQLite replaces the SQLite database at path (a file path, not a
// URI) with the backup src, after checking that src is a sound hearth
// database. The current database, with its -wal and -shm files, is kept
// beside it as path.before-restore-TIMESTAMP, whose name is returned
// ("" when there was none). No server may use the database meanwhile.
func RestoreSQLite(ctx context.Context, src, path string) (kept string, err error) {
	if strings.HasPrefix(path, "file:") {
		return "", errors.New("sqlstore: restore: give the database as a file path, not a URI")
	}
	if err := checkSQLite(ctx, src); err != nil {
		return "", fmt.Errorf("sqlstore: restore: %s: %w", src, err)
	}
	if _, err := os.Stat(path); err == nil {
		kept = path + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(path+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("sqlstore: restore: keeping the current database: %w", err)
			}
		}
	}
	if err := copyFile(src, path); err != nil {
		return kept, fmt.Errorf("sqlstore: restore: %w", err)
	}
	return kept, nil
}

// checkSQLite opens the database file at path read-only and checks that
// it is sound and has hearth's schema.
func checkSQLite(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", sqliteURI(path)+"mode=ro&"+sqliteParams)
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("quick_check: %s", res)
	}
	var version int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("not a hearth database: %w", err)
	}
	return nil
}

// sqliteURI turns a path or "file:" URI into a URI ready for parameters.
func sqliteURI(dsn string) string {
	if strings.HasPrefix(dsn, "file:") {
		if strings.Contains(dsn, "?") {
			return dsn + "&"
		}
		return dsn + "?"
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(dsn) + "?"
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

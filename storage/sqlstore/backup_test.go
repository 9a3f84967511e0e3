package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"hearth/sasl"
	"hearth/storage/sqlstore"
)

// TestBackupSQLite copies a database that stays open and written to,
// restores the copy over it and finds the data of the moment of the
// backup; files that are not hearth databases are refused.
func TestBackupSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "hearth.db")
	st, err := sqlstore.Open(ctx, "sqlite", db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := sasl.NewCredentials("pw-123456", 4096)
	if err := st.Accounts().Create(ctx, "example.org", "alice", cred); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := sqlstore.BackupSQLite(ctx, db, backup); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v %v", fi, err)
	}
	if err := sqlstore.BackupSQLite(ctx, db, backup); err == nil {
		t.Errorf("a backup overwrote an existing file")
	}
	// Written after the backup: gone after the restore.
	if err := st.Accounts().Create(ctx, "example.org", "bob", cred); err != nil {
		t.Fatal(err)
	}
	st.Close()

	kept, err := sqlstore.RestoreSQLite(ctx, backup, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("the replaced database was not kept: %v", err)
	}
	st, err = sqlstore.Open(ctx, "sqlite", db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	accts, err := st.Accounts().List(ctx, "example.org")
	if err != nil || len(accts) != 1 || accts[0].User != "alice" {
		t.Errorf("after restore: %v %v, want alice only", accts, err)
	}

	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database at all, not even close to one"), 0o600)
	if _, err := sqlstore.RestoreSQLite(ctx, junk, db); err == nil {
		t.Errorf("restored from a file that is not a database")
	}
	if _, err := sqlstore.RestoreSQLite(ctx, filepath.Join(dir, "missing.db"), db); err == nil {
		t.Errorf("restored from a missing file")
	}
}

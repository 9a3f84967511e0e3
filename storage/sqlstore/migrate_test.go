package sqlstore

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"hearth/storage"
)

func TestSplitStatements(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"comments only", "-- a\n  -- b\n", nil},
		{"one", "CREATE TABLE t (a INT);\n", []string{"CREATE TABLE t (a INT)"}},
		{"no final newline", "CREATE TABLE t (a INT);", []string{"CREATE TABLE t (a INT)"}},
		{"two with comments", "-- x\nCREATE TABLE t (\n\ta INT -- not a comment line\n);\n\n-- y\nCREATE INDEX i ON t (a);\n",
			[]string{"CREATE TABLE t (\n\ta INT -- not a comment line\n)", "CREATE INDEX i ON t (a)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := splitStatements(c.in); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestMigrationsLoad(t *testing.T) {
	var counts []int
	for _, d := range []*dialect{sqliteDialect, postgresDialect, mysqlDialect} {
		ms, err := loadMigrations(d.name)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s: no migrations", d.name)
		}
		counts = append(counts, len(ms))
	}
	// The dialects describe the same schema history.
	if counts[0] != counts[1] || counts[0] != counts[2] {
		t.Errorf("migration counts differ between dialects: %v", counts)
	}
}

func TestSQLiteReopen(t *testing.T) {
	testReopen(t, "sqlite", filepath.Join(t.TempDir(), "hearth.db"))
}

// testReopen checks that data survives Close and Open, that a second Open
// applies no migration, and that a schema newer than the code is refused.
func testReopen(t *testing.T, driver, dsn string) {
	ctx := t.Context()
	s, err := open(ctx, driver, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	versions := func(s *store) [][2]int64 {
		t.Helper()
		rows, err := s.read.QueryContext(ctx, "SELECT version, applied FROM schema_version ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var vs [][2]int64
		for rows.Next() {
			var v [2]int64
			if err := rows.Scan(&v[0], &v[1]); err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		return vs
	}
	ms, err := loadMigrations(s.d.name)
	if err != nil {
		t.Fatal(err)
	}
	first := versions(s)
	if len(first) != len(ms) {
		t.Fatalf("schema_version has %d rows after Open, want %d", len(first), len(ms))
	}
	if from, to, err := migrate(ctx, s.write.DB, s.d); err != nil || from != len(ms) || to != len(ms) {
		t.Errorf("migrate on an up-to-date database: %d -> %d, err %v; want %d -> %d", from, to, err, len(ms), len(ms))
	}
	must(t, s.Accounts().Create(ctx, "example.com", "alice", credentialsFixture()))
	must(t, s.Map("roster").Set(ctx, "alice@example.com", "bob@example.com", []byte("item")))
	item, err := s.Archive("mam").Append(ctx, "alice@example.com", storage.Item{With: "bob@example.com", Data: []byte("hi")})
	must(t, err)
	must(t, s.Close())

	time.Sleep(time.Millisecond) // so that a re-applied migration would record another time
	s, err = open(ctx, driver, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again := versions(s); !slices.Equal(again, first) {
		t.Errorf("schema_version changed by a second Open: %v, was %v", again, first)
	}
	if _, err := s.Accounts().Get(ctx, "example.com", "alice"); err != nil {
		t.Errorf("account lost: %v", err)
	}
	if v, err := s.Map("roster").Get(ctx, "alice@example.com", "bob@example.com"); err != nil || string(v) != "item" {
		t.Errorf("map entry lost: %q, %v", v, err)
	}
	if got, err := s.Archive("mam").Get(ctx, "alice@example.com", item.ID); err != nil || !got.Time.Equal(item.Time) || string(got.Data) != "hi" {
		t.Errorf("archived item lost: %+v, %v", got, err)
	}

	// A database migrated by a newer hearth is refused.
	if _, err := s.write.ExecContext(ctx, s.d.rebind("INSERT INTO schema_version (version, applied) VALUES (?, ?)"),
		len(ms)+1, time.Now().UnixMicro()); err != nil {
		t.Fatal(err)
	}
	must(t, s.Close())
	if s, err := open(ctx, driver, dsn, Options{}); err == nil {
		s.Close()
		t.Errorf("Open of a database with a newer schema succeeded")
	}
}

func TestSQLiteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "hearth?#%.db") // characters that URIs escape
	s := openTest(t, "sqlite", path)
	must(t, s.Map("roster").Set(t.Context(), "alice@example.com", "k", []byte("v")))
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700 | os.ModeDir}, {path, 0o600}, {path + "-wal", 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
	var mode string
	if err := s.read.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if _, err := s.read.ExecContext(t.Context(), "DELETE FROM kv"); err == nil {
		t.Errorf("a read connection could write")
	}
	if _, err := Open(t.Context(), "sqlite", "", Options{}); err == nil {
		t.Errorf("Open with an empty path succeeded")
	}
	if _, err := Open(t.Context(), "oracle", "x", Options{}); err == nil {
		t.Errorf("Open of an unknown driver succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSQLiteMigrate(t *testing.T) {
	testMigrate(t, "sqlite", filepath.Join(t.TempDir(), "hearth.db"))
}

// testMigrate checks Migrate and SchemaVersion on an empty database.
func testMigrate(t *testing.T, driver, dsn string) {
	ctx := t.Context()
	ms, err := loadMigrations(driver) // drivers are named like their dialects
	if err != nil {
		t.Fatal(err)
	}
	latest := len(ms)
	check := func(what string, gotA, gotB int, err error, wantA, wantB int) {
		t.Helper()
		if err != nil || gotA != wantA || gotB != wantB {
			t.Errorf("%s = %d, %d, %v; want %d, %d, nil", what, gotA, gotB, err, wantA, wantB)
		}
	}
	cur, last, err := SchemaVersion(ctx, driver, dsn, Options{})
	check("SchemaVersion of an empty database", cur, last, err, 0, latest)
	from, to, err := Migrate(ctx, driver, dsn, Options{})
	check("Migrate of an empty database", from, to, err, 0, latest)
	cur, last, err = SchemaVersion(ctx, driver, dsn, Options{})
	check("SchemaVersion after Migrate", cur, last, err, latest, latest)
	from, to, err = Migrate(ctx, driver, dsn, Options{})
	check("Migrate again", from, to, err, latest, latest)
}

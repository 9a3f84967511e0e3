package dump

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating test databases

	"hearth/storage"
	"hearth/storage/sqlstore"
)

// Servers used when the environment names none: the local test instances
// (as in storage/sqlstore's tests).
const (
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

// collationDump has contacts and users whose order differs between
// bytewise comparison and the collations of database servers
// (punctuation, case, accents).
const collationDump = `<server-data xmlns='urn:xmpp:pie:0'><host jid='example.org'>
<user name='a.b' password='pw-one'/><user name='a-b'/><user name='a_b'/><user name='ab'/><user name='Ab2'/><user name='é'/>
<user name='zoe'><query xmlns='jabber:iq:roster'>
<item jid='z@x.example' subscription='both'/><item jid='é@x.example' subscription='from'/><item jid='a_b@x.example'/>
<item jid='a-b@x.example' name='dash'/><item jid='a.b@x.example' name='dot'><group>G</group><group>g</group><group>É</group></item>
<item jid='AB@x.example'/><item jid='x.example'/><item jid='a@x.example/res'/>
</query></user></host></server-data>`

// TestRoundTripBackends moves the same data SQLite -> PostgreSQL -> MySQL
// and back to SQLite: every export is the same bytes.
func TestRoundTripBackends(t *testing.T) {
	pg := testServer(t, "postgres")
	my := testServer(t, "mysql")
	stores := []struct {
		name string
		st   storage.Store
	}{
		{"sqlite", openSQLite(t)},
		{"postgres", openServer(t, "postgres", pg(t))},
		{"mysql", openServer(t, "mysql", my(t))},
		{"sqlite again", openSQLite(t)},
	}
	importFile(t, stores[0].st, "testdata/sample.xml", false)
	importFile(t, stores[0].st, writeTemp(t, "collation.xml", []byte(collationDump)), false)
	prev := export(t, stores[0].st)
	for _, s := range stores[1:] {
		importFile(t, s.st, writeTemp(t, "dump.xml", prev), false)
		got := export(t, s.st)
		if !bytes.Equal(got, prev) {
			t.Errorf("export from %s differs from the dump imported:\n--- imported\n%s\n--- exported\n%s", s.name, prev, got)
		}
		prev = got
	}
}

func openServer(t *testing.T, driver, dsn string) storage.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), driver, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", driver, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testServer connects to the database server of driver, named by
// HEARTH_TEST_POSTGRES_DSN or HEARTH_TEST_MYSQL_DSN or else the local
// default, and returns a function that creates a fresh database for a test
// and drops it when the test ends. An unreachable server skips the test,
// or fails it when the environment variable CI is set. It mirrors the
// helper of storage/sqlstore's tests.
func testServer(t *testing.T, driver string) (newDB func(t *testing.T) string) {
	t.Helper()
	env, dsn, sqlDriver := "HEARTH_TEST_POSTGRES_DSN", defaultPostgresDSN, "pgx"
	if driver == "mysql" {
		env, dsn, sqlDriver = "HEARTH_TEST_MYSQL_DSN", defaultMySQLDSN, "mysql"
	}
	if v := os.Getenv(env); v != "" {
		dsn = v
	}
	admin, err := sql.Open(sqlDriver, dsn)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		msg := "\n\n*** " + driver + " UNREACHABLE (set " + env + "): " + err.Error() +
			"\n*** export/import through the " + driver + " backend was NOT TESTED\n\n"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return func(t *testing.T) string {
		t.Helper()
		var b [6]byte
		rand.Read(b[:])
		name := "hearth_test_" + hex.EncodeToString(b[:])
		if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
			t.Fatalf("creating test database: %v", err)
		}
		t.Cleanup(func() {
			drop := "DROP DATABASE IF EXISTS " + name
			if driver == "postgres" {
				drop += " WITH (FORCE)"
			}
			if _, err := admin.ExecContext(context.Background(), drop); err != nil {
				t.Errorf("dropping test database: %v", err)
			}
		})
		if driver == "mysql" {
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.DBName = name
			return cfg.FormatDSN()
		}
		if !strings.Contains(dsn, "://") {
			return dsn + " dbname=" + name
		}
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		return u.String()
	}
}

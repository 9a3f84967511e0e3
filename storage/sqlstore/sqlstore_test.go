package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"hearth/storage"
	"hearth/storage/storagetest"
)

// Servers used when the environment names none: the local test instances.
const (
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

func TestSQLite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		t.Helper()
		return openTest(t, "sqlite", filepath.Join(t.TempDir(), "data", "hearth.db"))
	})
}

func TestPostgres(t *testing.T) {
	newDB := testServer(t, "postgres")
	storagetest.Run(t, func(t *testing.T) storage.Store {
		t.Helper()
		return openTest(t, "postgres", newDB(t))
	})
	t.Run("Reopen", func(t *testing.T) { testReopen(t, "postgres", newDB(t)) })
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, "postgres", newDB(t)) })
}

func TestMySQL(t *testing.T) {
	newDB := testServer(t, "mysql")
	storagetest.Run(t, func(t *testing.T) storage.Store {
		t.Helper()
		return openTest(t, "mysql", newDB(t))
	})
	t.Run("Reopen", func(t *testing.T) { testReopen(t, "mysql", newDB(t)) })
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, "mysql", newDB(t)) })
	t.Run("TLS", func(t *testing.T) { testMySQLTLS(t, newDB(t)) })
}

// openTest opens a store that is closed when t ends.
func openTest(t *testing.T, driver, dsn string) *store {
	t.Helper()
	s, err := open(t.Context(), driver, dsn, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testServer connects to the database server of driver, named by
// HEARTH_TEST_POSTGRES_DSN or HEARTH_TEST_MYSQL_DSN or else the local
// default, and returns a function that creates a fresh database for a test
// and drops it when the test ends. An unreachable server skips the test,
// or fails it when the environment variable CI is set.
func testServer(t testing.TB, driver string) (newDB func(t testing.TB) string) {
	t.Helper()
	env, dsn := "HEARTH_TEST_POSTGRES_DSN", defaultPostgresDSN
	if driver == "mysql" {
		env, dsn = "HEARTH_TEST_MYSQL_DSN", defaultMySQLDSN
	}
	if v := os.Getenv(env); v != "" {
		dsn = v
	}
	var admin *sql.DB
	if driver == "postgres" {
		var err error
		if admin, err = sql.Open("pgx", dsn); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
	} else {
		var err error
		if admin, err = openMySQL(dsn, Options{}); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		msg := "\n\n*** " + driver + " UNREACHABLE at " + redact(dsn) + " (set " + env + "): " + err.Error() +
			"\n*** the " + driver + " backend was NOT TESTED\n\n"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return func(t testing.TB) string {
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
		return withDatabase(t, driver, dsn, name)
	}
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(t testing.TB, driver, dsn, name string) string {
	t.Helper()
	if driver == "mysql" {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = name
		return cfg.FormatDSN()
	}
	if !strings.Contains(dsn, "://") {
		return dsn + " dbname=" + name // in key=value form the last setting wins
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// redact hides a password in dsn for test output.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxx")
			return u.String()
		}
	}
	if cfg, err := mysql.ParseDSN(dsn); err == nil && cfg.Passwd != "" {
		cfg.Passwd = "xxx"
		return cfg.FormatDSN()
	}
	return dsn
}

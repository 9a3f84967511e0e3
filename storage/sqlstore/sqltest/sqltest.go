// Package sqltest gives tests throwaway databases on the PostgreSQL and
// MySQL/MariaDB servers they run against. It is imported only by tests.
package sqltest

import (
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
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Servers used when the environment names none: the local test instances.
const (
	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

// Server connects to the database server of driver ("postgres" or
// "mysql"), named by HEARTH_TEST_POSTGRES_DSN or HEARTH_TEST_MYSQL_DSN or
// else the local default, and returns a function that creates a fresh
// database for a test, drops it when that test ends and returns its DSN.
// An unreachable server skips the test with a loud message, or fails it
// when the environment variable CI is set.
func Server(t testing.TB, driver string) (newDB func(t testing.TB) string) {
	t.Helper()
	env, dsn, sqlDriver := "HEARTH_TEST_POSTGRES_DSN", DefaultPostgresDSN, "pgx"
	if driver == "mysql" {
		env, dsn, sqlDriver = "HEARTH_TEST_MYSQL_DSN", DefaultMySQLDSN, "mysql"
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
		msg := "\n\n*** " + driver + " UNREACHABLE at " + Redact(dsn) + " (set " + env + "): " + err.Error() +
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
		return WithDatabase(t, driver, dsn, name)
	}
}

// WithDatabase returns dsn with its database replaced by name.
func WithDatabase(t testing.TB, driver, dsn, name string) string {
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

// Redact hides a password in dsn for test output.
func Redact(dsn string) string {
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

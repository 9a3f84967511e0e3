package sqlstore

import (
	"path/filepath"
	"testing"

	"hearth/storage"
	"hearth/storage/sqlstore/sqltest"
	"hearth/storage/storagetest"
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

// testServer gives a test throwaway databases on driver's server.
func testServer(t testing.TB, driver string) (newDB func(t testing.TB) string) {
	t.Helper()
	return sqltest.Server(t, driver)
}

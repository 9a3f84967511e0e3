// Package storagetest is the conformance suite that every storage.Store
// implementation must pass. It pins down, as executable cases, the semantics
// the doc comments of package storage describe in words, so that modules
// behave the same on every backend.
package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"hearth/storage"
)

// Run runs the whole suite as subtests of t. open must return a new, empty
// store each time it is called (for a SQL server: its own database or
// freshly emptied tables) and arrange with t.Cleanup for it to be closed.
// The subtests are not parallel, so a backend may share one server.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Helper()
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("Map", func(t *testing.T) { testMap(t, open) })
	t.Run("Archive", func(t *testing.T) { testArchive(t, open) })
	t.Run("DeleteOwner", func(t *testing.T) { testDeleteOwner(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
}

// base is the time around which fixtures are built; it has a sub-microsecond
// part nowhere, so that times survive storage exactly.
var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// must fails the test at once when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// errIs reports a failure unless errors.Is(err, want) (or both are nil).
func errIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: got error %v, want nil", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// equalBytes compares byte slices, treating nil and empty as equal; the
// suite checks non-nil-ness separately where the contract cares.
func equalBytes(a, b []byte) bool { return bytes.Equal(a, b) }

// short describes a byte slice in test failures without dumping a megabyte.
func short(b []byte) string {
	if len(b) > 32 {
		return fmt.Sprintf("%d bytes %x...", len(b), b[:16])
	}
	return fmt.Sprintf("%q", b)
}

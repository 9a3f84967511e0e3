package sqlstore

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/storage"
)

// TestSQLiteQueryPlans checks that the queries of Archive.Query and the
// other per-owner operations are index searches, never scans of a table or
// of a whole index, and that pages come out of the index in order rather
// than through a sort.
func TestSQLiteQueryPlans(t *testing.T) {
	s := openTest(t, "sqlite", filepath.Join(t.TempDir(), "hearth.db"))
	a := s.Archive("mam").(archive)
	const owner = "alice@example.com"
	pos := &position{ts: time.Now().UnixMicro(), seq: 10}
	type shape struct {
		name   string
		sql    string
		args   []any
		sorted bool // may sort rows (the index cannot give the order)
	}
	var shapes []shape
	for _, c := range []struct {
		name          string
		q             storage.Query
		after, before *position
		sorted        bool
	}{
		{"first page", storage.Query{Limit: 50}, nil, nil, false},
		{"last page", storage.Query{Last: true, Limit: 50}, nil, nil, false},
		{"after", storage.Query{Limit: 50}, pos, nil, false},
		{"before last", storage.Query{Last: true, Limit: 50}, nil, pos, false},
		{"start end", storage.Query{Start: time.Now(), End: time.Now(), Limit: 50}, nil, nil, false},
		{"with", storage.Query{With: "bob@example.com", Limit: 50}, nil, nil, false},
		{"with prefix last", storage.Query{With: "bob@example.com", WithPrefix: true, Last: true, Limit: 50}, nil, nil, false},
		{"with prefix after", storage.Query{With: "bob@example.com", WithPrefix: true, Limit: 50}, pos, nil, false},
		{"with full JID prefix", storage.Query{With: "bob@example.com/res", WithPrefix: true, Limit: 50}, nil, nil, false},
		{"ids", storage.Query{IDs: []string{"a", "b"}}, nil, nil, true},
	} {
		sql, args := a.pageQuery(owner, c.q, c.after, c.before)
		shapes = append(shapes, shape{c.name, sql, args, c.sorted})
		sql, args = a.countQuery(owner, c.q)
		shapes = append(shapes, shape{c.name + " count", sql, args, false})
	}
	q := s.q
	shapes = append(shapes,
		shape{"position", q.archivePosition, []any{"id", owner, "mam"}, false},
		shape{"get", q.archiveGet, []any{"id", owner, "mam"}, false},
		shape{"count", q.archiveCount, []any{owner, "mam"}, false},
		shape{"delete before", q.archiveDeleteBefore, []any{owner, "mam", 0}, false},
		shape{"delete before all owners", q.archiveDeleteBeforeAll, []any{"mam", 0}, false},
		shape{"delete owner archive", q.deleteOwnerArchive, []any{owner}, false},
		shape{"delete owner kv", q.deleteOwnerKV, []any{owner}, false},
		shape{"kv all", q.kvAll, []any{owner, "roster"}, false},
		shape{"kv owners of host", q.kvOwnersHost, []any{"roster", "example.com"}, false},
		shape{"account list of host", q.accountListHost, []any{"example.com"}, false},
	)
	for _, sh := range shapes {
		t.Run(strings.ReplaceAll(sh.name, " ", "_"), func(t *testing.T) {
			plan := explain(t, s.read.DB, sh.sql, sh.args)
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") || !sh.sorted && strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("plan of %s\n%s\nis\n%s", sh.name, sh.sql, strings.Join(plan, "\n"))
					break
				}
			}
		})
	}
}

// explain returns the lines of SQLite's query plan for query.
func explain(t *testing.T, db *sql.DB, query string, args []any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hearth/storage"
)

// bulkAppend appends items to owner's archive in one transaction, to build
// large fixtures quickly. Items must have ID and Time set.
func (a archive) bulkAppend(ctx context.Context, owner string, items []storage.Item) error {
	return a.s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, a.s.q.archiveInsert)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, it := range items {
			if _, err := stmt.ExecContext(ctx, owner, a.name, storage.OwnerHost(owner), it.ID, it.Time.UnixMicro(),
				it.With, bareJID(it.With), nonNil(it.Data)); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkArchiveQuery queries an SQLite archive of 100k items of one
// owner; see benchArchiveQuery. BenchmarkArchive1M does the same at 1M
// items on every backend.
func BenchmarkArchiveQuery(b *testing.B) {
	s, err := open(b.Context(), "sqlite", filepath.Join(b.TempDir(), "hearth.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchArchiveQuery(b, s, 100_000)
}

// BenchmarkArchiveAppend measures the archive insert rate of each backend:
// one Append (one committed transaction) per message, as the MAM module
// stores them, reported as items/s. Backends whose server is unreachable
// are skipped (failed under CI), as in the conformance tests.
func BenchmarkArchiveAppend(b *testing.B) {
	forEachBackend(b, func(b *testing.B, s *store) {
		a := s.Archive("mam")
		data := []byte(benchMessage)
		b.ReportAllocs()
		start := time.Now()
		i := 0
		for b.Loop() {
			if _, err := a.Append(b.Context(), "alice@example.com", storage.Item{With: fmt.Sprintf("peer%d@example.com/r", i%10), Data: data}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i)/time.Since(start).Seconds(), "items/s")
	})
}

// BenchmarkArchiveAppendParallel is BenchmarkArchiveAppend from 16
// goroutines per CPU, as many sessions archiving at once: the servers
// commit concurrent transactions together, SQLite serialises them.
func BenchmarkArchiveAppendParallel(b *testing.B) {
	forEachBackend(b, func(b *testing.B, s *store) {
		a := s.Archive("mam")
		data := []byte(benchMessage)
		b.SetParallelism(16)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.Append(b.Context(), "alice@example.com", storage.Item{With: "peer@example.com/r", Data: data}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "items/s")
	})
}

// BenchmarkArchive1M builds an archive of 1M messages of one owner on each
// backend, reporting the bulk insert rate, and measures MAM page queries
// on it. Building takes minutes on the servers, so it only runs with
// HEARTH_BENCH_1M=1.
func BenchmarkArchive1M(b *testing.B) {
	if os.Getenv("HEARTH_BENCH_1M") == "" {
		b.Skip("set HEARTH_BENCH_1M=1 to build 1M-message archives on every backend (minutes)")
	}
	forEachBackend(b, func(b *testing.B, s *store) { benchArchiveQuery(b, s, 1_000_000) })
}

// forEachBackend runs fn on a fresh store of each backend.
func forEachBackend(b *testing.B, fn func(b *testing.B, s *store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := open(b.Context(), "sqlite", filepath.Join(b.TempDir(), "hearth.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		fn(b, s)
	})
	for _, driver := range []string{"postgres", "mysql"} {
		b.Run(driver, func(b *testing.B) {
			newDB := testServer(b, driver)
			s, err := open(b.Context(), driver, newDB(b), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fn(b, s)
		})
	}
}

const benchMessage = `<message xmlns="jabber:client" type="chat" id="x"><body>Hello there, this is a test message.</body></message>`

// benchArchiveQuery fills s with total items of one owner, with 10 peers
// (so a With query matches a tenth), and measures the queries a MAM client
// makes when it opens a conversation (the last page) and pages through it.
// Sub-benchmarks share the archive; each reports ns per page of 50.
func benchArchiveQuery(b *testing.B, s *store, total int) {
	const (
		owner = "alice@example.com"
		peers = 10
		chunk = 10_000 // items per bulk transaction
	)
	ctx := b.Context()
	a := s.Archive("mam").(archive)
	start := time.Now().Add(-time.Duration(total) * time.Second)
	var middle string
	t0 := time.Now()
	for n := 0; n < total; n += chunk {
		items := make([]storage.Item, min(chunk, total-n))
		for j := range items {
			i := n + j
			items[j] = storage.Item{
				ID:   storage.NewItemID(),
				Time: start.Add(time.Duration(i) * time.Second),
				With: fmt.Sprintf("peer%d@example.com/res%d", i%peers, i%3),
				Data: []byte(benchMessage),
			}
			if i == total/2 {
				middle = items[j].ID // a peer0 item
			}
		}
		if err := a.bulkAppend(ctx, owner, items); err != nil {
			b.Fatal(err)
		}
	}
	built := time.Since(t0)
	// Fresh statistics, as autovacuum (PostgreSQL) and InnoDB's automatic
	// recalculation keep them on a running server: without them the
	// planners misjudge a table that grew from empty in seconds.
	analyze := map[string]string{"sqlite": "ANALYZE archive", "postgres": "ANALYZE archive", "mysql": "ANALYZE TABLE archive"}
	if _, err := s.write.ExecContext(ctx, analyze[s.d.name]); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: built %d items in %v (%.0f items/s in transactions of %d)", s.d.name, total, built.Round(time.Millisecond),
		float64(total)/built.Seconds(), chunk)
	for _, c := range []struct {
		name      string
		q         storage.Query
		wantCount int
	}{
		{"LastPage", storage.Query{Last: true, Limit: 50}, total},
		{"LastPageWith", storage.Query{With: "peer0@example.com", WithPrefix: true, Last: true, Limit: 50}, total / peers},
		{"AfterID", storage.Query{AfterID: middle, Limit: 50}, total},
		{"AfterIDWith", storage.Query{With: "peer0@example.com", WithPrefix: true, AfterID: middle, Limit: 50}, total / peers},
		{"BeforeIDWith", storage.Query{With: "peer0@example.com", WithPrefix: true, BeforeID: middle, Last: true, Limit: 50}, total / peers},
	} {
		b.Run(c.name+"/PageOnly", func(b *testing.B) {
			// The page query alone, without the positions and the count.
			page, args := a.pageQuery(owner, c.q, nil, nil)
			b.ReportAllocs()
			for b.Loop() {
				items, err := scanItems(s.read.QueryContext(ctx, page, args...))
				if err != nil || len(items) != 51 {
					b.Fatalf("got %d items, %v", len(items), err)
				}
			}
		})
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := a.Query(ctx, owner, c.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Items) != 50 || res.Count != c.wantCount {
					b.Fatalf("got %d items, count %d; want 50, %d", len(res.Items), res.Count, c.wantCount)
				}
			}
		})
	}
}

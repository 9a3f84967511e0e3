package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
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
			if _, err := stmt.ExecContext(ctx, owner, a.name, ownerHost(owner), it.ID, it.Time.UnixMicro(),
				it.With, bareJID(it.With), nonNil(it.Data)); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkArchiveQuery queries an archive of 100k items of one owner, with
// 10 peers (so a With query matches 10k items), the way a MAM client opens a
// conversation (the last page) and then pages through it.
func BenchmarkArchiveQuery(b *testing.B) {
	const (
		owner = "alice@example.com"
		total = 100_000
		peers = 10
	)
	ctx := b.Context()
	s, err := open(ctx, "sqlite", filepath.Join(b.TempDir(), "hearth.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a := s.Archive("mam").(archive)
	start := time.Now().Add(-total * time.Second)
	items := make([]storage.Item, total)
	for i := range items {
		items[i] = storage.Item{
			ID:   newID(),
			Time: start.Add(time.Duration(i) * time.Second),
			With: fmt.Sprintf("peer%d@example.com/res%d", i%peers, i%3),
			Data: []byte(`<message xmlns="jabber:client" type="chat" id="x"><body>Hello there, this is a test message.</body></message>`),
		}
	}
	t0 := time.Now()
	if err := a.bulkAppend(ctx, owner, items); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d items in %v", total, time.Since(t0))
	middle := items[total/2].ID // a peer0 item
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

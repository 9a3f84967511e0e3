package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hearth/storage"
)

func openSQLiteTest(t *testing.T) *store {
	t.Helper()
	return openTest(t, "sqlite", filepath.Join(t.TempDir(), "hearth.db"))
}

// TestBatchConcurrentAppend appends from 200 goroutines at once: every
// Append succeeds with its own ID, and every item can be read back.
func TestBatchConcurrentAppend(t *testing.T) {
	s := openSQLiteTest(t)
	a := s.Archive("mam")
	ctx := t.Context()
	const n = 200
	items := make([]storage.Item, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			items[i], errs[i] = a.Append(ctx, "alice@example.com",
				storage.Item{With: fmt.Sprintf("peer%d@example.com", i), Data: []byte{byte(i)}})
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]bool{}
	for i, it := range items {
		if errs[i] != nil {
			t.Fatalf("Append %d: %v", i, errs[i])
		}
		if it.ID == "" || seen[it.ID] {
			t.Fatalf("Append %d: ID %q empty or not unique", i, it.ID)
		}
		seen[it.ID] = true
		got, err := a.Get(ctx, "alice@example.com", it.ID)
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
		if got.With != it.With || len(got.Data) != 1 || got.Data[0] != byte(i) || !got.Time.Equal(it.Time) {
			t.Errorf("Get %d: got %+v, want %+v", i, got, it)
		}
	}
	res, err := a.Query(ctx, "alice@example.com", storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != n || len(res.Items) != n {
		t.Fatalf("Query: %d items, count %d; want %d", len(res.Items), res.Count, n)
	}
	for _, it := range res.Items {
		if !seen[it.ID] {
			t.Errorf("Query returned unknown item %q", it.ID)
		}
	}
}

// queued returns requests for the writer, as insert makes them.
func queued(s *store, owner string, ids ...string) []*appendReq {
	var reqs []*appendReq
	for i, id := range ids {
		reqs = append(reqs, &appendReq{
			ctx:  context.Background(),
			args: []any{owner, "mam", storage.OwnerHost(owner), id, int64(1_000_000 + i), "", "", []byte(id)},
			done: make(chan error, 1),
		})
	}
	return reqs
}

// TestBatchDuplicateFailsAlone writes one batch in which two items reuse
// an ID (one already stored, one taken earlier in the same batch): they
// alone fail, with ErrExists, and the others of the transaction are stored.
func TestBatchDuplicateFailsAlone(t *testing.T) {
	s := openSQLiteTest(t)
	a := s.Archive("mam")
	ctx := t.Context()
	if _, err := a.Append(ctx, "alice@example.com", storage.Item{ID: "old", Data: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	ids := []string{"a", "b", "old", "c", "b", "d"}
	reqs := queued(s, "alice@example.com", ids...)
	s.batch.write(reqs) // one transaction, as the writer takes a batch
	for i, r := range reqs {
		err := <-r.done
		dup := i == 2 || i == 4
		if dup != s.d.isUnique(err) || !dup && err != nil {
			t.Errorf("item %d (%s): got %v, want duplicate=%v", i, ids[i], err, dup)
		}
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		got, err := a.Get(ctx, "alice@example.com", id)
		if err != nil || string(got.Data) != id {
			t.Errorf("Get(%s): %q, %v", id, got.Data, err)
		}
	}
	if got, err := a.Get(ctx, "alice@example.com", "old"); err != nil || string(got.Data) != "first" {
		t.Errorf("Get(old): %q, %v; want the first item unchanged", got.Data, err)
	}
	if n, err := a.Count(ctx, "alice@example.com"); n != 5 || err != nil {
		t.Errorf("Count: %d, %v; want 5", n, err)
	}

	// Through Append, from concurrent callers: the duplicate gets
	// ErrExists, the others succeed.
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			id := fmt.Sprintf("x%d", i)
			if i == 25 {
				id = "old"
			}
			_, errs[i] = a.Append(ctx, "alice@example.com", storage.Item{ID: id})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := error(nil); i == 25 {
			if !errors.Is(err, storage.ErrExists) {
				t.Errorf("Append %d: got %v, want ErrExists", i, err)
			}
		} else if err != want {
			t.Errorf("Append %d: %v", i, err)
		}
	}
}

// TestBatchCancel: a request cancelled while queued is skipped by the
// writer and not written; its caller gets ctx.Err().
func TestBatchCancel(t *testing.T) {
	s := openSQLiteTest(t)
	a := s.Archive("mam")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.Append(ctx, "alice@example.com", storage.Item{ID: "gone"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with cancelled context: %v", err)
	}
	reqs := queued(s, "alice@example.com", "kept", "dropped", "kept2")
	reqs[1].state.Store(reqCancelled)
	s.batch.write(reqs)
	if err := <-reqs[0].done; err != nil {
		t.Error(err)
	}
	if err := <-reqs[2].done; err != nil {
		t.Error(err)
	}
	select {
	case err := <-reqs[1].done:
		t.Errorf("cancelled request got a result: %v", err)
	default:
	}
	for id, want := range map[string]error{"gone": storage.ErrNotFound, "kept": nil, "dropped": storage.ErrNotFound, "kept2": nil} {
		if _, err := a.Get(t.Context(), "alice@example.com", id); !errors.Is(err, want) {
			t.Errorf("Get(%s): %v, want %v", id, err, want)
		}
	}

	// Cancelling callers at random while others append: each gets either
	// success (and its item exists) or ctx.Err() (and it does not).
	var wg sync.WaitGroup
	type result struct {
		id  string
		err error
	}
	results := make([]result, 200)
	for i := range results {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i%20)*20*time.Microsecond)
			defer cancel()
			id := fmt.Sprintf("r%d", i)
			_, err := a.Append(ctx, "bob@example.com", storage.Item{ID: id})
			results[i] = result{id, err}
		})
	}
	wg.Wait()
	cancelled := 0
	for _, r := range results {
		if r.err != nil {
			cancelled++
		}
		_, err := a.Get(t.Context(), "bob@example.com", r.id)
		switch {
		case r.err == nil && err != nil:
			t.Errorf("%s: Append succeeded, Get: %v", r.id, err)
		case r.err != nil && !errors.Is(r.err, context.DeadlineExceeded):
			t.Errorf("%s: Append: %v", r.id, r.err)
		case r.err != nil && err == nil:
			t.Errorf("%s: Append failed with %v, but the item was written", r.id, r.err)
		}
	}
	t.Logf("%d of %d Appends cancelled", cancelled, len(results))
}

// TestBatchClose: Close writes what is queued and stops the writer; Append
// after Close fails.
func TestBatchClose(t *testing.T) {
	s, err := open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "hearth.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := s.batch
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := s.Archive("mam").Append(t.Context(), "alice@example.com", storage.Item{}); err != nil &&
				!errors.Is(err, errClosed) {
				t.Errorf("Append during Close: %v", err)
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.stopped:
	default:
		t.Fatal("writer still running after Close")
	}
	wg.Wait()
	if _, err := s.Archive("mam").Append(t.Context(), "alice@example.com", storage.Item{}); !errors.Is(err, errClosed) {
		t.Errorf("Append after Close: %v", err)
	}
}

// BenchmarkBatchAppendParallel appends to an SQLite archive from p
// goroutines per CPU, as many sessions archiving at once, which the
// batcher commits together; "direct" is without the batcher, one
// transaction per Append, for comparison.
func BenchmarkBatchAppendParallel(b *testing.B) {
	for _, mode := range []string{"batched", "direct"} {
		for _, p := range []int{1, 4, 16, 64} {
			b.Run(fmt.Sprintf("%s/p%d", mode, p), func(b *testing.B) { benchAppendParallel(b, p, mode == "batched") })
		}
	}
}

func benchAppendParallel(b *testing.B, p int, batched bool) {
	{
		{
			s, err := open(b.Context(), "sqlite", filepath.Join(b.TempDir(), "hearth.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if !batched {
				s.batch.stop()
				s.batch = nil
			}
			a := s.Archive("mam")
			data := []byte(benchMessage)
			b.SetParallelism(p)
			b.ReportAllocs()
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
		}
	}
}

package storagetest

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/storage"
)

func testArchive(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("AppendAssignsIDAndTime", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Archive("mam")
		seen := map[string]bool{}
		for i := range 100 {
			before := time.Now().Truncate(time.Microsecond)
			item, err := a.Append(ctx, "alice@example.com", storage.Item{With: "bob@example.com", Data: []byte("hello")})
			after := time.Now()
			must(t, err)
			if len(item.ID) < 16 || strings.Trim(item.ID, "0123456789") == "" {
				t.Fatalf("Append %d: ID %q is too short or a counter, not unguessable", i, item.ID)
			}
			if seen[item.ID] {
				t.Fatalf("Append %d: ID %q assigned twice", i, item.ID)
			}
			seen[item.ID] = true
			if item.Time.Before(before) || item.Time.After(after) {
				t.Errorf("Append %d: Time %v not within [%v, %v]", i, item.Time, before, after)
			}
			if item.Time.Location() != time.UTC || item.Time.Nanosecond()%1000 != 0 {
				t.Errorf("Append %d: Time %v is not UTC with microsecond precision", i, item.Time)
			}
			got, err := a.Get(ctx, "alice@example.com", item.ID)
			must(t, err)
			sameItem(t, "Get after Append", got, item)
		}
	})
	t.Run("AppendExplicit", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Archive("mam")
		paris := time.FixedZone("Paris", 3600)
		in := storage.Item{
			ID:   "explicit-id",
			Time: time.Date(2024, 3, 1, 13, 0, 0, 123456789, paris),
			With: "bob@example.com/phone",
			Data: []byte("<message/>"),
		}
		out, err := a.Append(ctx, "alice@example.com", in)
		must(t, err)
		want := storage.Item{
			ID:   "explicit-id",
			Time: time.Date(2024, 3, 1, 12, 0, 0, 123456000, time.UTC),
			With: in.With,
			Data: in.Data,
		}
		sameItem(t, "Append result", out, want)
		got, err := a.Get(ctx, "alice@example.com", "explicit-id")
		must(t, err)
		sameItem(t, "Get", got, want)
		// Times before 1970 and far in the future are kept as well.
		for _, tm := range []time.Time{
			time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
			time.Date(2400, 1, 1, 0, 0, 0, 1000, time.UTC),
		} {
			it, err := a.Append(ctx, "alice@example.com", storage.Item{Time: tm})
			must(t, err)
			got, err := a.Get(ctx, "alice@example.com", it.ID)
			must(t, err)
			if !got.Time.Equal(tm) {
				t.Errorf("time %v stored as %v", tm, got.Time)
			}
			if got.Data == nil {
				t.Errorf("nil Data read back as nil; a stored item's Data is never nil")
			}
		}
	})
	t.Run("DuplicateID", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		a := s.Archive("mam")
		_, err := a.Append(ctx, "alice@example.com", storage.Item{ID: "dup", Data: []byte("first")})
		must(t, err)
		for _, c := range []struct {
			name    string
			archive string
			owner   string
		}{
			{"same owner", "mam", "alice@example.com"},
			{"other owner", "mam", "bob@example.com"},
			{"other archive", "offline", "alice@example.com"},
		} {
			_, err := s.Archive(c.archive).Append(ctx, c.owner, storage.Item{ID: "dup", Data: []byte("second")})
			errIs(t, c.name, err, storage.ErrExists)
		}
		got, err := a.Get(ctx, "alice@example.com", "dup")
		must(t, err)
		if string(got.Data) != "first" {
			t.Errorf("failed Append replaced the item: %q", got.Data)
		}
		count(t, a, "alice@example.com", 1)
		count(t, a, "bob@example.com", 0)
		count(t, s.Archive("offline"), "alice@example.com", 0)
	})
	t.Run("GetIsolation", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		it, err := s.Archive("mam").Append(ctx, "alice@example.com", storage.Item{Data: []byte("x")})
		must(t, err)
		_, err = s.Archive("mam").Get(ctx, "bob@example.com", it.ID)
		errIs(t, "Get by other owner", err, storage.ErrNotFound)
		_, err = s.Archive("muc").Get(ctx, "alice@example.com", it.ID)
		errIs(t, "Get in other archive", err, storage.ErrNotFound)
		_, err = s.Archive("mam").Get(ctx, "alice@example.com", "unknown")
		errIs(t, "Get of unknown id", err, storage.ErrNotFound)
	})
	t.Run("ValuesAreCopied", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Archive("mam")
		data := []byte("original")
		it, err := a.Append(ctx, "alice@example.com", storage.Item{Data: data})
		must(t, err)
		copy(data, "mutated!")
		copy(it.Data, "mutated!")
		got, err := a.Get(ctx, "alice@example.com", it.ID)
		must(t, err)
		if string(got.Data) != "original" {
			t.Fatalf("stored data changed to %q", got.Data)
		}
		copy(got.Data, "mutated!")
		res, err := a.Query(ctx, "alice@example.com", storage.Query{})
		must(t, err)
		if string(res.Items[0].Data) != "original" {
			t.Fatalf("stored data changed to %q", res.Items[0].Data)
		}
	})
	t.Run("Query", func(t *testing.T) { testQuery(t, open) })
	t.Run("SameTimeKeepsInsertionOrder", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Archive("mam")
		var want []string
		for i := range 20 {
			it, err := a.Append(ctx, "alice@example.com", storage.Item{Time: base, Data: []byte{byte(i)}})
			must(t, err)
			want = append(want, it.ID)
		}
		query(t, a, "alice@example.com", storage.Query{}, want)
		query(t, a, "alice@example.com", storage.Query{AfterID: want[9], Limit: 3}, want[10:13])
		query(t, a, "alice@example.com", storage.Query{BeforeID: want[9], Limit: 3, Last: true}, want[6:9])
	})
	t.Run("Paging", func(t *testing.T) { testPaging(t, open) })
	t.Run("Delete", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		a := s.Archive("mam")
		var alice []string
		for i := range 5 {
			it, err := a.Append(ctx, "alice@example.com", storage.Item{Time: at(time.Duration(i) * time.Second)})
			must(t, err)
			alice = append(alice, it.ID)
		}
		bob, err := a.Append(ctx, "bob@example.com", storage.Item{})
		must(t, err)
		must(t, a.Delete(ctx, "alice@example.com"))
		count(t, a, "alice@example.com", 5)
		// Unknown ids and ids of other owners are ignored.
		must(t, a.Delete(ctx, "alice@example.com", alice[1], "unknown", bob.ID, alice[3]))
		query(t, a, "alice@example.com", storage.Query{}, []string{alice[0], alice[2], alice[4]})
		count(t, a, "bob@example.com", 1)
		must(t, s.Archive("muc").Delete(ctx, "alice@example.com", alice[0]))
		count(t, a, "alice@example.com", 3)
		_, err = a.Get(ctx, "alice@example.com", alice[1])
		errIs(t, "Get of deleted item", err, storage.ErrNotFound)
		_, err = a.Query(ctx, "alice@example.com", storage.Query{AfterID: alice[1]})
		errIs(t, "AfterID of deleted item", err, storage.ErrNotFound)
		// A deleted item's id is free again.
		_, err = a.Append(ctx, "alice@example.com", storage.Item{ID: alice[1]})
		must(t, err)
	})
	t.Run("DeleteBefore", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		a, other := s.Archive("mam"), s.Archive("offline")
		for _, owner := range []string{"alice@example.com", "bob@example.com"} {
			for i := range 5 {
				_, err := a.Append(ctx, owner, storage.Item{Time: at(time.Duration(i) * time.Second)})
				must(t, err)
				_, err = other.Append(ctx, owner, storage.Item{Time: at(time.Duration(i) * time.Second)})
				must(t, err)
			}
		}
		// Strictly older: the items at 2s stay.
		n, err := a.DeleteBefore(ctx, "alice@example.com", at(2*time.Second))
		must(t, err)
		if n != 2 {
			t.Errorf("DeleteBefore(alice, 2s) = %d, want 2", n)
		}
		count(t, a, "alice@example.com", 3)
		count(t, a, "bob@example.com", 5)
		n, err = a.DeleteBefore(ctx, "alice@example.com", at(2*time.Second))
		must(t, err)
		if n != 0 {
			t.Errorf("second DeleteBefore(alice, 2s) = %d, want 0", n)
		}
		// Sub-microsecond bound: 3s+1ns is after the item at 3s.
		n, err = a.DeleteBefore(ctx, "", at(3*time.Second+time.Nanosecond))
		must(t, err)
		if n != 2+4 {
			t.Errorf("DeleteBefore(all, 3s+1ns) = %d, want 6", n)
		}
		count(t, a, "alice@example.com", 1)
		count(t, a, "bob@example.com", 1)
		count(t, other, "alice@example.com", 5)
		count(t, other, "bob@example.com", 5)
	})
	t.Run("CountIsolation", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		count(t, s.Archive("mam"), "alice@example.com", 0)
		for range 3 {
			_, err := s.Archive("mam").Append(ctx, "alice@example.com", storage.Item{})
			must(t, err)
		}
		_, err := s.Archive("mam").Append(ctx, "alice@example.co", storage.Item{})
		must(t, err)
		_, err = s.Archive("muc").Append(ctx, "alice@example.com", storage.Item{})
		must(t, err)
		count(t, s.Archive("mam"), "alice@example.com", 3)
		count(t, s.Archive("mam"), "alice@example.co", 1)
		count(t, s.Archive("muc"), "alice@example.com", 1)
	})
}

// The query fixture, in the order of appends; archive order is by time, then
// append order: h c a b d e f g.
var queryFixture = []storage.Item{
	{ID: "a", Time: at(1 * time.Second), With: "bob@example.com"},
	{ID: "b", Time: at(1 * time.Second), With: "carol@example.com"},
	{ID: "c", Time: at(0), With: "bob@example.com/phone"},
	{ID: "d", Time: at(2 * time.Second), With: "bob@example.com2"},
	{ID: "e", Time: at(3 * time.Second), With: "bob@example.com/laptop"},
	{ID: "f", Time: at(3 * time.Second), With: ""},
	{ID: "g", Time: at(4 * time.Second), With: "bob@example.com"},
	{ID: "h", Time: at(-1 * time.Second), With: "bob@example.com"},
}

func testQuery(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	a := s.Archive("mam")
	const owner = "alice@example.com"
	for _, it := range queryFixture {
		it.Data = []byte("data of " + it.ID)
		_, err := a.Append(ctx, owner, it)
		must(t, err)
	}
	// Noise that no query of owner may see.
	for i, o := range []struct{ archive, owner string }{
		{"mam", "alice@example.co"}, {"mam", "alice@example.com2"}, {"mam", "bob@example.com"}, {"muc", owner},
	} {
		_, err := s.Archive(o.archive).Append(ctx, o.owner, storage.Item{
			ID: "other" + string(rune('0'+i)), Time: at(time.Second), With: "bob@example.com",
		})
		must(t, err)
	}

	all := []string{"h", "c", "a", "b", "d", "e", "f", "g"}
	type page struct {
		ids      []string
		complete bool
		count    int
	}
	for _, c := range []struct {
		name string
		q    storage.Query
		want page
		err  error
	}{
		{"all", storage.Query{}, page{all, true, 8}, nil},
		{"limit", storage.Query{Limit: 3}, page{[]string{"h", "c", "a"}, false, 8}, nil},
		{"limit exactly all", storage.Query{Limit: 8}, page{all, true, 8}, nil},
		{"limit above all", storage.Query{Limit: 100}, page{all, true, 8}, nil},
		{"last", storage.Query{Last: true, Limit: 3}, page{[]string{"e", "f", "g"}, false, 8}, nil},
		{"last exactly all", storage.Query{Last: true, Limit: 8}, page{all, true, 8}, nil},
		{"last without limit", storage.Query{Last: true}, page{all, true, 8}, nil},
		{"start inclusive", storage.Query{Start: at(time.Second)}, page{[]string{"a", "b", "d", "e", "f", "g"}, true, 6}, nil},
		{"start sub-microsecond", storage.Query{Start: at(time.Second + time.Nanosecond)}, page{[]string{"d", "e", "f", "g"}, true, 4}, nil},
		{"end inclusive", storage.Query{End: at(time.Second)}, page{[]string{"h", "c", "a", "b"}, true, 4}, nil},
		{"end sub-microsecond", storage.Query{End: at(time.Second - time.Nanosecond)}, page{[]string{"h", "c"}, true, 2}, nil},
		{"start and end", storage.Query{Start: at(time.Second), End: at(3 * time.Second)}, page{[]string{"a", "b", "d", "e", "f"}, true, 5}, nil},
		{"start equals end", storage.Query{Start: at(3 * time.Second), End: at(3 * time.Second)}, page{[]string{"e", "f"}, true, 2}, nil},
		{"start after end", storage.Query{Start: at(3 * time.Second), End: at(time.Second)}, page{nil, true, 0}, nil},
		{"start in other zone", storage.Query{Start: at(time.Second).In(time.FixedZone("X", -7200))}, page{[]string{"a", "b", "d", "e", "f", "g"}, true, 6}, nil},
		{"with exact", storage.Query{With: "bob@example.com"}, page{[]string{"h", "a", "g"}, true, 3}, nil},
		{"with full JID exact", storage.Query{With: "bob@example.com/phone"}, page{[]string{"c"}, true, 1}, nil},
		{"with prefix", storage.Query{With: "bob@example.com", WithPrefix: true}, page{[]string{"h", "c", "a", "e", "g"}, true, 5}, nil},
		{"with prefix of full JID", storage.Query{With: "bob@example.com/phone", WithPrefix: true}, page{[]string{"c"}, true, 1}, nil},
		{"with no match", storage.Query{With: "bob@example"}, page{nil, true, 0}, nil},
		{"with prefix no partial domain", storage.Query{With: "bob@example", WithPrefix: true}, page{nil, true, 0}, nil},
		{"with longer", storage.Query{With: "bob@example.com2"}, page{[]string{"d"}, true, 1}, nil},
		{"with prefix and limit", storage.Query{With: "bob@example.com", WithPrefix: true, Limit: 2}, page{[]string{"h", "c"}, false, 5}, nil},
		{"with prefix and start", storage.Query{With: "bob@example.com", WithPrefix: true, Start: at(0), Limit: 2}, page{[]string{"c", "a"}, false, 4}, nil},
		{"with prefix last", storage.Query{With: "bob@example.com", WithPrefix: true, Last: true, Limit: 2}, page{[]string{"e", "g"}, false, 5}, nil},
		{"ids", storage.Query{IDs: []string{"g", "a", "unknown", "other0"}}, page{[]string{"a", "g"}, true, 2}, nil},
		{"ids and with", storage.Query{IDs: []string{"g", "b", "c"}, With: "bob@example.com"}, page{[]string{"g"}, true, 1}, nil},
		{"ids limit", storage.Query{IDs: []string{"g", "a", "h"}, Limit: 2}, page{[]string{"h", "a"}, false, 3}, nil},
		{"after", storage.Query{AfterID: "a"}, page{[]string{"b", "d", "e", "f", "g"}, true, 8}, nil},
		{"after same time", storage.Query{AfterID: "e"}, page{[]string{"f", "g"}, true, 8}, nil},
		{"after with limit", storage.Query{AfterID: "a", Limit: 2}, page{[]string{"b", "d"}, false, 8}, nil},
		{"after with limit to end", storage.Query{AfterID: "d", Limit: 3}, page{[]string{"e", "f", "g"}, true, 8}, nil},
		{"after last item", storage.Query{AfterID: "g", Limit: 3}, page{nil, true, 8}, nil},
		{"before", storage.Query{BeforeID: "e"}, page{[]string{"h", "c", "a", "b", "d"}, true, 8}, nil},
		{"before same time", storage.Query{BeforeID: "b", Last: true}, page{[]string{"h", "c", "a"}, true, 8}, nil},
		{"before last limit", storage.Query{BeforeID: "e", Last: true, Limit: 2}, page{[]string{"b", "d"}, false, 8}, nil},
		{"before last limit to start", storage.Query{BeforeID: "e", Last: true, Limit: 5}, page{[]string{"h", "c", "a", "b", "d"}, true, 8}, nil},
		{"before first item", storage.Query{BeforeID: "h", Last: true, Limit: 3}, page{nil, true, 8}, nil},
		// Forward with an upper bound: complete says whether items remain
		// before the bound.
		{"before forward limit", storage.Query{BeforeID: "e", Limit: 2}, page{[]string{"h", "c"}, false, 8}, nil},
		{"before forward limit to bound", storage.Query{BeforeID: "e", Limit: 5}, page{[]string{"h", "c", "a", "b", "d"}, true, 8}, nil},
		{"after and before", storage.Query{AfterID: "c", BeforeID: "f"}, page{[]string{"a", "b", "d", "e"}, true, 8}, nil},
		{"after and before last", storage.Query{AfterID: "c", BeforeID: "f", Last: true, Limit: 2}, page{[]string{"d", "e"}, false, 8}, nil},
		{"after and before adjacent", storage.Query{AfterID: "a", BeforeID: "b"}, page{nil, true, 8}, nil},
		{"after last", storage.Query{AfterID: "a", Last: true, Limit: 2}, page{[]string{"f", "g"}, false, 8}, nil},
		// The position may be an item the filter excludes.
		{"after non-matching", storage.Query{AfterID: "b", With: "bob@example.com"}, page{[]string{"g"}, true, 3}, nil},
		{"after with filter", storage.Query{AfterID: "h", With: "bob@example.com", Limit: 1}, page{[]string{"a"}, false, 3}, nil},
		{"before with filter", storage.Query{BeforeID: "g", With: "bob@example.com", WithPrefix: true, Last: true, Limit: 1}, page{[]string{"e"}, false, 5}, nil},
		{"after with start", storage.Query{AfterID: "c", Start: at(2 * time.Second)}, page{[]string{"d", "e", "f", "g"}, true, 4}, nil},
		// CountLimit: the count when it is at most the limit, -1 above.
		{"count limit above", storage.Query{Limit: 2, CountLimit: 8}, page{[]string{"h", "c"}, false, 8}, nil},
		{"count limit below", storage.Query{Limit: 2, CountLimit: 7}, page{[]string{"h", "c"}, false, -1}, nil},
		{"count limit complete page", storage.Query{CountLimit: 3}, page{[]string{"h", "c", "a", "b", "d", "e", "f", "g"}, true, -1}, nil},
		{"count limit with filter", storage.Query{With: "bob@example.com", WithPrefix: true, Limit: 1, CountLimit: 5}, page{[]string{"h"}, false, 5}, nil},
		{"count limit after", storage.Query{AfterID: "a", Limit: 1, CountLimit: 4}, page{[]string{"b"}, false, -1}, nil},
		{"after unknown", storage.Query{AfterID: "unknown"}, page{}, storage.ErrNotFound},
		{"before unknown", storage.Query{BeforeID: "unknown"}, page{}, storage.ErrNotFound},
		{"after id of other owner", storage.Query{AfterID: "other0"}, page{}, storage.ErrNotFound},
		{"before id of other archive", storage.Query{BeforeID: "other3"}, page{}, storage.ErrNotFound},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			res, err := a.Query(t.Context(), owner, c.q)
			if c.err != nil {
				errIs(t, "Query", err, c.err)
				return
			}
			must(t, err)
			got := page{itemIDs(res.Items), res.Complete, res.Count}
			if !slices.Equal(got.ids, c.want.ids) || got.complete != c.want.complete || got.count != c.want.count {
				t.Errorf("Query(%+v)\ngot  items %q complete %v count %d\nwant items %q complete %v count %d",
					c.q, got.ids, got.complete, got.count, c.want.ids, c.want.complete, c.want.count)
			}
			for _, it := range res.Items {
				fx := fixtureItem(it.ID)
				fx.Data = []byte("data of " + it.ID)
				sameItem(t, "item "+it.ID, it, fx)
			}
		})
	}
	t.Run("unknown_owner", func(t *testing.T) {
		res, err := a.Query(t.Context(), "nobody@example.com", storage.Query{Limit: 10})
		must(t, err)
		if len(res.Items) != 0 || !res.Complete || res.Count != 0 {
			t.Errorf("got %+v, want no items, complete, count 0", res)
		}
	})
}

func fixtureItem(id string) storage.Item {
	for _, it := range queryFixture {
		if it.ID == id {
			return it
		}
	}
	return storage.Item{}
}

// testPaging walks an archive of 1000 items page by page, the way a MAM
// client does, forwards with AfterID and backwards with BeforeID and Last.
func testPaging(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	a := open(t).Archive("mam")
	const (
		owner = "alice@example.com"
		n     = 1000
		step  = 37
	)
	type appended struct {
		id   string
		time time.Time
		seq  int
		with string
	}
	var items []appended
	for i := range n {
		// Times out of append order, four items per timestamp.
		tm := at(time.Duration((i*7919)%(n/4)) * time.Second)
		with := "peer" + string(rune('0'+i%3)) + "@example.com"
		it, err := a.Append(ctx, owner, storage.Item{Time: tm, With: with + "/res", Data: []byte{byte(i)}})
		must(t, err)
		items = append(items, appended{it.ID, tm, i, with})
	}
	slices.SortStableFunc(items, func(x, y appended) int { return x.time.Compare(y.time) })
	for _, c := range []struct {
		name string
		with string
	}{{"all", ""}, {"with", "peer1@example.com"}} {
		var want []string
		for _, it := range items {
			if c.with == "" || it.with == c.with {
				want = append(want, it.id)
			}
		}
		t.Run(c.name+"/forward", func(t *testing.T) {
			var got []string
			q := storage.Query{With: c.with, WithPrefix: true, Limit: step}
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				res, err := a.Query(ctx, owner, q)
				must(t, err)
				if res.Count != len(want) {
					t.Fatalf("page %d: Count = %d, want %d", pages, res.Count, len(want))
				}
				got = append(got, itemIDs(res.Items)...)
				if res.Complete != (len(got) == len(want)) {
					t.Fatalf("page %d: Complete = %v after %d of %d items", pages, res.Complete, len(got), len(want))
				}
				if res.Complete {
					break
				}
				q.AfterID = res.Items[len(res.Items)-1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("forward walk returned %d items, want each of %d exactly once in order", len(got), len(want))
			}
		})
		t.Run(c.name+"/backward", func(t *testing.T) {
			var got []string
			q := storage.Query{With: c.with, WithPrefix: true, Limit: step, Last: true}
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				res, err := a.Query(ctx, owner, q)
				must(t, err)
				if res.Count != len(want) {
					t.Fatalf("page %d: Count = %d, want %d", pages, res.Count, len(want))
				}
				got = append(itemIDs(res.Items), got...)
				if res.Complete != (len(got) == len(want)) {
					t.Fatalf("page %d: Complete = %v after %d of %d items", pages, res.Complete, len(got), len(want))
				}
				if res.Complete {
					break
				}
				q.BeforeID = res.Items[0].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("backward walk returned %d items, want each of %d exactly once in order", len(got), len(want))
			}
		})
	}
}

func itemIDs(items []storage.Item) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

// sameItem checks that got equals want, comparing times with Equal and
// requiring UTC.
func sameItem(t *testing.T, what string, got, want storage.Item) {
	t.Helper()
	if got.ID != want.ID || !got.Time.Equal(want.Time) || got.With != want.With || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s\ngot  {%q %v %q %s}\nwant {%q %v %q %s}", what,
			got.ID, got.Time, got.With, short(got.Data), want.ID, want.Time, want.With, short(want.Data))
	}
	if got.Time.Location() != time.UTC {
		t.Errorf("%s: Time %v is not in UTC", what, got.Time)
	}
	if got.Data == nil {
		t.Errorf("%s: Data is nil; a stored item's Data is never nil", what)
	}
}

// query checks the ids a query returns.
func query(t *testing.T, a storage.Archive, owner string, q storage.Query, want []string) {
	t.Helper()
	res, err := a.Query(t.Context(), owner, q)
	if err != nil {
		t.Errorf("Query(%q, %+v): %v", owner, q, err)
		return
	}
	if got := itemIDs(res.Items); !slices.Equal(got, want) {
		t.Errorf("Query(%q, %+v)\ngot  %q\nwant %q", owner, q, got, want)
	}
}

// count checks a.Count(owner).
func count(t *testing.T, a storage.Archive, owner string, want int) {
	t.Helper()
	got, err := a.Count(t.Context(), owner)
	if err != nil {
		t.Errorf("Count(%q): %v", owner, err)
		return
	}
	if got != want {
		t.Errorf("Count(%q) = %d, want %d", owner, got, want)
	}
}

package mam_test

import (
	"context"
	"testing"
	"time"

	"hearth/mod/internal/modtest"
	"hearth/mod/mam"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/storage"
	"hearth/storage/memstore"
)

// gatedStore holds every append to the "mam" archive until gate is closed.
type gatedStore struct {
	storage.Store
	gate chan struct{}
}

func (s gatedStore) Archive(name string) storage.Archive {
	a := s.Store.Archive(name)
	if name != mam.ArchiveName {
		return a
	}
	return gatedArchive{a, s.gate}
}

type gatedArchive struct {
	storage.Archive
	gate chan struct{}
}

func (a gatedArchive) Append(ctx context.Context, owner string, it storage.Item) (storage.Item, error) {
	<-a.gate
	return a.Archive.Append(ctx, owner, it)
}

// TestWritesWaitForArchive: the archive writes a message starts (the
// sender's copy on the way in, the recipient's on delivery) count on the
// module.Writes of the context it is handled under until they commit; the
// router's XEP-0198 acknowledgement waits on that (docs/durability.md).
func TestWritesWaitForArchive(t *testing.T) {
	gate := make(chan struct{})
	e := modtest.New(t, domain, gatedStore{memstore.New(), gate})
	e.Start(t, roster.Module, nil)
	e.Start(t, mam.Module, nil)
	e.Freeze(t)
	e.AddAccount(t, "alice")
	e.AddAccount(t, "bob")

	var w module.Writes
	ctx := module.WithWrites(context.Background(), &w)
	if !w.Wait(time.Millisecond) {
		t.Fatal("Wait on a fresh Writes did not return at once")
	}
	msg := modtest.Parse(t, `<message xmlns='jabber:client' from='alice@example.com/a' to='bob@example.com' type='chat' id='m1'><body>hi</body></message>`)
	from, to := mustJID(t, "alice@example.com/a"), mustJID(t, "bob@example.com")
	out, err := e.Registry.RunInbound(ctx, msg, from, to)
	if err != nil || out == nil {
		t.Fatalf("RunInbound: %v, %v", out, err)
	}
	if out, err = e.Registry.RunDeliver(ctx, out, from, to); err != nil || out == nil {
		t.Fatalf("RunDeliver: %v, %v", out, err)
	}
	if w.Wait(100 * time.Millisecond) {
		t.Fatal("Wait returned while both archive writes were held back")
	}
	// A context without Writes is not held back by them.
	var other module.Writes
	if !other.Wait(time.Millisecond) {
		t.Fatal("an unrelated Writes waits")
	}
	close(gate)
	if !w.Wait(5 * time.Second) {
		t.Fatal("Wait did not return after the writes committed")
	}
	for _, owner := range []string{"alice@example.com", "bob@example.com"} {
		res, err := e.Store.Archive(mam.ArchiveName).Query(context.Background(), owner, storage.Query{})
		if err != nil || len(res.Items) != 1 {
			t.Fatalf("%s's archive after Wait: %d items, %v; want the message", owner, len(res.Items), err)
		}
	}
}

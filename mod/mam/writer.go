package mam

import (
	"context"
	"log/slog"
	"sync"

	"hearth/module"
	"hearth/storage"
)

// Archive writes leave the delivery path: the hooks give each item its
// stanza-id and time, queue it and let the message go on at once; a few
// writers append the queue to storage, where concurrent appends share a
// commit (sqlstore's group commit). A query first waits until the
// archive of its owner has no queued item, so a client always finds what
// it was sent. The price, written down in docs/design/003-mam.md: a crash
// loses the items queued at that moment (at most a few milliseconds'
// worth), while the messages themselves were already delivered.
const (
	archiveWriters    = 64
	archiveQueueItems = 10000
)

type writer struct {
	arch  storage.Archive
	log   *slog.Logger
	queue chan archiveJob
	ctx   context.Context

	mu      sync.Mutex
	cond    *sync.Cond
	pending map[string]int // owner -> items queued or being written
}

type archiveJob struct {
	owner string
	item  storage.Item
	done  func() // from module.PendingWrite; nil when nobody waits
}

func newWriter(h *module.Host) *writer {
	w := &writer{
		arch:    h.Archive(ArchiveName),
		log:     h.Logger(),
		queue:   make(chan archiveJob, archiveQueueItems),
		pending: map[string]int{},
	}
	w.cond = sync.NewCond(&w.mu)
	started := make(chan context.Context, 1)
	for i := 0; i < archiveWriters; i++ {
		h.Go(func(ctx context.Context) {
			if i == 0 {
				started <- ctx
			}
			w.run(ctx)
		})
	}
	w.ctx = <-started
	writers.Store(w, struct{}{})
	return w
}

// writers holds every writer of the process, so that tests can wait for
// all queued items (export_test.go).
var writers sync.Map

// flushAll waits until no writer has a queued item.
func flushAll() {
	writers.Range(func(k, _ any) bool {
		w := k.(*writer)
		w.mu.Lock()
		for len(w.pending) > 0 {
			w.cond.Wait()
		}
		w.mu.Unlock()
		return true
	})
}

// append archives item for owner; item.ID must be set. When the queue is
// full, or the server is stopping, the item is written before returning.
// The write counts on the module.Writes of ctx (the session whose stanza
// caused it) until it commits, so that the stanza's XEP-0198
// acknowledgement waits for it.
func (w *writer) append(ctx context.Context, owner string, item storage.Item) {
	w.mu.Lock()
	w.pending[owner]++
	w.mu.Unlock()
	j := archiveJob{owner: owner, item: item, done: module.PendingWrite(ctx)}
	if w.ctx.Err() == nil {
		select {
		case w.queue <- j:
			return
		default:
		}
	}
	w.write(j)
}

func (w *writer) run(ctx context.Context) {
	for {
		select {
		case j := <-w.queue:
			w.write(j)
		case <-ctx.Done():
			for { // drain what was queued before the stop
				select {
				case j := <-w.queue:
					w.write(j)
				default:
					return
				}
			}
		}
	}
}

func (w *writer) write(j archiveJob) {
	if _, err := w.arch.Append(context.Background(), j.owner, j.item); err != nil {
		w.log.Error("archiving a message failed", "owner", j.owner, "err", err)
	}
	if j.done != nil {
		j.done()
	}
	w.mu.Lock()
	if w.pending[j.owner]--; w.pending[j.owner] <= 0 {
		delete(w.pending, j.owner)
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

// flush waits until owner's archive has no queued item.
func (w *writer) flush(owner string) {
	w.mu.Lock()
	for w.pending[owner] > 0 {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

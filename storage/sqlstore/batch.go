package sqlstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Group commit of Archive.Append on SQLite.
//
// SQLite serialises writes through one connection, and a commit costs far
// more than an insert, so one transaction per archived message caps the
// message rate. A batcher has one goroutine take every Append waiting
// (up to maxBatch) and insert them in one transaction, committed once;
// each caller returns after the commit that holds its row, with its own
// result. The writer takes what is queued when it gets to it and never
// waits for more, so a lone Append costs what it did without batching.
//
// A unique violation (an explicit ID already used) aborts only its
// statement in SQLite, not the transaction, so it fails only its item. Any
// other error rolls the batch back and its items are retried one by one,
// each in its own transaction, so that each gets its own result as
// without batching.
//
// A caller whose context ends while its item is queued gets ctx.Err() and
// its item is not written; once the writer has taken the item, the caller
// waits for the commit and gets its result.

// maxBatch bounds the items of one transaction.
const maxBatch = 256

// errClosed is the error of an Append after Close.
var errClosed = errors.New("sqlstore: store is closed")

// States of an appendReq.
const (
	reqQueued    int32 = iota
	reqTaken           // by the writer: the caller waits for the result
	reqCancelled       // by the caller: the writer skips it
)

// appendReq is one queued archive insert.
type appendReq struct {
	ctx   context.Context
	args  []any // of s.q.archiveInsert
	state atomic.Int32
	done  chan error // receives the result once; buffered
}

// batcher is the group-commit writer of a store's archive inserts.
type batcher struct {
	s *store

	mu     sync.Mutex
	queue  []*appendReq
	closed bool

	wake    chan struct{} // capacity 1: work may be queued
	stopped chan struct{} // closed when the writer has returned
}

// startBatcher starts the writer goroutine of s; stop ends it.
func startBatcher(s *store) *batcher {
	b := &batcher{s: s, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go b.run()
	return b
}

// stop makes the writer write everything queued, then return, and waits for
// it. Appends after stop fail with errClosed. stop may be called again.
func (b *batcher) stop() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.signal()
	<-b.stopped
}

func (b *batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// insertArchive runs s.q.archiveInsert with args: through the batcher when
// s has one, else on its own.
func (s *store) insertArchive(ctx context.Context, args ...any) error {
	if s.batch == nil {
		_, err := s.write.ExecContext(ctx, s.q.archiveInsert, args...)
		return err
	}
	return s.batch.insert(ctx, args)
}

// insert queues one insert and waits for its result.
func (b *batcher) insert(ctx context.Context, args []any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &appendReq{ctx: ctx, args: args, done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errClosed
	}
	b.queue = append(b.queue, r)
	b.mu.Unlock()
	b.signal()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return ctx.Err()
		}
		return <-r.done // taken: it is being written
	}
}

// run is the writer goroutine.
func (b *batcher) run() {
	defer close(b.stopped)
	var batch []*appendReq
	for range b.wake {
		for {
			b.mu.Lock()
			n := min(len(b.queue), maxBatch)
			batch = append(batch[:0], b.queue[:n]...)
			clear(b.queue[:n])
			b.queue = b.queue[n:]
			if len(b.queue) == 0 {
				b.queue = nil // let the backing array go
			}
			closed := b.closed
			b.mu.Unlock()
			if n == 0 {
				if closed {
					return
				}
				break
			}
			b.write(batch)
			clear(batch)
		}
	}
}

// write takes the requests of batch that are not cancelled and writes them,
// sending each its result.
func (b *batcher) write(batch []*appendReq) {
	taken := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			taken = append(taken, r)
		}
	}
	switch len(taken) {
	case 0:
	case 1:
		// One statement in its own transaction: Append without batching.
		b.writeOne(taken[0])
	default:
		results, err := b.writeTx(taken)
		if err != nil {
			// Rolled back: each item on its own, for its own result.
			for _, r := range taken {
				b.writeOne(r)
			}
			return
		}
		for i, r := range taken {
			r.done <- results[i]
		}
	}
}

// writeOne writes a taken item on its own. Its caller's cancellation no
// longer applies: a statement interrupted after it wrote the row can
// report the context's error, which would tell the caller its item was not
// written when it was (TestBatchCancel).
func (b *batcher) writeOne(r *appendReq) {
	_, err := b.s.write.ExecContext(context.WithoutCancel(r.ctx), b.s.q.archiveInsert, r.args...)
	r.done <- err
}

// writeTx inserts the items of reqs in one transaction and commits it,
// returning each item's error: nil or a unique violation, which leaves the
// transaction and the other items alone. Any other error rolls everything
// back and is returned as err. The transaction runs under a context of its
// own: the callers, whose items are taken, wait for it.
func (b *batcher) writeTx(reqs []*appendReq) (results []error, err error) {
	ctx := context.Background()
	tx, err := b.s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, b.s.q.archiveInsert)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	results = make([]error, len(reqs))
	for i, r := range reqs {
		if _, err := stmt.ExecContext(ctx, r.args...); err != nil {
			if !b.s.d.isUnique(err) {
				return nil, err
			}
			results[i] = err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return results, nil
}

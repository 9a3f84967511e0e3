package module

import (
	"context"
	"sync"
	"time"
)

// Writes counts the storage writes that stanzas of one session started
// and that have not committed yet. Modules that write off the delivery
// path (mod/mam's archive writer) register each such write with
// PendingWrite; the router waits for them before it acknowledges the
// session's stanzas with XEP-0198 (<a/>, <resumed/>), so that an
// acknowledged message is durable in every archive it went to
// (docs/durability.md). The zero value is ready to use.
type Writes struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil while n == 0
}

type writesKey struct{}

// WithWrites returns ctx carrying w: writes registered with PendingWrite
// under the returned context count on w.
func WithWrites(ctx context.Context, w *Writes) context.Context {
	return context.WithValue(ctx, writesKey{}, w)
}

// PendingWrite registers one asynchronous write started for the stanza
// handled under ctx and returns the function to call once it committed
// or failed (exactly once). Without a Writes in ctx it returns nil.
func PendingWrite(ctx context.Context) func() {
	w, _ := ctx.Value(writesKey{}).(*Writes)
	if w == nil {
		return nil
	}
	w.mu.Lock()
	w.n++
	if w.zero == nil {
		w.zero = make(chan struct{})
	}
	w.mu.Unlock()
	return w.done
}

func (w *Writes) done() {
	w.mu.Lock()
	if w.n--; w.n == 0 {
		close(w.zero)
		w.zero = nil
	}
	w.mu.Unlock()
}

// Wait returns true when no write registered on w is in flight, waiting
// at most timeout for that; false when the timeout passed first.
func (w *Writes) Wait(timeout time.Duration) bool {
	w.mu.Lock()
	ch := w.zero
	w.mu.Unlock()
	if ch == nil {
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

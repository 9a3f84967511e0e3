package mam

import (
	"context"
	"testing"
	"time"

	"hearth/module"
)

// SetClock makes the module read the time from fn until the test ends.
func SetClock(t *testing.T, fn func() time.Time) {
	t.Helper()
	old := now
	now = fn
	t.Cleanup(func() { now = old })
}

// Clean runs one pass of the retention cleaner of h with cfg.
func Clean(ctx context.Context, h *module.Host, cfg Config) {
	flushAll()
	(&mam{h: h, cfg: cfg}).clean(ctx)
}

// Flush waits until every queued archive item is written.
func Flush() { flushAll() }

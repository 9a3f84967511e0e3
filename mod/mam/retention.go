package mam

import (
	"context"
	"time"
)

// day is the unit of Config.RetentionDays.
const day = 24 * time.Hour

// cleaner removes expired items every CleanupInterval until ctx ends,
// starting at once. Retention removes the oldest items only, as XEP-0313
// §3.2 requires of deletions (no holes in an archive).
//
// DeleteBefore with no owner covers every account of every host: with
// several virtual hosts each host's cleaner does the same removal, and
// all but the first find nothing to do.
func (m *mam) cleaner(ctx context.Context) {
	t := time.NewTicker(time.Duration(m.cfg.CleanupInterval) * time.Second)
	defer t.Stop()
	for {
		m.clean(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// clean removes the items older than RetentionDays from every archive.
func (m *mam) clean(ctx context.Context) {
	cutoff := now().Add(-time.Duration(m.cfg.RetentionDays) * day)
	n, err := m.h.Archive(ArchiveName).DeleteBefore(ctx, "", cutoff)
	switch {
	case err != nil && ctx.Err() == nil:
		m.h.Logger().Error("removing expired archive items failed", "err", err)
	case n > 0:
		m.h.Logger().Info("removed expired archive items", "count", n, "before", cutoff.UTC().Format(time.RFC3339))
	}
}

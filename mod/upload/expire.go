package upload

import (
	"context"
	"errors"
	"time"

	"hearth/storage"
)

// cleaner removes expired files and unused slots every CleanupInterval,
// starting at once, until ctx ends.
func (s *service) cleaner(ctx context.Context) {
	t := time.NewTicker(time.Duration(s.cfg.CleanupInterval) * time.Second)
	defer t.Stop()
	for {
		s.cleanup(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cleanup removes what is expired at now: files past expire_after, slots
// never used within slot_timeout, slots of deleted accounts, and files
// that no slot knows (left by a crash between storing a file and its
// metadata, or by a deleted account).
func (s *service) cleanup(ctx context.Context, now time.Time) {
	host := s.h.Domain()
	entries, err := s.index.All(ctx, host)
	if err != nil {
		s.h.Logger().Warn("upload cleanup: reading slots failed", "err", err)
		return
	}
	known := map[string]bool{}
	removed := 0
	for _, e := range entries {
		id, owner := e.Key, string(e.Value)
		if id == secretKey || s.busy(id) {
			known[id] = true
			continue
		}
		raw, err := s.meta.Get(ctx, owner, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.h.Logger().Warn("upload cleanup: reading a slot failed", "err", err)
			known[id] = true
			continue
		}
		if err == nil {
			if rec, derr := decodeRecord(raw); derr == nil && !s.expired(rec, now) {
				known[id] = true
				continue
			}
		}
		if err := s.remove(ctx, owner, id); err != nil {
			s.h.Logger().Warn("upload cleanup: removing a file failed", "err", err)
			known[id] = true
			continue
		}
		removed++
	}
	ids, err := s.files.List(ctx)
	if err != nil {
		s.h.Logger().Warn("upload cleanup: listing files failed", "err", err)
	}
	for _, id := range ids {
		if known[id] || s.busy(id) {
			continue
		}
		// A slot created since the index was read may own it.
		if _, err := s.index.Get(ctx, host, id); !errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err := s.files.Delete(ctx, id); err == nil {
			removed++
		}
	}
	if removed > 0 {
		s.h.Logger().Debug("upload cleanup", "removed", removed)
	}
}

// remove deletes slot id of owner: file first, so that no metadata is
// left pointing at nothing.
func (s *service) remove(ctx context.Context, owner, id string) error {
	if err := s.files.Delete(ctx, id); err != nil {
		return err
	}
	if err := s.meta.Delete(ctx, owner, id); err != nil {
		return err
	}
	return s.index.Delete(ctx, s.h.Domain(), id)
}

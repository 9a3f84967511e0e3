package certs

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Watcher reloads manually managed certificate files (certbot renewals)
// when they change on disk, polling their size and modification time.
type Watcher struct {
	store    *Store
	pairs    []Pair
	interval time.Duration
	log      *slog.Logger
	seen     map[Pair]string // stamp of the files last loaded
}

// NewWatcher returns a watcher of pairs that updates store every interval.
func NewWatcher(store *Store, pairs []Pair, interval time.Duration, log *slog.Logger) *Watcher {
	w := &Watcher{store: store, pairs: pairs, interval: interval, log: log, seen: map[Pair]string{}}
	for _, p := range pairs {
		w.seen[p] = stamp(p)
	}
	return w
}

// Run checks the files every interval until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Check()
		}
	}
}

// Check reloads every pair whose files changed since they were last
// loaded. A pair that fails to load (a renewal half written, a key that
// does not match) keeps its previous certificate and is tried again at the
// next check. Check must not be called concurrently with itself or Run.
func (w *Watcher) Check() {
	loaded := map[[2]string]*tls.Certificate{} // one load per file pair shared by hosts
	for _, p := range w.pairs {
		st := stamp(p)
		if st == w.seen[p] {
			continue
		}
		files := [2]string{p.Cert, p.Key}
		c := loaded[files]
		if c == nil {
			var err error
			if c, err = p.Load(); err != nil {
				w.log.Warn("certificate changed on disk but does not load; keeping the previous one", "domain", p.Domain, "err", err)
				continue
			}
			loaded[files] = c
		}
		w.store.Set(p.Domain, c)
		w.seen[p] = st
		w.log.Info("certificate reloaded from disk", "domain", p.Domain, "file", p.Cert)
	}
}

// stamp identifies the current content of a pair's files cheaply.
func stamp(p Pair) string {
	var s string
	for _, f := range []string{p.Cert, p.Key} {
		fi, err := os.Stat(f)
		if err != nil {
			s += "missing;"
			continue
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s
}

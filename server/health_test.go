package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hearth/config"
	"hearth/storage"
	"hearth/storage/memstore"
)

// failingStore is a memstore whose maps stop answering when broken is set.
type failingStore struct {
	storage.Store
	broken *atomic.Bool
}

func (s failingStore) Map(name string) storage.Map {
	return failingMap{s.Store.Map(name), s.broken}
}

type failingMap struct {
	storage.Map
	broken *atomic.Bool
}

func (m failingMap) Get(ctx context.Context, owner, key string) ([]byte, error) {
	if m.broken.Load() {
		return nil, errors.New("database is gone")
	}
	return m.Map.Get(ctx, owner, key)
}

func TestHealthFailures(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = []\nmetrics = [\"127.0.0.1:0\"]\n", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	broken := new(atomic.Bool)
	s, err := New(cfg, Options{Store: failingStore{memstore.New(), broken}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addrs("metrics")[0] + "/health"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()

	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	// Serve starts the metrics listener asynchronously; wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := get()
		if code == http.StatusOK && body == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health: %d %q, want 200 ok", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	broken.Store(true)
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "storage") {
		t.Errorf("/health with storage down: %d %q, want 503 naming storage", code, body)
	}
	broken.Store(false)
	s.metrics.up.Store(false) // as Shutdown does before closing the listeners
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "listeners") {
		t.Errorf("/health with listeners down: %d %q, want 503 naming listeners", code, body)
	}
}

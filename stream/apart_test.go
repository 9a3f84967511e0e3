package stream

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestRunApartReusesBoundedWorkers: runApart runs f on a goroutine other
// than the caller's, reuses waiting workers, and keeps no more than
// maxIdleApart of them once a burst of concurrent calls is over.
func TestRunApartReusesBoundedWorkers(t *testing.T) {
	callerStack := func() string {
		buf := make([]byte, 64)
		return string(buf[:runtime.Stack(buf, false)])
	}
	mine := callerStack()[:16]
	var ran string
	done := make(chan struct{}, 1)
	runApart(func() { ran = callerStack()[:16] }, done)
	if ran == mine {
		t.Fatalf("f ran on the caller's goroutine (%q)", mine)
	}
	if len(done) != 0 {
		t.Fatal("done is not empty after runApart")
	}

	before := runtime.NumGoroutine()
	const callers = 4 * maxIdleApart
	var wg, started sync.WaitGroup
	release := make(chan struct{})
	started.Add(callers)
	for range callers {
		wg.Go(func() {
			runApart(func() { started.Done(); <-release }, make(chan struct{}, 1))
		})
	}
	// Every call holds a worker of its own until release.
	started.Wait()
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	wg.Wait()
	for apartIdle.Load() < maxIdleApart && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := apartIdle.Load(); n != maxIdleApart {
		t.Errorf("%d workers wait after the burst, want %d", n, maxIdleApart)
	}
	for runtime.NumGoroutine() > before+maxIdleApart && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine() - before; n > maxIdleApart {
		t.Errorf("%d goroutines more than before the burst, want at most %d waiting workers", n, maxIdleApart)
	}

	// A waiting worker takes the next job instead of a new goroutine.
	before = runtime.NumGoroutine()
	runApart(func() {
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("a job started a goroutine (%d > %d) while workers waited", n, before)
		}
	}, make(chan struct{}, 1))
}

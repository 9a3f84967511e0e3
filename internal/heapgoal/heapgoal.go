// Package heapgoal sets the Go garbage collector's heap goal to the live
// heap plus a headroom that is a fixed amount while the heap is small and
// a percentage of it once it is large, instead of GOGC's fixed 100% of
// the live heap (docs/memory.md says why).
//
// The runtime has no such setting: a Controller recomputes GOGC after
// every collection, from the live heap that collection found.
package heapgoal

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Policy is the memory policy of a process.
type Policy struct {
	// Headroom is how far, in bytes, the heap may at least grow past
	// the live heap before the next collection.
	Headroom uint64
	// Percent is the headroom as a percentage of the live heap, when
	// that is more than Headroom.
	Percent int
	// Limit is Go's soft memory limit in bytes (debug.SetMemoryLimit):
	// past it the collector runs as often as it must, up to half the
	// CPU. 0: no limit.
	Limit int64
}

// Bounds of the GOGC values a Controller sets.
const (
	minPercent = 1
	maxPercent = 100_000
	// runtimeMinHeap is the runtime's smallest heap goal at GOGC=100; it
	// scales with GOGC.
	runtimeMinHeap = 4 << 20
)

// GCPercent returns the GOGC value that puts the heap goal at
// live + max(Headroom, Percent% of live). live is the heap the last
// collection marked, stacks and globals the stack and global bytes it
// scanned: the runtime's goal is live + (live+stacks+globals) × GOGC/100,
// and at least 4 MiB × GOGC/100, a floor that GCPercent keeps from
// exceeding the goal it aims at when the heap is tiny.
func (p Policy) GCPercent(live, stacks, globals uint64) int {
	headroom := max(p.Headroom, live/100*uint64(p.Percent))
	base := live + stacks + globals
	pct := uint64(maxPercent)
	if base > 0 {
		pct = min(pct, (headroom*100+base-1)/base)
	}
	// The runtime's floor, 4 MiB × pct/100, no higher than live+headroom.
	pct = min(pct, (live+headroom)*100/runtimeMinHeap)
	return int(max(pct, minPercent))
}

// A Controller applies a Policy to the process. There is one process, so
// at most one Controller should run at a time.
type Controller struct {
	policy  Policy
	stopped atomic.Bool
	mu      sync.Mutex // serialises adjust with Stop
	percent int        // the GOGC set last; guarded by mu
	applied Applied
	oldGC   int   // GOGC before Start
	oldLim  int64 // the memory limit before Start
	samples []metrics.Sample
}

// Applied says what Start did.
type Applied struct {
	// Headroom is false when GOGC is set in the environment: the
	// operator's GOGC stands, and Policy's headroom is not applied.
	Headroom bool
	// Limit is false when Policy has no limit or GOMEMLIMIT is set in
	// the environment, which then stands.
	Limit bool
}

// Start applies p until Stop: it sets the memory limit, then GOGC after
// every collection (and now, from the last one). getenv reads the
// environment (os.Getenv): GOGC and GOMEMLIMIT set there are the
// operator's and win over p.
func Start(p Policy, getenv func(string) string) (*Controller, Applied) {
	c := &Controller{
		policy: p,
		oldGC:  Percent(),
		oldLim: debug.SetMemoryLimit(-1), // a negative limit only reads it
		samples: []metrics.Sample{
			{Name: "/gc/heap/live:bytes"},
			{Name: "/gc/scan/stack:bytes"},
			{Name: "/gc/scan/globals:bytes"},
		},
	}
	if p.Limit > 0 && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(p.Limit)
		c.applied.Limit = true
	}
	if getenv("GOGC") != "" {
		c.stopped.Store(true)
		return c, c.applied
	}
	c.applied.Headroom = true
	c.adjust()
	c.watch()
	return c, c.applied
}

// Percent returns the GOGC value in force.
func Percent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(s[0].Value.Uint64())
}

// sentinel is an object whose only use is to become garbage: the
// cleanup attached to it runs after the collection that found it so.
type sentinel struct{ _ *byte }

// watch runs adjust after the next collection, and watch again.
func (c *Controller) watch() {
	runtime.AddCleanup(new(sentinel), func(c *Controller) {
		if c.stopped.Load() {
			return
		}
		c.adjust()
		c.watch()
	}, c)
}

// adjust sets GOGC for the live heap the last collection found.
func (c *Controller) adjust() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped.Load() {
		return
	}
	metrics.Read(c.samples)
	var v [3]uint64
	for i, s := range c.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	if pct := c.policy.GCPercent(v[0], v[1], v[2]); pct != c.percent {
		debug.SetGCPercent(pct)
		c.percent = pct
	}
}

// Stop ends the policy and restores GOGC and the memory limit as they
// were before Start.
func (c *Controller) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped.Swap(true) {
		debug.SetGCPercent(c.oldGC)
	}
	if c.applied.Limit {
		debug.SetMemoryLimit(c.oldLim)
		c.applied.Limit = false
	}
}

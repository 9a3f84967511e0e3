package heapgoal

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

const mib = 1 << 20

// runtimeGoal is the heap goal the runtime derives from GOGC=pct
// (runtime/mgcpacer.go: live + (live+stacks+globals)×pct/100, at least
// 4 MiB×pct/100).
func runtimeGoal(pct int, live, stacks, globals uint64) uint64 {
	p := uint64(pct)
	return max(runtimeMinHeap*p/100, live+(live+stacks+globals)*p/100)
}

// TestGCPercent: the GOGC GCPercent returns puts the runtime's goal at
// the live heap plus the larger of the fixed and the proportional
// headroom, at every size of heap, tiny ones included.
func TestGCPercent(t *testing.T) {
	p := Policy{Headroom: 32 * mib, Percent: 25}
	tests := []struct {
		name                  string
		live, stacks, globals uint64
		wantPercent           int // 0: not checked
	}{
		{name: "empty", live: 0},
		{name: "tiny heap, under the runtime's 4 MiB floor", live: 1 * mib},
		{name: "small heap: the fixed headroom", live: 8 * mib, stacks: 1 * mib, globals: 1 * mib, wantPercent: 320},
		{name: "10k idle sessions", live: 80 * mib, stacks: 2 * mib, globals: 1 * mib},
		{name: "where both headrooms meet", live: 128 * mib},
		{name: "large heap: the percentage", live: 400 * mib, stacks: 8 * mib, globals: 2 * mib, wantPercent: 25},
		{name: "huge heap", live: 64 << 30, stacks: 100 * mib, globals: 2 * mib},
	}
	for _, tt := range tests {
		pct := p.GCPercent(tt.live, tt.stacks, tt.globals)
		if tt.wantPercent != 0 && pct != tt.wantPercent {
			t.Errorf("%s: GOGC %d, want %d", tt.name, pct, tt.wantPercent)
		}
		want := tt.live + max(p.Headroom, tt.live/100*uint64(p.Percent))
		got := runtimeGoal(pct, tt.live, tt.stacks, tt.globals)
		// GOGC is a whole number: the goal may be a percent of the
		// base above the target, never below.
		slack := (tt.live+tt.stacks+tt.globals)/100 + 1
		if got < want || got > want+slack {
			t.Errorf("%s: GOGC %d makes the goal %d MiB, want %d MiB", tt.name, pct, got/mib, want/mib)
		}
	}
	// No headroom at all still collects at a positive GOGC.
	if pct := (Policy{}).GCPercent(100*mib, 0, 0); pct != minPercent {
		t.Errorf("zero policy: GOGC %d, want %d", pct, minPercent)
	}
}

// TestControllerFollowsTheLiveHeap: Start sets GOGC for the live heap
// at once and again after each collection; Stop puts back GOGC and the
// memory limit.
func TestControllerFollowsTheLiveHeap(t *testing.T) {
	before, beforeLimit := Percent(), debug.SetMemoryLimit(-1)
	p := Policy{Headroom: 16 * mib, Percent: 10, Limit: 3 << 30}
	c, applied := Start(p, func(string) string { return "" })
	if !applied.Headroom || !applied.Limit {
		t.Fatalf("applied %+v, want both", applied)
	}
	if got := debug.SetMemoryLimit(-1); got != p.Limit {
		t.Errorf("memory limit %d, want %d", got, p.Limit)
	}
	small := Percent()
	if small <= 100 {
		t.Errorf("GOGC %d with a test's small heap and 16 MiB headroom, want more than 100", small)
	}
	// A live heap of 512 MiB: 10% of it is more than 16 MiB, and GOGC
	// must come down to about 10 once a collection has seen it.
	ballast := make([][]byte, 512)
	for i := range ballast {
		ballast[i] = make([]byte, mib)
	}
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for Percent() > 11 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := Percent(); got > 11 || got < 9 {
		t.Errorf("GOGC %d with 512 MiB live and 10%% headroom, want about 10", got)
	}
	runtime.KeepAlive(ballast)
	c.Stop()
	if got := Percent(); got != before {
		t.Errorf("GOGC %d after Stop, want %d", got, before)
	}
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Errorf("memory limit %d after Stop, want %d", got, beforeLimit)
	}
}

// TestOperatorEnvironmentWins: GOGC or GOMEMLIMIT set in the environment
// are the operator's choice and stay.
func TestOperatorEnvironmentWins(t *testing.T) {
	before, beforeLimit := Percent(), debug.SetMemoryLimit(-1)
	env := map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}
	c, applied := Start(Policy{Headroom: 1 << 30, Percent: 10, Limit: 3 << 30}, func(k string) string { return env[k] })
	defer c.Stop()
	if applied.Headroom || applied.Limit {
		t.Errorf("applied %+v with GOGC and GOMEMLIMIT set, want neither", applied)
	}
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	if got := Percent(); got != before {
		t.Errorf("GOGC %d, want %d (left alone)", got, before)
	}
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Errorf("memory limit %d, want %d (left alone)", got, beforeLimit)
	}
}

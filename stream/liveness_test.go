package stream

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(100, 300) // 100 tokens/s, burst 300
	if d := b.take(300, t0); d != 0 {
		t.Fatalf("the burst waited %v", d)
	}
	if d := b.take(50, t0); d != 500*time.Millisecond {
		t.Fatalf("50 over an empty bucket: wait %v, want 500ms", d)
	}
	// Half a second later the debt is paid; a second more refills 100.
	if d := b.take(100, t0.Add(1500*time.Millisecond)); d != 0 {
		t.Fatalf("after refilling: wait %v", d)
	}
	// Refilling stops at the burst.
	if d := b.take(400, t0.Add(time.Hour)); d != time.Second {
		t.Fatalf("400 after an hour: wait %v, want 1s (burst 300)", d)
	}
	var off bucket = newBucket(0, 0)
	if d := off.take(1e9, t0); d != 0 {
		t.Fatalf("a zero-rate bucket limited: %v", d)
	}
	// A burst below the rate is raised to one second's worth.
	b = newBucket(10, 0)
	if d := b.take(10, t0); d != 0 {
		t.Fatalf("one second's worth waited %v", d)
	}
}

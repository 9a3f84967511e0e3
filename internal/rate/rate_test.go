package rate

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := NewBucket(10, 20)
	if d := b.Take(20, t0); d != 0 {
		t.Fatalf("taking the burst: wait %v, want 0", d)
	}
	if d := b.Take(5, t0); d != 500*time.Millisecond {
		t.Fatalf("5 tokens in debt at 10/s: wait %v, want 500ms", d)
	}
	// One second later the debt is paid and 5 tokens are back.
	if d := b.Take(5, t0.Add(time.Second)); d != 0 {
		t.Fatalf("after a second: wait %v, want 0", d)
	}
	if b.Full(t0.Add(time.Second)) {
		t.Fatal("Full with 0 of 20 tokens")
	}
	if !b.Full(t0.Add(3 * time.Second)) {
		t.Fatal("not Full after refilling for 2 s at 10/s")
	}
	// Refilling stops at the burst.
	if d := b.Take(40, t0.Add(time.Hour)); d != 2*time.Second {
		t.Fatalf("40 after an hour: wait %v, want 2s (burst 20)", d)
	}
	// A clock going backwards neither refills nor breaks the bucket.
	if d := b.Take(1, t0); d != 2100*time.Millisecond {
		t.Fatalf("after a backwards clock: wait %v, want 2.1s", d)
	}
	// The burst is at least the rate.
	c := NewBucket(100, 1)
	if d := c.Take(100, t0); d != 0 {
		t.Fatalf("burst below the rate: wait %v, want 0", d)
	}
	var off Bucket
	if d := off.Take(1e9, t0); d != 0 || !off.Full(t0) {
		t.Fatal("a zero bucket limits")
	}
}

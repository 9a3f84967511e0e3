// Package rate has the token bucket hearth's limits are made of: per
// connection (stream), per remote domain (s2s).
package rate

import "time"

// Bucket is a token bucket that may go into debt: Take always takes and
// says how long the caller should wait until the bucket is out of debt,
// which is how readers slow a sender down (they stop reading; TCP does
// the rest). A zero rate never limits. Not safe for concurrent use.
type Bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// NewBucket returns a full bucket refilled at rate tokens per second and
// holding at most burst tokens (at least rate).
func NewBucket(rate, burst int) Bucket {
	if burst < rate {
		burst = rate
	}
	return Bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// Take removes n tokens at time now and returns how long to wait until
// the bucket is no longer in debt.
func (b *Bucket) Take(n float64, now time.Time) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	b.refill(now)
	b.tokens -= n
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// Full reports whether the bucket has refilled completely by now, so
// that forgetting it loses nothing.
func (b *Bucket) Full(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	return b.tokens >= b.burst
}

func (b *Bucket) refill(now time.Time) {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if now.After(b.last) {
		b.last = now
	}
}

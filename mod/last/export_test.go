package last

import (
	"testing"
	"time"
)

// SetClock makes the module read the time from fn until the test ends.
func SetClock(t *testing.T, fn func() time.Time) {
	t.Helper()
	old := now
	now = fn
	t.Cleanup(func() { now = old })
}

// FlushDelay is flushDelay, for tests.
const FlushDelay = flushDelay

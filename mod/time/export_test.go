package time

import (
	"testing"
	stdtime "time"
)

// SetClock makes the module read the time from fn until the test ends.
func SetClock(t *testing.T, fn func() stdtime.Time) {
	t.Helper()
	old := now
	now = fn
	t.Cleanup(func() { now = old })
}

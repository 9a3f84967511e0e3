package compliance

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunProbeRecovers turns a probe's panic into a failed check.
func TestRunProbeRecovers(t *testing.T) {
	p := &prober{cfg: Config{Timeout: time.Second}}
	c := Check{ID: "x", probe: func(context.Context, *prober) (string, error) {
		var m map[string]int
		m["boom"]++ // a nil map: panics
		return "unreachable", nil
	}}
	detail, err := runProbe(context.Background(), c, p)
	if err == nil || detail != "" || !strings.Contains(err.Error(), "failed unexpectedly") {
		t.Errorf("runProbe = %q, %v", detail, err)
	}
}

// TestChecksTable keeps the table sound: unique IDs, a fix and a probe
// for every row, and every XEP-0479 category present.
func TestChecksTable(t *testing.T) {
	seen := map[string]bool{}
	cats := map[string]bool{}
	for _, c := range Checks() {
		if seen[c.ID] || c.ID == "" || strings.ContainsAny(c.ID, " \t") {
			t.Errorf("bad or duplicate ID %q", c.ID)
		}
		seen[c.ID] = true
		if c.Fix == "" || c.probe == nil || c.Spec == "" || c.Name == "" {
			t.Errorf("%s: incomplete row", c.ID)
		}
		if !c.Informational && len(c.Requirements) == 0 && !c.Conversations {
			t.Errorf("%s: required by nothing but not informational", c.ID)
		}
		for _, r := range c.Requirements {
			cats[r.Category] = true
		}
	}
	for _, want := range []string{Core, IM, Mobile, Web} {
		if !cats[want] {
			t.Errorf("no check for the %s category", want)
		}
	}
}

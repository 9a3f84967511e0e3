package presence_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"hearth/mod/presence"
	"hearth/storage"
)

// TestLastUnavailableWrittenOnChange: the last unavailable presence is
// stored when it differs from what this process stored last, not at every
// logout.
func TestLastUnavailableWrittenOnChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.store.Map(presence.MapName)
	stored := func() string {
		t.Helper()
		b, err := m.Get(ctx, "alice@"+domain, "unavailable")
		if errors.Is(err, storage.ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// A plain unavailable presence is what an empty store answers: the
	// first logout writes nothing.
	e.close(e.login("alice@" + domain + "/a"))
	if got := stored(); got != "" {
		t.Errorf("a plain logout stored %q", got)
	}
	fishing := func(res string) {
		t.Helper()
		s := e.login("alice@" + domain + "/" + res)
		e.send(s, `<presence type='unavailable'><status>gone fishing</status></presence>`)
		e.close(s)
	}
	fishing("b")
	if got := stored(); !strings.Contains(got, "gone fishing") {
		t.Fatalf("after a logout with a status: %q", got)
	}
	// Removed behind the module's back: the same logout again is not
	// written, so the row stays absent.
	if err := m.Delete(ctx, "alice@"+domain, "unavailable"); err != nil {
		t.Fatal(err)
	}
	fishing("c")
	if got := stored(); got != "" {
		t.Errorf("an unchanged unavailable presence was written again: %q", got)
	}
	// A different one is written.
	e.close(e.login("alice@" + domain + "/d"))
	if got := stored(); !strings.Contains(got, "unavailable") || strings.Contains(got, "gone fishing") {
		t.Errorf("after a plain logout: %q", got)
	}
}

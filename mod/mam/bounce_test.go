package mam_test

import (
	"context"
	"testing"

	"hearth/module"
)

// bounce runs bob's message to alice through the inbound and deliver
// hooks, as the router does when alice has no available session, and
// then offers it to the undelivered hooks with ctx.
func (e *env) bounce(t *testing.T, ctx context.Context, body string) bool {
	t.Helper()
	sent := e.send(t, chat("bob@example.com/phone", "alice@example.com", body))
	out := e.deliver(t, sent.String())
	return e.Registry.RunUndelivered(ctx, out, mustJID(t, "alice@example.com"))
}

func TestBouncedLeavesBothArchives(t *testing.T) {
	e := newEnv(t, nil)
	if e.bounce(t, context.Background(), "bounced") {
		t.Fatal("mam took an undelivered message; the router would not bounce it")
	}
	if n := len(e.items(t, "alice@example.com")); n != 0 {
		t.Errorf("recipient's archive holds %d items, want 0", n)
	}
	if n := len(e.items(t, "bob@example.com")); n != 0 {
		t.Errorf("sender's archive holds %d items, want 0", n)
	}
}

func TestRequeuedStaysArchived(t *testing.T) {
	e := newEnv(t, nil)
	// A session ended without acknowledging it and nothing stores it: the
	// archive is the message's last copy.
	e.bounce(t, module.WithRequeued(context.Background(), false), "requeued")
	if n := len(e.items(t, "alice@example.com")); n != 1 {
		t.Errorf("recipient's archive holds %d items, want 1", n)
	}
	if n := len(e.items(t, "bob@example.com")); n != 1 {
		t.Errorf("sender's archive holds %d items, want 1", n)
	}
}

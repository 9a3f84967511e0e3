package fast

import (
	"context"
	"errors"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/module"
	"hearth/sasl"
	"hearth/storage/memstore"
)

// newKeeper starts the module on a memstore with a clock the test moves.
func newKeeper(t *testing.T, cfg func(*Config)) (*keeper, *time.Time) {
	t.Helper()
	e := modtest.New(t, "example.org", memstore.New())
	e.Start(t, Module, func(v any) error {
		if cfg != nil {
			cfg(v.(*Config))
		}
		return nil
	})
	e.Freeze(t)
	k := e.Registry.Clients().(*keeper)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k.now = func() time.Time { return now }
	return k, &now
}

var alice = jid.MustParse("alice@example.org")

func TestRulesWithClock(t *testing.T) {
	ctx := context.Background()
	k, now := newKeeper(t, func(c *Config) { c.TokenLifetime = 3600; c.RotateBefore = 600 })
	login := module.Login{User: alice, Mechanism: "SCRAM-SHA-256", AgentID: "a", RequestToken: sasl.HTNone}
	tok, err := k.LoggedIn(ctx, login)
	if err != nil || tok == nil || !tok.Expiry.Equal(now.Add(time.Hour)) {
		t.Fatalf("token %+v, %v", tok, err)
	}
	key := sasl.TokenKey(tok.Secret)
	use := module.Login{User: alice, Mechanism: sasl.HTNone, AgentID: "a", TokenKey: key}
	// Not close to expiry: no rotation.
	if tok2, err := k.LoggedIn(ctx, use); err != nil || tok2 != nil {
		t.Fatalf("early use: %+v, %v", tok2, err)
	}
	// Within rotate_before of expiry: rotated.
	*now = now.Add(55 * time.Minute)
	tok3, err := k.LoggedIn(ctx, use)
	if err != nil || tok3 == nil {
		t.Fatalf("no rotation: %+v, %v", tok3, err)
	}
	keys, _ := k.TokenKeys(ctx, alice, "a", sasl.HTNone)
	if len(keys) != 2 {
		t.Fatalf("%d keys during rotation, want the old and the new", len(keys))
	}
	// Past the old token's expiry only the new one is offered.
	*now = now.Add(6 * time.Minute)
	keys, _ = k.TokenKeys(ctx, alice, "a", sasl.HTNone)
	if len(keys) != 1 || string(keys[0]) != string(sasl.TokenKey(tok3.Secret)) {
		t.Fatalf("after expiry: %d keys", len(keys))
	}
	if _, err := k.LoggedIn(ctx, use); !isFailure(err) {
		t.Errorf("an expired token was accepted: %v", err)
	}
	// Other mechanisms and clients see nothing.
	if keys, _ := k.TokenKeys(ctx, alice, "a", sasl.HTExpr); len(keys) != 0 {
		t.Errorf("token offered for another mechanism")
	}
	if keys, _ := k.TokenKeys(ctx, alice, "b", sasl.HTNone); len(keys) != 0 {
		t.Errorf("token offered to another client")
	}
}

func TestMaxClients(t *testing.T) {
	ctx := context.Background()
	k, now := newKeeper(t, func(c *Config) { c.MaxClients = 2 })
	for _, id := range []string{"a", "b", "c"} {
		*now = now.Add(time.Minute)
		if _, err := k.LoggedIn(ctx, module.Login{User: alice, Mechanism: "PLAIN", AgentID: id}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := k.m.All(ctx, alice.String())
	if len(entries) != 2 {
		t.Fatalf("%d clients kept, want 2", len(entries))
	}
	for _, e := range entries {
		if e.Key == ClientID("a") {
			t.Errorf("the least recently seen client was kept")
		}
	}
}

func isFailure(err error) bool {
	var f *sasl.Failure
	return errors.As(err, &f)
}

func TestRevokeAll(t *testing.T) {
	ctx := context.Background()
	k, _ := newKeeper(t, nil)
	tok, err := k.LoggedIn(ctx, module.Login{User: alice, Mechanism: "PLAIN", AgentID: "a", RequestToken: sasl.HTNone})
	if err != nil || tok == nil {
		t.Fatal(tok, err)
	}
	if err := RevokeAll(ctx, k.h.Store(), alice.String()); err != nil {
		t.Fatal(err)
	}
	if keys, _ := k.TokenKeys(ctx, alice, "a", sasl.HTNone); len(keys) != 0 {
		t.Errorf("token survived RevokeAll")
	}
}

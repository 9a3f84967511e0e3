package ping_test

import (
	"testing"

	"hearth/mod/internal/modtest"
	"hearth/mod/ping"
	"hearth/module"
	"hearth/storage/memstore"
)

func newEnv(t *testing.T) *modtest.Env {
	t.Helper()
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, ping.Module, nil)
	env.Freeze(t)
	return env
}

func TestPing(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		name, iq string
		handled  bool
	}{
		{"server", `<iq xmlns='jabber:client' type='get' id='1' from='alice@example.com/a' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`, true},
		{"account", `<iq xmlns='jabber:client' type='get' id='1' from='alice@example.com/a' to='bob@example.com'><ping xmlns='urn:xmpp:ping'/></iq>`, true},
		{"own account without to", `<iq xmlns='jabber:client' type='get' id='1' from='alice@example.com/a'><ping xmlns='urn:xmpp:ping'/></iq>`, true},
		{"set is not a ping", `<iq xmlns='jabber:client' type='set' id='1' from='alice@example.com/a' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.IQ(t, tc.iq)
			if r.Handled != tc.handled {
				t.Fatalf("handled = %v, want %v", r.Handled, tc.handled)
			}
			if tc.handled {
				r.WantResult(t, "")
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	env := newEnv(t)
	for _, target := range []module.Target{module.ServerTarget, module.AccountTarget} {
		found := false
		for _, f := range env.Registry.Features(target) {
			found = found || f == ping.NS
		}
		if !found {
			t.Errorf("target %d: features %v lack %s", target, env.Registry.Features(target), ping.NS)
		}
	}
}

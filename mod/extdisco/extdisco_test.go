package extdisco_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/mod/extdisco"
	"hearth/mod/internal/modtest"
	"hearth/module"
	"hearth/storage/memstore"
)

// TestCredentials checks the TURN REST scheme against a vector computed
// outside Go (Python's hmac module):
// base64(HMAC-SHA1("coturn-secret", "1700000000:alice@example.org")).
func TestCredentials(t *testing.T) {
	user, pass := extdisco.Credentials([]byte("coturn-secret"), "alice@example.org", time.Unix(1700000000, 0))
	if user != "1700000000:alice@example.org" || pass != "5o8gTsyxBJkRkmOJcsmt0QBoeJ0=" {
		t.Errorf("got %q %q", user, pass)
	}
}

// TestNothingToDiscover: without [turn] and services the module
// registers nothing, so the server does not advertise an empty list.
func TestNothingToDiscover(t *testing.T) {
	e := modtest.New(t, "example.org", memstore.New())
	e.Start(t, extdisco.Module, nil)
	e.Freeze(t)
	if slices.Contains(e.Registry.Features(module.ServerTarget), extdisco.NS) {
		t.Error("extdisco advertised without services")
	}
	if r := e.IQ(t, `<iq xmlns='jabber:client' type='get' id='1' from='alice@example.org/a' to='example.org'><services xmlns='urn:xmpp:extdisco:2'/></iq>`); r.Handled {
		t.Error("services answered without services")
	}
}

// TestBadServices: a service the section describes wrongly stops the
// start, naming the key.
func TestBadServices(t *testing.T) {
	for _, tc := range []struct {
		svc  extdisco.Service
		ttl  int64
		want string
	}{
		{extdisco.Service{Type: "ftp", Host: "x"}, 60, "extdisco.services[0].type"},
		{extdisco.Service{Type: "turn"}, 60, "extdisco.services[0].host"},
		{extdisco.Service{Type: "turn", Host: "x", Transport: "sctp"}, 60, "extdisco.services[0].transport"},
		{extdisco.Service{Type: "turn", Host: "x", Port: 70000}, 60, "extdisco.services[0].port"},
		{extdisco.Service{Type: "turn", Host: "x"}, 0, "extdisco.credential_ttl"},
	} {
		e := modtest.New(t, "example.org", memstore.New())
		err := e.StartErr(extdisco.Module, func(cfg any) error {
			c := cfg.(*extdisco.Config)
			c.Services, c.CredentialTTL = []extdisco.Service{tc.svc}, tc.ttl
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %s", tc.svc, err, tc.want)
		}
	}
}

package module

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"hearth/jid"
	"hearth/stanza"
)

func TestCapsHash(t *testing.T) {
	// XEP-0115 §5.2 and §5.3 examples.
	tests := []struct {
		name     string
		idents   []Identity
		features []string
		forms    []*stanza.Form
		want     string
	}{
		{
			name:     "simple",
			idents:   []Identity{{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}},
			features: []string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc", "http://jabber.org/protocol/caps"},
			want:     "QgayPKawpkPSDYmwT/WM94uAlu0=",
		},
		{
			name: "complex",
			idents: []Identity{
				{Category: "client", Type: "pc", Name: "Psi 0.11", Lang: "en"},
				{Category: "client", Type: "pc", Name: "Ψ 0.11", Lang: "el"},
			},
			features: []string{"http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc"},
			forms: []*stanza.Form{{Type: "result", Fields: []Field{
				{Var: "FORM_TYPE", Type: "hidden", Values: []string{"urn:xmpp:dataforms:softwareinfo"}},
				{Var: "ip_version", Type: "text-multi", Values: []string{"ipv4", "ipv6"}},
				{Var: "os", Values: []string{"Mac"}},
				{Var: "os_version", Values: []string{"10.5.1"}},
				{Var: "software", Values: []string{"Psi"}},
				{Var: "software_version", Values: []string{"0.11"}},
			}}},
			want: "q07IKJEyjvHSyhy//CH0CxmKi8w=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := capsHash(tc.idents, tc.features, tc.forms); got != tc.want {
				t.Errorf("ver = %s, want %s", got, tc.want)
			}
		})
	}
}

// Field is a shorthand for the test table.
type Field = stanza.Field

func newTestHost(t *testing.T, reg *Registry, name string) *Host {
	t.Helper()
	var wg sync.WaitGroup
	return NewHost(context.Background(), name, reg, nil, nil, slog.New(slog.DiscardHandler), &wg)
}

func TestDuplicateIQHandler(t *testing.T) {
	reg := NewRegistry("example.org")
	a := newTestHost(t, reg, "a")
	b := newTestHost(t, reg, "b")
	fn := func(context.Context, IQRequest) (*stanza.Element, error) { return nil, nil }
	a.HandleIQ(ServerTarget, stanza.Get, Name("urn:x", "q"), fn)
	b.HandleIQ(AccountTarget, stanza.Get, Name("urn:x", "q"), fn) // other target: fine
	if err := b.Err(); err != nil {
		t.Fatalf("different targets conflict: %v", err)
	}
	b.HandleIQ(ServerTarget, stanza.Get, Name("urn:x", "q"), fn)
	if err := b.Err(); err == nil || !strings.Contains(err.Error(), "already handled by a") {
		t.Errorf("duplicate handler: err = %v", err)
	}
	if _, ok := reg.IQ(ServerTarget, IQKey{Type: stanza.Get, Payload: Name("urn:x", "q")}); !ok {
		t.Errorf("first handler lost")
	}
}

func TestHookOrderTable(t *testing.T) {
	reg := NewRegistry("example.org")
	var order []string
	// Registered in the opposite order to the table's.
	newTestHost(t, reg, "last").OnSessionClosed(func(context.Context, Session) { order = append(order, "last") })
	newTestHost(t, reg, "presence").OnSessionClosed(func(context.Context, Session) { order = append(order, "presence") })
	if err := reg.Freeze(); err != nil {
		t.Fatal(err)
	}
	reg.RunSessionClosed(context.Background(), nil)
	if got := strings.Join(order, ","); got != "presence,last" {
		t.Errorf("hook order = %s, want presence,last (module/order.go)", got)
	}

	reg = NewRegistry("example.org")
	newTestHost(t, reg, "stranger").OnUserDeleted(func(context.Context, jid.JID) {})
	if err := reg.Freeze(); err == nil || !strings.Contains(err.Error(), "order table") {
		t.Errorf("a hook of a module missing from the order table: err = %v", err)
	}
}

func TestRegistrationAfterFreezePanics(t *testing.T) {
	reg := NewRegistry("example.org")
	h := newTestHost(t, reg, "a")
	if err := reg.Freeze(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("AddFeature after Freeze did not panic")
		}
	}()
	h.AddFeature(ServerTarget, "urn:late")
}

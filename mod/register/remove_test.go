package register_test

import (
	"context"
	"errors"
	"testing"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/mod/register"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/memstore"
)

// hookProbe is a stand-in for the roster module (which is in the hook order
// table) that records what the user-deleted hook saw.
type hookProbe struct {
	users         []jid.JID
	accountExists bool
	dataExists    bool
}

func (p *hookProbe) module(store func() storage.Store) *module.Definition {
	return module.New("roster", struct{}{}, func(h *module.Host, _ struct{}) error {
		h.OnUserDeleted(func(ctx context.Context, user jid.JID) {
			p.users = append(p.users, user)
			_, err := store().Accounts().Get(ctx, user.Domain(), user.Local())
			p.accountExists = err == nil
			_, err = store().Map("roster").Get(ctx, user.String(), "carol@example.com")
			p.dataExists = err == nil
		})
		return nil
	})
}

func TestRemove(t *testing.T) {
	for _, tc := range []struct {
		name     string
		to       string // 'to' of the request, "" for none
		wantFrom string // 'from' of the result
	}{
		{"to no one (XEP-0077 Example 13)", "", ""},
		{"to the server", "example.com", "example.com"},
		{"to own bare JID", "alice@example.com", "alice@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			env := modtest.New(t, "example.com", memstore.New())
			probe := &hookProbe{}
			env.Start(t, probe.module(func() storage.Store { return env.Store }), nil)
			env.Start(t, register.Module, nil) // closed: removal works anyway
			env.Freeze(t)
			env.AddAccount(t, "alice")
			env.AddAccount(t, "bob")
			for _, owner := range []string{"alice@example.com", "bob@example.com"} {
				if err := env.Store.Map("roster").Set(ctx, owner, "carol@example.com", []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			phone := env.Router.Bind(t, "alice@example.com/phone")
			laptop := env.Router.Bind(t, "alice@example.com/laptop")
			bobs := env.Router.Bind(t, "bob@example.com/x")

			iq := `<iq xmlns='jabber:client' type='set' id='unreg1' from='alice@example.com/phone'`
			if tc.to != "" {
				iq += ` to='` + tc.to + `'`
			}
			iq += `><query xmlns='jabber:iq:register'><remove/></query></iq>`
			env.IQ(t, iq).WantResult(t, "")

			if _, err := env.Store.Accounts().Get(ctx, "example.com", "alice"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("alice's account: Get = %v, want ErrNotFound", err)
			}
			if _, err := env.Store.Map("roster").Get(ctx, "alice@example.com", "carol@example.com"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("alice's data: Get = %v, want ErrNotFound", err)
			}
			if _, err := env.Store.Map("roster").Get(ctx, "bob@example.com", "carol@example.com"); err != nil {
				t.Errorf("bob's data: %v", err)
			}
			if len(probe.users) != 1 || probe.users[0] != jid.MustParse("alice@example.com") {
				t.Errorf("user-deleted hook ran for %v, want [alice@example.com]", probe.users)
			}
			if probe.accountExists || !probe.dataExists {
				t.Errorf("user-deleted hook saw account %v, data %v; want the account gone and the data still there", probe.accountExists, probe.dataExists)
			}

			// The requesting session got the result, then the stream error.
			sent := phone.Sent()
			if len(sent) != 1 {
				t.Fatalf("phone got %d stanzas, want the result only", len(sent))
			}
			want := `<iq xmlns='jabber:client' type='result' id='unreg1' to='alice@example.com/phone'/>`
			if tc.wantFrom != "" {
				want = `<iq xmlns='jabber:client' type='result' id='unreg1' from='` + tc.wantFrom + `' to='alice@example.com/phone'/>`
			}
			modtest.Equal(t, sent[0], want)
			for _, s := range []*modtest.Session{phone, laptop} {
				closed, err := s.Closed()
				var se *stanza.StreamError
				if !closed || !errors.As(err, &se) || se.Condition != "not-authorized" {
					t.Errorf("%s: closed %v with %v, want a not-authorized stream error", s.JID(), closed, err)
				}
			}
			if closed, _ := bobs.Closed(); closed {
				t.Errorf("bob's session was closed")
			}
			// The reply the router sends after the handler returns is
			// dropped by the closing stream.
			phone.Send(modtest.Parse(t, want))
			if n := len(phone.Sent()); n != 1 {
				t.Errorf("phone got %d stanzas after the close, want 1", n)
			}
		})
	}
}

func TestRemoveRefused(t *testing.T) {
	for _, tc := range []struct {
		name, iq  string
		condition string
	}{
		{"another account", `<iq xmlns='jabber:client' type='set' id='u' from='alice@example.com/phone' to='bob@example.com'><query xmlns='jabber:iq:register'><remove/></query></iq>`, "not-authorized"},
		{"from another server", `<iq xmlns='jabber:client' type='set' id='u' from='bob@remote.example/x' to='example.com'><query xmlns='jabber:iq:register'><remove/></query></iq>`, "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := modtest.New(t, "example.com", memstore.New())
			env.Start(t, register.Module, nil)
			env.Freeze(t)
			env.AddAccount(t, "alice")
			env.AddAccount(t, "bob")
			bobs := env.Router.Bind(t, "bob@example.com/x")
			env.IQ(t, tc.iq).WantError(t, "auth", tc.condition)
			for _, u := range []string{"alice", "bob"} {
				if _, err := env.Store.Accounts().Get(context.Background(), "example.com", u); err != nil {
					t.Errorf("account %s: %v", u, err)
				}
			}
			if closed, _ := bobs.Closed(); closed {
				t.Errorf("bob's session was closed")
			}
		})
	}
}

func TestRemoveTwice(t *testing.T) {
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, register.Module, nil)
	env.Freeze(t)
	env.AddAccount(t, "alice")
	iq := `<iq xmlns='jabber:client' type='set' id='u' from='alice@example.com/phone'><query xmlns='jabber:iq:register'><remove/></query></iq>`
	env.IQ(t, iq).WantResult(t, "")
	env.IQ(t, iq).WantError(t, "cancel", "item-not-found")
}

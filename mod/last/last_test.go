package last_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/mod/last"
	"hearth/mod/roster"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/memstore"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newEnv starts the module at t0 with the accounts alice and bob; the
// returned function sets the module's clock.
func newEnv(t *testing.T) (*modtest.Env, func(time.Time)) {
	t.Helper()
	clock := t0
	last.SetClock(t, func() time.Time { return clock })
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, roster.Module, nil)
	env.Start(t, last.Module, nil)
	env.Freeze(t)
	env.AddAccount(t, "alice")
	env.AddAccount(t, "bob")
	return env, func(t time.Time) { clock = t }
}

func query(from, to string) string {
	return `<iq xmlns='jabber:client' type='get' id='l1' from='` + from + `' to='` + to + `'><query xmlns='jabber:iq:last'/></iq>`
}

func seconds(n int) string {
	return `<query xmlns='jabber:iq:last' seconds='` + strconv.Itoa(n) + `'/>`
}

func TestUptime(t *testing.T) {
	env, setClock := newEnv(t)
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{0, 0}, {1500 * time.Millisecond, 1}, {90 * time.Minute, 5400}, {-time.Hour, 0}} {
		t.Run(tc.at.String(), func(t *testing.T) {
			setClock(t0.Add(tc.at))
			env.IQ(t, query("carol@elsewhere.example/x", "example.com")).WantResult(t, seconds(tc.want))
		})
	}
}

// setRoster gives contact the item fn makes in owner's roster, through
// the roster module's API.
func setRoster(t *testing.T, env *modtest.Env, owner, contact string, fn func(it *roster.Item)) {
	t.Helper()
	_, err := roster.Update(context.Background(), env.Host("test"), jid.MustParse(owner), jid.MustParse(contact), func(it *roster.Item) bool {
		fn(it)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
}

func setLogout(t *testing.T, env *modtest.Env, user string, at time.Time) {
	t.Helper()
	if err := env.Store.Map("last").Set(context.Background(), user, "logout", []byte(strconv.FormatInt(at.Unix(), 10))); err != nil {
		t.Fatal(err)
	}
}

func TestAccount(t *testing.T) {
	env, setClock := newEnv(t)
	setLogout(t, env, "alice@example.com", t0)
	setClock(t0.Add(903 * time.Second))
	setRoster(t, env, "alice@example.com", "both@example.com", func(it *roster.Item) { it.Name, it.Subscription = "B", roster.Both })
	setRoster(t, env, "alice@example.com", "from@remote.example", func(it *roster.Item) { it.Subscription, it.Approved = roster.From, true })
	setRoster(t, env, "alice@example.com", "to@example.com", func(it *roster.Item) { it.Subscription = roster.To })
	setRoster(t, env, "alice@example.com", "none@example.com", func(it *roster.Item) { it.Ask = true })
	setRoster(t, env, "alice@example.com", "pending@example.com", func(it *roster.Item) {
		it.PendingIn = modtest.Parse(t, `<presence xmlns='jabber:client' from='pending@example.com' to='alice@example.com' type='subscribe'/>`)
	})
	for _, tc := range []struct {
		name, from, to string
		want           int // -1: forbidden
	}{
		{"self", "alice@example.com/phone", "alice@example.com", 903},
		{"contact both", "both@example.com/x", "alice@example.com", 903},
		{"contact from, other server", "from@remote.example/x", "alice@example.com", 903},
		{"contact to", "to@example.com/x", "alice@example.com", -1},
		{"contact none", "none@example.com/x", "alice@example.com", -1},
		{"contact without subscription", "pending@example.com/x", "alice@example.com", -1},
		{"stranger", "bob@example.com/x", "alice@example.com", -1},
		{"subscription is not symmetric", "alice@example.com/x", "both@example.com", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.IQ(t, query(tc.from, tc.to))
			if tc.want < 0 {
				r.WantError(t, "auth", "forbidden")
				return
			}
			r.WantResult(t, seconds(tc.want))
		})
	}
}

func TestAccountNeverLoggedOut(t *testing.T) {
	env, _ := newEnv(t)
	env.IQ(t, query("bob@example.com/x", "bob@example.com")).WantError(t, "cancel", "service-unavailable")
}

func TestAccountOnline(t *testing.T) {
	env, setClock := newEnv(t)
	setLogout(t, env, "alice@example.com", t0)
	setClock(t0.Add(time.Minute))
	s := env.Router.Bind(t, "alice@example.com/phone")
	// Bound but not yet available: still the last logout.
	env.IQ(t, query("alice@example.com/phone", "alice@example.com")).WantResult(t, seconds(60))
	s.SetPresence(modtest.Parse(t, `<presence xmlns='jabber:client'/>`))
	env.IQ(t, query("alice@example.com/phone", "alice@example.com")).WantResult(t, seconds(0))
	s.SetPresence(nil)
	env.IQ(t, query("alice@example.com/phone", "alice@example.com")).WantResult(t, seconds(60))
}

func TestRosterItemUnreadable(t *testing.T) {
	env, _ := newEnv(t)
	setLogout(t, env, "alice@example.com", t0)
	if err := env.Store.Map(roster.MapName).Set(context.Background(), "alice@example.com", "odd@example.com", []byte(`<item subscription='both'/>`)); err != nil {
		t.Fatal(err)
	}
	r := env.IQ(t, query("odd@example.com/x", "alice@example.com"))
	if !r.Handled || r.Err == nil {
		t.Fatalf("got %+v, want an internal error", r)
	}
	if _, ok := r.Err.(*stanza.Error); ok {
		t.Fatalf("got stanza error %v, want an internal error", r.Err)
	}
}

func TestSessionClosed(t *testing.T) {
	for _, tc := range []struct {
		name, user string
		deleted    bool
		recorded   bool
	}{
		{"account", "alice@example.com/phone", false, true},
		// Sessions of a deleted account close after the deletion.
		{"deleted account", "alice@example.com/phone", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, setClock := newEnv(t)
			s := env.Router.Bind(t, tc.user)
			if tc.deleted {
				env.Registry.RunUserDeleted(context.Background(), s.JID().Bare())
			}
			setClock(t0.Add(time.Hour))
			env.Router.Unbind(s)
			env.Registry.RunSessionClosed(context.Background(), s)

			bare := s.JID().Bare().String()
			if !tc.recorded {
				env.IQ(t, query(tc.user, bare)).WantError(t, "cancel", "service-unavailable")
				time.Sleep(3 * last.FlushDelay)
				if v, err := env.Store.Map("last").Get(context.Background(), bare, "logout"); err == nil {
					t.Fatalf("logout recorded for %s: %q", bare, v)
				}
				return
			}
			// Answered before the batch is written, and after.
			setClock(t0.Add(time.Hour + 42*time.Second))
			env.IQ(t, query(tc.user, bare)).WantResult(t, seconds(42))
			var v []byte
			var err error
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if v, err = env.Store.Map("last").Get(context.Background(), bare, "logout"); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("no logout recorded: %v", err)
			}
			if want := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10); string(v) != want {
				t.Fatalf("recorded %q, want %q", v, want)
			}
			env.IQ(t, query(tc.user, bare)).WantResult(t, seconds(42))
		})
	}
}

func TestUserDeleted(t *testing.T) {
	env, _ := newEnv(t)
	setLogout(t, env, "alice@example.com", t0)
	env.Registry.RunUserDeleted(context.Background(), jid.MustParse("alice@example.com"))
	if _, err := env.Store.Map("last").Get(context.Background(), "alice@example.com", "logout"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after deletion Get = %v, want ErrNotFound", err)
	}
}

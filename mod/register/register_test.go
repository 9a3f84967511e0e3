package register_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"hearth/mod/internal/modtest"
	"hearth/mod/register"
	"hearth/module"
	"hearth/storage/memstore"
)

// testIterations keeps key derivation fast in tests.
const testIterations = 16

// newEnv starts the module with cfg changed by configure (nil: the
// defaults but testIterations) and creates the account alice with
// password "password".
func newEnv(t *testing.T, configure func(*register.Config)) *modtest.Env {
	t.Helper()
	env := modtest.New(t, "example.com", memstore.New())
	env.Registry.SetSettings(module.Settings{SCRAMIterations: testIterations})
	env.Start(t, register.Module, func(cfg any) error {
		c := cfg.(*register.Config)
		if configure != nil {
			configure(c)
		}
		return nil
	})
	env.Freeze(t)
	env.AddAccount(t, "alice")
	return env
}

func open(c *register.Config) { c.Mode = register.ModeOpen }

// checkPassword fails the test unless user's stored credentials accept
// password exactly when want is true.
func checkPassword(t *testing.T, env *modtest.Env, user, password string, want bool) {
	t.Helper()
	acct, err := env.Store.Accounts().Get(context.Background(), "example.com", user)
	if err != nil {
		t.Fatalf("account %s: %v", user, err)
	}
	if got := acct.Credentials.Verify(password); got != want {
		t.Fatalf("password %q of %s accepted = %v, want %v", password, user, got, want)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*register.Config)
		wantErr   string // "" for success
	}{
		{"defaults", nil, ""},
		{"open", open, ""},
		{"no limit", func(c *register.Config) { c.MaxPerIPPerHour = 0 }, ""},
		{"unknown mode", func(c *register.Config) { c.Mode = "invite" }, "mode"},
		{"empty mode", func(c *register.Config) { c.Mode = "" }, "mode"},
		{"zero password length", func(c *register.Config) { c.MinPasswordLength = 0 }, "min_password_length"},
		{"negative limit", func(c *register.Config) { c.MaxPerIPPerHour = -1 }, "max_per_ip_per_hour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := modtest.New(t, "example.com", memstore.New())
			err := env.StartErr(register.Module, func(cfg any) error {
				if tc.configure != nil {
					tc.configure(cfg.(*register.Config))
				}
				return nil
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("start: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("start error = %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := register.Module.DecodeConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := register.Config{Mode: "closed", MinPasswordLength: 8, MaxPerIPPerHour: 5}
	if got := *cfg.(*register.Config); got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	if register.Module.Section != "registration" {
		t.Fatalf("section = %q, want registration", register.Module.Section)
	}
}

func TestAdvertised(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*register.Config)
		preAuth   []string
	}{
		{"closed", nil, nil},
		{"open", open, []string{`<register xmlns='http://jabber.org/features/iq-register'/>`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, tc.configure)
			got := env.Registry.PreAuthFeatures()
			if len(got) != len(tc.preAuth) {
				t.Fatalf("pre-auth features %d, want %d", len(got), len(tc.preAuth))
			}
			for i, w := range tc.preAuth {
				modtest.Equal(t, got[i], w)
			}
			// Password change and removal work in every mode.
			if f := env.Registry.Features(module.ServerTarget); !contains(f, register.NS) {
				t.Errorf("server features %v lack %s", f, register.NS)
			}
			if f := env.Registry.Features(module.AccountTarget); contains(f, register.NS) {
				t.Errorf("account features %v have %s", f, register.NS)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

const (
	getForm  = `<iq xmlns='jabber:client' type='get' id='reg1'><query xmlns='jabber:iq:register'/></iq>`
	wantForm = `<query xmlns='jabber:iq:register'>` +
		`<instructions>Choose a username and a password of at least 8 characters.</instructions>` +
		`<username/><password/>` +
		`<x xmlns='jabber:x:data' type='form'>` +
		`<title>Account registration on example.com</title>` +
		`<instructions>Choose a username and a password of at least 8 characters.</instructions>` +
		`<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>` +
		`<field var='username' type='text-single' label='Username'><required/></field>` +
		`<field var='password' type='text-private' label='Password'><required/></field>` +
		`</x></query>`
)

func setPlain(user, password string) string {
	return `<iq xmlns='jabber:client' type='set' id='reg2'><query xmlns='jabber:iq:register'>` +
		`<username>` + user + `</username><password>` + password + `</password></query></iq>`
}

func setForm(user, password string) string {
	return `<iq xmlns='jabber:client' type='set' id='reg2'><query xmlns='jabber:iq:register'>` +
		`<x xmlns='jabber:x:data' type='submit'>` +
		`<field var='FORM_TYPE'><value>jabber:iq:register</value></field>` +
		`<field var='username'><value>` + user + `</value></field>` +
		`<field var='password'><value>` + password + `</value></field>` +
		`</x></query></iq>`
}

func TestPreAuthGet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*register.Config)
		secure    bool
		errType   string // "" for the form
		condition string
	}{
		{"open", open, true, "", ""},
		{"open without TLS", open, false, "modify", "policy-violation"},
		{"closed", nil, true, "cancel", "not-allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, tc.configure)
			r := env.PreAuthIQ(t, getForm, "192.0.2.1", tc.secure)
			if tc.errType != "" {
				r.WantError(t, tc.errType, tc.condition)
				return
			}
			r.WantResult(t, wantForm)
		})
	}
}

func TestPreAuthSet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*register.Config)
		secure    bool
		iq        string
		user      string // account expected to exist afterwards with password "new password"
		errType   string
		condition string
	}{
		{"plain fields", open, true, setPlain("bob", "new password"), "bob", "", ""},
		{"data form", open, true, setForm("bob", "new password"), "bob", "", ""},
		{"username normalised", open, true, setPlain("Bob", "new password"), "bob", "", ""},
		{"unicode username", open, true, setPlain("Jürgen", "new password"), "jürgen", "", ""},
		{"password of min length", func(c *register.Config) { open(c); c.MinPasswordLength = 12 }, true, setPlain("bob", "new password"), "bob", "", ""},
		{"password too short", open, true, setPlain("bob", "1234567"), "", "modify", "not-acceptable"},
		{"password short in code points", open, true, setPlain("bob", "ééééééé"), "", "modify", "not-acceptable"},
		{"password with a control character", open, true, setPlain("bob", "new&#x9;password"), "", "modify", "not-acceptable"},
		{"no password", open, true, `<iq xmlns='jabber:client' type='set' id='r'><query xmlns='jabber:iq:register'><username>bob</username></query></iq>`, "", "modify", "not-acceptable"},
		{"no username", open, true, setPlain("", "new password"), "", "modify", "not-acceptable"},
		{"invalid username", open, true, setPlain("bob@example.com", "new password"), "", "modify", "not-acceptable"},
		{"username with space", open, true, setPlain("bob smith", "new password"), "", "modify", "not-acceptable"},
		{"taken", open, true, setPlain("alice", "new password"), "", "cancel", "conflict"},
		{"taken, other case", open, true, setPlain("ALICE", "new password"), "", "cancel", "conflict"},
		{"remove before login", open, true, `<iq xmlns='jabber:client' type='set' id='r'><query xmlns='jabber:iq:register'><remove/></query></iq>`, "", "auth", "not-authorized"},
		{"without TLS", open, false, setPlain("bob", "new password"), "", "modify", "policy-violation"},
		{"closed", nil, true, setPlain("bob", "new password"), "", "cancel", "not-allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, tc.configure)
			r := env.PreAuthIQ(t, tc.iq, "192.0.2.1", tc.secure)
			if tc.errType != "" {
				r.WantError(t, tc.errType, tc.condition)
				accts, err := env.Store.Accounts().List(context.Background(), "example.com")
				if err != nil || len(accts) != 1 {
					t.Fatalf("accounts after refusal: %v, %v; want alice only", accts, err)
				}
				checkPassword(t, env, "alice", "password", true)
				return
			}
			r.WantResult(t, "")
			checkPassword(t, env, tc.user, "new password", true)
			checkPassword(t, env, tc.user, "password", false)
		})
	}
}

func TestThrottle(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	register.SetClock(t, func() time.Time { return clock })
	env := newEnv(t, func(c *register.Config) { open(c); c.MaxPerIPPerHour = 2 })
	n := 0
	try := func(t *testing.T, addr string) modtest.Reply {
		t.Helper()
		n++
		return env.PreAuthIQ(t, setPlain("user"+string(rune('a'+n)), "new password"), addr, true)
	}
	const a, b = "192.0.2.1", "2001:db8::1"

	try(t, a).WantResult(t, "")
	clock = clock.Add(30 * time.Minute)
	// Failures do not count.
	env.PreAuthIQ(t, setPlain("alice", "new password"), a, true).WantError(t, "cancel", "conflict")
	env.PreAuthIQ(t, setPlain("bob", "short"), a, true).WantError(t, "modify", "not-acceptable")
	try(t, a).WantResult(t, "")
	try(t, a).WantError(t, "wait", "resource-constraint")
	try(t, b).WantResult(t, "") // another address has its own quota
	// An hour after the first registration, one is available again.
	clock = clock.Add(30*time.Minute - time.Nanosecond)
	try(t, a).WantError(t, "wait", "resource-constraint")
	clock = clock.Add(time.Nanosecond)
	try(t, a).WantResult(t, "")
	try(t, a).WantError(t, "wait", "resource-constraint")
}

func TestNoThrottle(t *testing.T) {
	env := newEnv(t, func(c *register.Config) { open(c); c.MaxPerIPPerHour = 0 })
	for i := range 10 {
		env.PreAuthIQ(t, setPlain("user"+string(rune('a'+i)), "new password"), "192.0.2.1", true).WantResult(t, "")
	}
}

func TestAccountGet(t *testing.T) {
	for _, tc := range []struct {
		name, iq  string
		condition string
	}{
		{"to the server", `<iq xmlns='jabber:client' type='get' id='r' from='alice@example.com/phone' to='example.com'><query xmlns='jabber:iq:register'/></iq>`, ""},
		{"to no one", `<iq xmlns='jabber:client' type='get' id='r' from='alice@example.com/phone'><query xmlns='jabber:iq:register'/></iq>`, ""},
		{"to another account", `<iq xmlns='jabber:client' type='get' id='r' from='alice@example.com/phone' to='bob@example.com'><query xmlns='jabber:iq:register'/></iq>`, "not-authorized"},
		{"from another server", `<iq xmlns='jabber:client' type='get' id='r' from='alice@remote.example/phone' to='example.com'><query xmlns='jabber:iq:register'/></iq>`, "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, nil)
			r := env.IQ(t, tc.iq)
			if tc.condition != "" {
				r.WantError(t, "auth", tc.condition)
				return
			}
			r.WantResult(t, `<query xmlns='jabber:iq:register'><registered/><username>alice</username></query>`)
		})
	}
}

func change(from, to, user, password string) string {
	s := `<iq xmlns='jabber:client' type='set' id='change1' from='` + from + `'`
	if to != "" {
		s += ` to='` + to + `'`
	}
	s += `><query xmlns='jabber:iq:register'>`
	if user != "" {
		s += `<username>` + user + `</username>`
	}
	return s + `<password>` + password + `</password></query></iq>`
}

func TestChangePassword(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*register.Config)
		iq        string
		errType   string
		condition string
	}{
		{"to the server (XEP-0077 Example 18)", nil, change("alice@example.com/phone", "example.com", "alice", "new password"), "", ""},
		{"to no one", nil, change("alice@example.com/phone", "", "alice", "new password"), "", ""},
		{"to own bare JID", nil, change("alice@example.com/phone", "alice@example.com", "alice", "new password"), "", ""},
		{"without username", nil, change("alice@example.com/phone", "example.com", "", "new password"), "", ""},
		{"username in other case", nil, change("alice@example.com/phone", "example.com", "Alice", "new password"), "", ""},
		{"open mode", open, change("alice@example.com/phone", "example.com", "alice", "new password"), "", ""},
		{"data form", nil, `<iq xmlns='jabber:client' type='set' id='c' from='alice@example.com/phone' to='example.com'><query xmlns='jabber:iq:register'>` +
			`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>jabber:iq:register</value></field>` +
			`<field var='username'><value>alice</value></field><field var='password'><value>new password</value></field></x></query></iq>`, "", ""},
		{"someone else's username", nil, change("alice@example.com/phone", "example.com", "bob", "new password"), "auth", "not-authorized"},
		{"to another account", nil, change("alice@example.com/phone", "bob@example.com", "bob", "new password"), "auth", "not-authorized"},
		{"from another server", nil, change("alice@remote.example/phone", "example.com", "alice", "new password"), "auth", "not-authorized"},
		{"weak password", nil, change("alice@example.com/phone", "example.com", "alice", "short"), "modify", "not-acceptable"},
		{"no password", nil, change("alice@example.com/phone", "example.com", "alice", ""), "modify", "not-acceptable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, tc.configure)
			env.AddAccount(t, "bob")
			r := env.IQ(t, tc.iq)
			if tc.errType != "" {
				r.WantError(t, tc.errType, tc.condition)
				checkPassword(t, env, "alice", "password", true)
				checkPassword(t, env, "bob", "password", true)
				return
			}
			r.WantResult(t, "")
			checkPassword(t, env, "alice", "new password", true)
			checkPassword(t, env, "alice", "password", false)
			checkPassword(t, env, "bob", "password", true)
		})
	}
}

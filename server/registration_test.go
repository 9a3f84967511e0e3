package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// XEP-0077 namespaces, spelled out so that a wrong constant in the module
// cannot make a test agree with it.
const (
	nsRegister        = "jabber:iq:register"
	nsRegisterFeature = "http://jabber.org/features/iq-register"
)

const openRegistration = "[registration]\nmode = \"open\"\nmax_per_ip_per_hour = 0"

// registerIQ returns an IQ set that registers (or, after login, changes
// the password of) username with password, in plain fields.
func registerIQ(id, to, username, password string) string {
	if to != "" {
		to = " to='" + to + "'"
	}
	return fmt.Sprintf("<iq type='set' id='%s'%s><query xmlns='jabber:iq:register'><username>%s</username><password>%s</password></query></iq>", id, to, username, password)
}

// authCondition authenticates user on a new connection and returns ""
// on success, else the SASL failure condition.
func authCondition(t *testing.T, srv *xmpptest.Server, mechanism, user, password string) string {
	t.Helper()
	c, _ := secureConn(t, srv)
	f := c.Auth(mechanism, user, password)
	if f == nil {
		return ""
	}
	c.Close()
	return failureCondition(f)
}

func TestRegistrationFeature(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, config string
		want         bool
	}{
		{"open", openRegistration, true},
		{"closed by default", "", false},
		{"closed", "[registration]\nmode = \"closed\"", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.NewServer(t, tc.config)
			c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
			if f := c.OpenStream(); f.Child(nsRegisterFeature, "register") != nil {
				t.Errorf("registration offered before TLS: %s", f)
			}
			if f := c.StartTLS(); (f.Child(nsRegisterFeature, "register") != nil) != tc.want {
				t.Errorf("features after TLS: %s, want register feature: %v", f, tc.want)
			}
		})
	}
}

// TestRegistration walks XEP-0077 §3.1 with registration open: the form,
// account creation, and logging in with the new account.
func TestRegistration(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, openRegistration+"\nmin_password_length = 10")
	srv.AddUser(t, "alice", "correct horse")

	t.Run("form", func(t *testing.T) {
		t.Parallel()
		c, _ := secureConn(t, srv)
		res := c.IQ("<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>")
		q := res.Child(nsRegister, "query")
		if res.Get("type") != "result" || q == nil {
			t.Fatalf("get: %s", res)
		}
		for _, name := range []string{"instructions", "username", "password"} {
			if q.Child(nsRegister, name) == nil {
				t.Errorf("no <%s/> in %s", name, q)
			}
		}
		x := q.Child(stanza.NSData, "x")
		if x == nil {
			t.Fatalf("no data form in %s", q)
		}
		f, err := stanza.ParseForm(x)
		if err != nil {
			t.Fatalf("form: %v", err)
		}
		if f.Value("FORM_TYPE") != nsRegister {
			t.Errorf("FORM_TYPE %q", f.Value("FORM_TYPE"))
		}
		for _, v := range []string{"username", "password"} {
			if !hasField(f, v) {
				t.Errorf("form lacks field %s: %s", v, x)
			}
		}
	})

	tests := []struct {
		name string
		iq   string // with %s for the id
		want string // stanza error condition; "" for success
	}{
		{"plain fields", registerIQ("%s", "", "newbie", "long enough pw"), ""},
		{"data form", "<iq type='set' id='%s'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE'><value>jabber:iq:register</value></field>" +
			"<field var='username'><value>formuser</value></field>" +
			"<field var='password'><value>long enough pw</value></field></x></query></iq>", ""},
		{"addressed to the domain", registerIQ("%s", "localhost", "domainuser", "long enough pw"), ""},
		{"taken", registerIQ("%s", "", "alice", "long enough pw"), "conflict"},
		{"taken, other case", registerIQ("%s", "", "ALICE", "long enough pw"), "conflict"},
		{"weak password", registerIQ("%s", "", "weakling", "short"), "not-acceptable"},
		{"no password", registerIQ("%s", "", "nopass", ""), "not-acceptable"},
		{"no username", registerIQ("%s", "", "", "long enough pw"), "not-acceptable"},
		{"username with @", registerIQ("%s", "", "a@b", "long enough pw"), "not-acceptable"},
		{"remove before login", "<iq type='set' id='%s'><query xmlns='jabber:iq:register'><remove/></query></iq>", "not-authorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := secureConn(t, srv)
			res := c.IQ(fmt.Sprintf(tc.iq, "r2"))
			if tc.want != "" {
				if res.Get("type") != "error" || errorCondition(res) != tc.want {
					t.Fatalf("got %s, want %s", res, tc.want)
				}
				return
			}
			if res.Get("type") != "result" {
				t.Fatalf("register: %s", res)
			}
			q, _ := parseIQ(fmt.Sprintf(tc.iq, "x"))
			user, password := registeredFields(q)
			// The client logs in on the same stream (as Conversations
			// does) and again on a new one.
			if f := c.Auth("SCRAM-SHA-256", user, password); f != nil {
				t.Fatalf("login on the registering stream: %s", f)
			}
			bindAfterAuth(t, c, user, "new")
			if got := authCondition(t, srv, "PLAIN", user, password); got != "" {
				t.Errorf("login on a new stream: %s", got)
			}
		})
	}
	t.Run("before tls", func(t *testing.T) {
		t.Parallel()
		c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
		c.OpenStream()
		res := c.IQ(registerIQ("r3", "", "cleartext", "long enough pw"))
		if res.Get("type") != "error" {
			t.Fatalf("registration before TLS: %s", res)
		}
		c.StartTLS()
		if got := authCondition(t, srv, "SCRAM-SHA-256", "cleartext", "long enough pw"); got != "not-authorized" {
			t.Errorf("login of the refused account: %s, want not-authorized", got)
		}
	})
}

func hasField(f *stanza.Form, v string) bool {
	for _, fl := range f.Fields {
		if fl.Var == v {
			return true
		}
	}
	return false
}

func parseIQ(s string) (*stanza.Element, error) {
	return stanza.NewDecoder(strings.NewReader(s), stanza.Limits{}).Next()
}

// registeredFields returns the username and password an IQ submitted.
func registeredFields(iq *stanza.Element) (string, string) {
	q := iq.Child(nsRegister, "query")
	if x := q.Child(stanza.NSData, "x"); x != nil {
		f, _ := stanza.ParseForm(x)
		return f.Value("username"), f.Value("password")
	}
	return q.ChildText(nsRegister, "username"), q.ChildText(nsRegister, "password")
}

func TestRegistrationClosed(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	for _, tc := range []struct{ name, iq string }{
		{"get", "<iq type='get' id='c1'><query xmlns='jabber:iq:register'/></iq>"},
		{"set", registerIQ("c2", "", "intruder", "long enough pw")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := secureConn(t, srv)
			res := c.IQ(tc.iq)
			if res.Get("type") != "error" || errorCondition(res) != "not-allowed" {
				t.Fatalf("got %s, want not-allowed", res)
			}
		})
	}
	if got := authCondition(t, srv, "PLAIN", "intruder", "long enough pw"); got != "not-authorized" {
		t.Errorf("login of the refused account: %s, want not-authorized", got)
	}
}

func TestRegistrationThrottle(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[registration]\nmode = \"open\"\nmax_per_ip_per_hour = 1")
	c, _ := secureConn(t, srv)
	if res := c.IQ(registerIQ("t1", "", "first", "long enough pw")); res.Get("type") != "result" {
		t.Fatalf("first registration: %s", res)
	}
	res := c.IQ(registerIQ("t2", "", "second", "long enough pw"))
	if errorCondition(res) != "resource-constraint" {
		t.Fatalf("second registration: %s, want resource-constraint", res)
	}
}

// TestPasswordChange covers XEP-0077 §3.3 after login, addressed each way
// clients do it.
func TestPasswordChange(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	tests := []struct {
		name     string
		user     string
		to       string // 'to' of the IQ; "{me}" is the user's bare JID
		username string // username field; "" for the user's own
		password string
		want     string // stanza error condition; "" for success
	}{
		{name: "to the server", user: "u1", to: "localhost", password: "brand new password"},
		{name: "to no one", user: "u2", password: "brand new password"},
		{name: "to own bare JID", user: "u3", to: "{me}", password: "brand new password"},
		{name: "weak password", user: "u4", to: "localhost", password: "short", want: "not-acceptable"},
		{name: "another account", user: "u5", to: "localhost", username: "u1", password: "brand new password", want: "not-authorized"},
		{name: "to another account", user: "u6", to: "u1@localhost", password: "brand new password", want: "not-authorized"},
	}
	for _, tc := range tests {
		srv.AddUser(t, tc.user, "old password")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := srv.Login(t, tc.user, "old password", "pw")
			to := tc.to
			if to == "{me}" {
				to = c.JID.Bare().String()
			}
			username := tc.username
			if username == "" {
				username = tc.user
			}
			res := c.IQ(registerIQ(c.NextID(), to, username, tc.password))
			oldWorks, newWorks := "", "not-authorized"
			if tc.want != "" {
				if res.Get("type") != "error" || errorCondition(res) != tc.want {
					t.Fatalf("got %s, want %s", res, tc.want)
				}
			} else {
				if res.Get("type") != "result" {
					t.Fatalf("password change: %s", res)
				}
				oldWorks, newWorks = "not-authorized", ""
			}
			if got := authCondition(t, srv, "SCRAM-SHA-256", tc.user, "old password"); got != oldWorks {
				t.Errorf("old password: %q, want %q", got, oldWorks)
			}
			if got := authCondition(t, srv, "PLAIN", tc.user, tc.password); got != newWorks {
				t.Errorf("new password: %q, want %q", got, newWorks)
			}
			ping(t, c.Conn) // the session that changed it goes on
		})
	}
}

// TestAccountRemoval covers XEP-0077 §3.2: the requester gets its result,
// every session of the account is closed, and the account is gone.
func TestAccountRemoval(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, openRegistration)
	srv.AddUser(t, "alice", "correct horse")
	srv.AddUser(t, "bob", "battery staple")
	c := srv.Login(t, "alice", "correct horse", "phone")
	other := srv.Login(t, "alice", "correct horse", "laptop")
	bob := srv.Login(t, "bob", "battery staple", "desk")

	res := c.IQ("<iq type='set' id='rm1' to='localhost'><query xmlns='jabber:iq:register'><remove/></query></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("remove: %s", res)
	}
	for _, s := range []*xmpptest.Client{c, other} {
		// Nothing but the stream error and the end of the stream: in
		// particular no second reply to the removal.
		got := s.ReadToStreamEnd(3 * time.Second)
		if len(got) != 1 || got[0].Name.Local != "error" || got[0].Child(stanza.NSStreams, "not-authorized") == nil {
			t.Errorf("%s got %v, want only a not-authorized stream error", s.JID, got)
		}
		waitSessionGone(t, srv, s.JID)
	}
	if got := authCondition(t, srv, "SCRAM-SHA-256", "alice", "correct horse"); got != "not-authorized" {
		t.Errorf("login after removal: %q, want not-authorized", got)
	}
	ping(t, bob.Conn) // other accounts are untouched
	// The name is free again.
	r, _ := secureConn(t, srv)
	if res := r.IQ(registerIQ("again", "", "alice", "a new life 123")); res.Get("type") != "result" {
		t.Errorf("registering the removed name again: %s", res)
	}
}

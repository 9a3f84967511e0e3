package server_test

import (
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// streamErrorCondition reads until a stream error and returns its condition.
func streamErrorCondition(t *testing.T, c *xmpptest.Conn) string {
	t.Helper()
	for {
		el, err := c.ReadElement(5 * time.Second)
		if err != nil {
			t.Fatalf("expected a stream error, got %v", err)
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			for _, ch := range el.Elements() {
				if ch.Name.Space == stanza.NSStreams && ch.Name.Local != "text" {
					return ch.Name.Local
				}
			}
			t.Fatalf("stream error without condition: %s", el)
		}
	}
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	tests := []struct {
		name string
		send string
		want string
	}{
		{"unknown host", "<stream:stream to='nowhere.example' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "host-unknown"},
		{"no to", "<stream:stream version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "host-unknown"},
		{"wrong stream namespace", "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:wrong'>", "invalid-namespace"},
		{"wrong content namespace", "<stream:stream to='localhost' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>", "invalid-namespace"},
		{"old version", "<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "unsupported-version"},
		{"garbage", "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><a></b>", "not-well-formed"},
		{"doctype", "<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY x 'y'>]><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "restricted-xml"},
		{"auth before starttls", "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>", "policy-violation"},
		{"message before starttls", "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message to='a@localhost'><body>x</body></message>", "policy-violation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := xmpptest.Dial(t, srv.C2S, "localhost", false)
			c.Send(tc.send)
			c.ReadHeader()
			if got := streamErrorCondition(t, c); got != tc.want {
				t.Errorf("stream error = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNewerStreamVersionGetsOurs(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	c := xmpptest.Dial(t, srv.C2S, "localhost", false)
	c.Send("<stream:stream to='localhost' version='1.5' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
	if h := c.ReadHeader(); h.Version != "1.0" {
		t.Errorf("answered version %q, want 1.0", h.Version)
	}
	if f := c.Next(); f.Name.Local != "features" {
		t.Errorf("a 1.5 peer got %s, want features (RFC 6120 §4.7.5)", f)
	}
}

func TestStreamFeaturesAndHeader(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	c := xmpptest.Dial(t, srv.C2S, "localhost", false)
	f := c.OpenStream()
	if h := c.Header; h.From != "localhost" || h.Version != "1.0" || h.ID == "" || h.DefaultNS != stanza.NSClient {
		t.Errorf("server header = %+v", h)
	}
	st := f.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls")
	if st == nil || st.Child("", "required") == nil {
		t.Fatalf("features before TLS must require STARTTLS: %s", f)
	}
	if f.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms") != nil {
		t.Errorf("SASL offered before TLS: %s", f)
	}
	f = c.StartTLS()
	mechs := f.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms")
	if mechs == nil {
		t.Fatalf("no mechanisms after TLS: %s", f)
	}
	var names []string
	for _, m := range mechs.Elements() {
		names = append(names, m.Text())
	}
	got := strings.Join(names, " ")
	for _, want := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("mechanisms %q lack %s", got, want)
		}
	}
	if cb := f.Child("urn:xmpp:sasl-cb:0", "sasl-channel-binding"); cb == nil {
		t.Errorf("no XEP-0440 channel binding types: %s", f)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	tests := []struct {
		name, mech, user, password string
		wantCondition              string // "" = success
	}{
		{"scram-sha-256", "SCRAM-SHA-256", "alice", "correct horse", ""},
		{"scram-sha-1", "SCRAM-SHA-1", "alice", "correct horse", ""},
		{"plain over tls", "PLAIN", "alice", "correct horse", ""},
		{"case-insensitive username", "SCRAM-SHA-256", "Alice", "correct horse", ""},
		{"wrong password", "SCRAM-SHA-256", "alice", "battery staple", "not-authorized"},
		{"wrong password plain", "PLAIN", "alice", "battery staple", "not-authorized"},
		{"unknown user", "SCRAM-SHA-256", "mallory", "correct horse", "not-authorized"},
		{"unknown mechanism", "DIGEST-MD5", "alice", "correct horse", "invalid-mechanism"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := xmpptest.Dial(t, srv.C2S, "localhost", false)
			c.OpenStream()
			c.StartTLS()
			var f *stanza.Element
			if tc.mech == "DIGEST-MD5" {
				c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
				if el := c.Next(); el.Name.Local != "success" {
					f = el
				}
			} else {
				f = c.Auth(tc.mech, tc.user, tc.password)
			}
			if tc.wantCondition == "" {
				if f != nil {
					t.Fatalf("auth failed: %s", f)
				}
				c.OpenStream()
				if j := c.Bind("dev"); j.String() != "alice@localhost/dev" {
					t.Errorf("bound %s, want alice@localhost/dev", j)
				}
				return
			}
			if f == nil || f.Name.Local != "failure" || f.Child("", tc.wantCondition) == nil {
				t.Fatalf("got %v, want failure %s", f, tc.wantCondition)
			}
		})
	}
}

func TestAuthAttemptsPerStream(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nmax_auth_attempts = 2")
	srv.AddUser(t, "alice", "correct horse")
	c := xmpptest.Dial(t, srv.C2S, "localhost", false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("PLAIN", "alice", "nope"); f == nil {
		t.Fatal("wrong password accepted")
	}
	if f := c.Auth("PLAIN", "alice", "nope"); f == nil {
		t.Fatal("wrong password accepted")
	}
	if got := streamErrorCondition(t, c); got != "policy-violation" {
		t.Errorf("after 2 failures: stream error %s, want policy-violation", got)
	}
}

func TestAuthThrottlePerIP(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nauth_failures_per_ip = 3\nmax_auth_attempts = 5")
	srv.AddUser(t, "alice", "correct horse")
	c := xmpptest.Dial(t, srv.C2S, "localhost", false)
	c.OpenStream()
	c.StartTLS()
	for i := 0; i < 3; i++ {
		if f := c.Auth("PLAIN", "alice", "nope"); f == nil {
			t.Fatal("wrong password accepted")
		}
	}
	// The right password is now refused too: the address is throttled.
	f := c.Auth("PLAIN", "alice", "correct horse")
	if f == nil || f.Child("", "temporary-auth-failure") == nil {
		t.Fatalf("throttled login: got %v, want temporary-auth-failure", f)
	}
}

func TestDirectTLS(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	c := xmpptest.Dial(t, srv.C2STLS, "localhost", true)
	f := c.OpenStream()
	if f.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") != nil {
		t.Errorf("STARTTLS offered on a direct TLS stream: %s", f)
	}
	if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
		t.Fatalf("auth: %s", f)
	}
	c.OpenStream()
	if j := c.Bind(""); j.Resource() == "" || j.Bare().String() != "alice@localhost" {
		t.Errorf("server-generated resource: bound %s", j)
	}
}

func TestStanzaBeforeBind(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	c := xmpptest.Dial(t, srv.C2S, "localhost", false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
		t.Fatalf("auth: %s", f)
	}
	f := c.OpenStream()
	if f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
		t.Fatalf("no bind feature: %s", f)
	}
	c.Send("<message to='bob@localhost'><body>hi</body></message>")
	if got := streamErrorCondition(t, c); got != "not-authorized" {
		t.Errorf("message before bind: %s, want not-authorized", got)
	}
}

func TestResourceConflictNewestWins(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	old := srv.Login(t, "alice", "correct horse", "phone")
	newer := srv.Login(t, "alice", "correct horse", "phone")
	if got := streamErrorCondition(t, old.Conn); got != "conflict" {
		t.Errorf("old session got %s, want conflict", got)
	}
	// The new session works.
	res := newer.IQ("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "result" {
		t.Errorf("ping on the new session: %s", res)
	}
}

func TestSpoofedFrom(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	c := srv.Login(t, "alice", "correct horse", "a")
	c.Send("<message from='bob@localhost/x' to='alice@localhost'><body>hi</body></message>")
	if got := streamErrorCondition(t, c.Conn); got != "invalid-from" {
		t.Errorf("spoofed from: %s, want invalid-from", got)
	}
}

func TestShutdownSendsSystemShutdown(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	c := srv.Login(t, "alice", "correct horse", "a")
	go srv.Shutdown()
	if got := streamErrorCondition(t, c.Conn); got != "system-shutdown" {
		t.Errorf("shutdown: %s, want system-shutdown", got)
	}
}

func TestStanzaLanguageFromStream(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "a") // its stream says xml:lang='en'
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "b")
	alice.Send("<message to='bob@localhost/b' type='chat'><body>one</body></message>")
	alice.Send("<message to='bob@localhost/b' type='chat' xml:lang='fr'><body>deux</body></message>")
	for _, want := range []struct{ body, lang string }{{"one", "en"}, {"deux", "fr"}} {
		el := bob.Expect("message", isMessage(want.body))
		if el.Lang() != want.lang {
			t.Errorf("message %q arrived with xml:lang %q, want %q (RFC 6120 §4.7.4)", want.body, el.Lang(), want.lang)
		}
	}
}

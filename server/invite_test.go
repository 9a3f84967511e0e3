package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hearth/mod/invite"
	"hearth/stanza"
	"hearth/xmpptest"
)

const inviteRegistration = "[registration]\nmode = \"invite\"\nmax_per_ip_per_hour = 0"

func preauthIQ(id, token string) string {
	return "<iq type='set' id='" + id + "'><preauth xmlns='urn:xmpp:pars:0' token='" + token + "'/></iq>"
}

// inviteFromCommand runs the XEP-0401 invite command as c and returns the
// token of the invitation URI.
func inviteFromCommand(t *testing.T, c *xmpptest.Client, node string) (uri, landing string, token string) {
	t.Helper()
	r := c.IQ("<iq type='set' id='" + c.NextID() + "' to='localhost'><command xmlns='" + nsCommands + "' node='" + node + "' action='execute'/></iq>")
	cmd := r.Child(nsCommands, "command")
	if r.Get("type") != "result" || cmd == nil || cmd.Get("status") != "completed" {
		t.Fatalf("%s: %s", node, r)
	}
	f, err := stanza.ParseForm(cmd.Child(stanza.NSData, "x"))
	if err != nil {
		t.Fatal(err)
	}
	uri, landing = f.Value("uri"), f.Value("landing-url")
	i := strings.Index(uri, "preauth=")
	if i < 0 {
		t.Fatalf("uri %q has no preauth", uri)
	}
	token = strings.SplitN(uri[i+len("preauth="):], ";", 2)[0]
	return uri, landing, token
}

// rosterSub returns the subscription of contact in c's roster, or "absent".
func rosterSub(t *testing.T, c *xmpptest.Client, contact string) string {
	t.Helper()
	r := c.IQ("<iq type='get' id='" + c.NextID() + "'><query xmlns='jabber:iq:roster'/></iq>")
	q := r.Child("jabber:iq:roster", "query")
	if q == nil {
		t.Fatalf("roster get: %s", r)
	}
	for _, it := range q.Elements() {
		if it.Get("jid") == contact {
			return it.Get("subscription")
		}
	}
	return "absent"
}

// TestInviteRegistration: in mode invite, registration needs a token
// (XEP-0445); a user's invitation (XEP-0401 command) registers a friend
// who lands in the inviter's roster and the inviter in theirs, both ways
// subscribed; the token is used up.
func TestInviteRegistration(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, inviteRegistration)
	srv.AddUser(t, "alice", "alice-pw")
	alice := srv.LoginAvailable(t, "alice", "alice-pw", "phone")

	c, f := secureConn(t, srv)
	if f.Child("urn:xmpp:ibr-token:0", "register") == nil || f.Child(nsRegisterFeature, "register") == nil {
		t.Fatalf("invite mode features: %s", f)
	}
	if r := c.IQ(registerIQ("r0", "", "mallory", "mallory-pw")); r.Get("type") != "error" || !strings.Contains(r.String(), "not-authorized") {
		t.Fatalf("registration without a token: %s", r)
	}
	if r := c.IQ(preauthIQ("p0", "forged-token")); r.Get("type") != "error" || !strings.Contains(r.String(), "item-not-found") {
		t.Fatalf("forged token: %s", r)
	}

	uri, landing, token := inviteFromCommand(t, alice, "urn:xmpp:invite#invite")
	if !strings.HasPrefix(uri, "xmpp:alice@localhost?roster;preauth=") || !strings.HasSuffix(uri, ";ibr=y") {
		t.Fatalf("invite uri %q", uri)
	}
	if landing != "https://localhost:5281/invite/"+token {
		t.Fatalf("landing url %q", landing)
	}
	if r := c.IQ(preauthIQ("p1", token)); r.Get("type") != "result" {
		t.Fatalf("valid token: %s", r)
	}
	if r := c.IQ(registerIQ("r1", "", "bob", "bob-password")); r.Get("type") != "result" {
		t.Fatalf("registration with a token: %s", r)
	}
	c.Close()
	bob := srv.LoginAvailable(t, "bob", "bob-password", "laptop")
	if got := rosterSub(t, alice, "bob@localhost"); got != "both" {
		t.Errorf("alice's roster: bob is %s, want both", got)
	}
	if got := rosterSub(t, bob, "alice@localhost"); got != "both" {
		t.Errorf("bob's roster: alice is %s, want both", got)
	}
	// Used up.
	c2, _ := secureConn(t, srv)
	if r := c2.IQ(preauthIQ("p2", token)); r.Get("type") != "error" {
		t.Fatalf("used token accepted again: %s", r)
	}
	// Account invitations are for admins only.
	r := alice.IQ("<iq type='set' id='ca' to='localhost'><command xmlns='" + nsCommands + "' node='urn:xmpp:invite#create-account' action='execute'/></iq>")
	if r.Get("type") != "error" {
		t.Fatalf("a user created an account invitation: %s", r)
	}
}

// TestInviteWebPage: the landing page of an invitation renders, its form
// registers an account that then logs in over XMPP, and the used
// invitation's page says it is no longer valid.
func TestInviteWebPage(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, inviteRegistration+"\n[invites]\nweb_base = \"https://chat.example:5281\"\n"+
		"[listen]\nc2s = [\"127.0.0.1:0\"]\nhttps = [\"127.0.0.1:0\"]\n")
	if invite.ServiceOf(srv.Router().Host("localhost").Registry()) == nil {
		t.Fatal("no invite service")
	}
	inv, err := invite.Create(context.Background(), srv.Store().Map(invite.MapName), "localhost", invite.Options{Uses: 1, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The server's own web listener serves the page.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := "https://" + srv.HTTPS
	get := func(method, path, host string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Host = host
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	page := func(method string, form url.Values) (int, string) {
		t.Helper()
		return get(method, "/invite/"+inv.Token, "localhost", form)
	}
	code, html := page("GET", nil)
	if code != 200 || !strings.Contains(html, `href="xmpp:localhost?register;preauth=`+inv.Token+`"`) || !strings.Contains(html, "Conversations") {
		t.Fatalf("GET: %d\n%s", code, html)
	}
	// A proxy's public name (web_base) reaches the same page.
	if code, _ := get("GET", "/invite/"+inv.Token, "chat.example", nil); code != 200 {
		t.Fatalf("GET through the public name: %d", code)
	}
	// A too-short password is refused with the server's own policy.
	code, html = page("POST", url.Values{"username": {"carol"}, "password": {"short"}, "password-verify": {"short"}})
	if code != 400 || !strings.Contains(html, "at least 8 characters") {
		t.Fatalf("weak password: %d\n%s", code, html)
	}
	code, html = page("POST", url.Values{"username": {"carol"}, "password": {"carol-password"}, "password-verify": {"carol-password"}})
	if code != 200 || !strings.Contains(html, `<strong id="account">carol@localhost</strong>`) {
		t.Fatalf("register: %d\n%s", code, html)
	}
	srv.Login(t, "carol", "carol-password", "web").Close()
	if code, _ = page("GET", nil); code != 404 {
		t.Fatalf("used invitation page: %d", code)
	}
	if code, _ = get("GET", "/invite/", "localhost", nil); code != 404 {
		t.Fatalf("no token: %d", code)
	}
}

// TestInvitePreApprovedSubscription: an existing account that subscribes
// to the inviter with the invitation token (XEP-0379) is approved at once;
// without a valid token the request waits for the user as usual.
func TestInvitePreApprovedSubscription(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw")
	srv.AddUser(t, "bob", "pw")
	srv.AddUser(t, "carol", "pw")
	alice := srv.LoginAvailable(t, "alice", "pw", "a")
	bob := srv.LoginAvailable(t, "bob", "pw", "b")
	carol := srv.LoginAvailable(t, "carol", "pw", "c")
	uri, _, token := inviteFromCommand(t, alice, "urn:xmpp:invite#invite")
	if !strings.HasPrefix(uri, "xmpp:alice@localhost?roster;preauth=") {
		t.Fatalf("uri %q", uri)
	}
	// carol tries a forged token: an ordinary request, no answer.
	carol.Send("<presence type='subscribe' to='alice@localhost'><preauth xmlns='urn:xmpp:pars:0' token='forged'/></presence>")
	alice.Expect("carol's request", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "subscribe" && el.Get("from") == "carol@localhost"
	})
	carol.ExpectNone("approval", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "subscribed"
	}, 300*time.Millisecond)

	bob.Send("<presence type='subscribe' to='alice@localhost'><preauth xmlns='urn:xmpp:pars:0' token='" + token + "'/></presence>")
	bob.Expect("approval", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "subscribed" && el.Get("from") == "alice@localhost"
	})
	if got := rosterSub(t, alice, "bob@localhost"); got != "from" {
		t.Errorf("alice's roster: bob is %s, want from", got)
	}
	// The token is used up.
	if _, err := invite.Lookup(context.Background(), srv.Store().Map(invite.MapName), "localhost", token); err == nil {
		t.Error("token still valid after use")
	}
}

// TestInviteSingleUseUnderRace: two clients present the same one-use
// token and register at once: exactly one account is created.
func TestInviteSingleUseUnderRace(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, inviteRegistration)
	inv, err := invite.Create(context.Background(), srv.Store().Map(invite.MapName), "localhost", invite.Options{Uses: 1, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var conns []*xmpptest.Conn
	for i := range 2 {
		c, _ := secureConn(t, srv)
		if r := c.IQ(preauthIQ(fmt.Sprint("p", i), inv.Token)); r.Get("type") != "result" {
			t.Fatalf("preauth %d: %s", i, r)
		}
		conns = append(conns, c)
	}
	results := make(chan string, 2)
	for i, c := range conns {
		go func() {
			c.Send(registerIQ(fmt.Sprint("r", i), "", fmt.Sprint("racer", i), "racer-password"))
			results <- ""
		}()
	}
	<-results
	<-results
	ok := 0
	for i, c := range conns {
		r := c.Expect("registration reply", func(el *stanza.Element) bool { return el.Get("id") == fmt.Sprint("r", i) })
		if r.Get("type") == "result" {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d registrations succeeded with a one-use invitation", ok)
	}
}

// TestInviteExpired: an expired invitation is refused.
func TestInviteExpired(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, inviteRegistration)
	m := srv.Store().Map(invite.MapName)
	v := fmt.Sprintf(`{"uses":1,"expires":%q}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	if err := m.Set(context.Background(), "localhost", "expired-token-123", []byte(v)); err != nil {
		t.Fatal(err)
	}
	c, _ := secureConn(t, srv)
	if r := c.IQ(preauthIQ("p", "expired-token-123")); r.Get("type") != "error" || !strings.Contains(r.String(), "item-not-found") {
		t.Fatalf("expired token: %s", r)
	}
}

package server_test

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/sasl"
	"hearth/stanza"
	"hearth/xmpptest"
)

// This file tests XEP-0484 FAST, XEP-0494 client management and the
// XEP-0480 SCRAM upgrade task over real sockets.

// requestToken logs user in with SCRAM-SHA-256 as client agent and asks
// for a FAST token for mech; it returns the token and the connection.
func requestToken(t *testing.T, srv *xmpptest.Server, user, password, agent, mech string) (string, *xmpptest.Conn) {
	t.Helper()
	c, _ := dialSASL2(t, srv)
	res := authSCRAM2(t, c, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", user, password).NewConversation(),
		userAgent(agent)+"<request-token xmlns='urn:xmpp:fast:0' mechanism='"+mech+"'/>"+
			"<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>")
	wantSuccess(t, res.el)
	tok := res.el.Child(nsFAST, "token")
	if tok == nil || len(tok.Get("token")) < 64 {
		t.Fatalf("no token in %s", res.el)
	}
	exp, err := time.Parse(time.RFC3339, tok.Get("expiry"))
	if err != nil || !exp.After(time.Now()) {
		t.Fatalf("bad expiry in %s", tok)
	}
	return tok.Get("token"), c
}

// cbFunc returns the channel binding data a client sends for a connection.
type cbFunc func(t *testing.T, c *xmpptest.Conn) []byte

func noCB(*testing.T, *xmpptest.Conn) []byte { return nil }

func endPointOf(t *testing.T, c *xmpptest.Conn) []byte {
	t.Helper()
	cs := c.TLSState()
	cb, err := scram.NewTLSServerEndpointBinding(&cs)
	if err != nil {
		t.Fatal(err)
	}
	return cb.Data
}

// fastLogin authenticates with a token; fast is XML for <fast/>'s
// attributes and extra more XML for <authenticate/>. On success the
// server's HT answer is checked.
func fastLogin(t *testing.T, srv *xmpptest.Server, user, token, agent, mech string, cb cbFunc, fast, extra string) (*stanza.Element, *xmpptest.Conn) {
	t.Helper()
	c, _ := dialSASL2(t, srv)
	data := cb(t, c)
	c.Send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mech + "'><initial-response>" + htProof(user, token, data) +
		"</initial-response>" + userAgent(agent) + "<fast xmlns='urn:xmpp:fast:0' " + fast + "/>" + extra + "</authenticate>")
	el := c.Next()
	if el.Name.Local == "success" {
		got, _ := base64.StdEncoding.DecodeString(el.ChildText(nsSASL2, "additional-data"))
		if !bytes.Equal(got, htResponder(token, data)) {
			t.Fatalf("server's HT answer does not prove it knows the token")
		}
	}
	return el, c
}

// TestFASTToken issues tokens for each mechanism and logs in with them,
// binding inline: one round trip from <authenticate/> to a bound session.
// A token only works with its mechanism and its connection's binding.
func TestFASTToken(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	for _, tc := range []struct {
		mech string
		cb   cbFunc
	}{
		{"HT-SHA-256-NONE", noCB},
		{"HT-SHA-256-EXPR", exporterOf},
		{"HT-SHA-256-ENDP", endPointOf},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			t.Parallel()
			agent := "agent-" + tc.mech
			token, _ := requestToken(t, srv, "alice", "correct horse", agent, tc.mech)
			el, c := fastLogin(t, srv, "alice", token, agent, tc.mech, tc.cb, "", "<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>")
			wantSuccess(t, el)
			if el.Child(nsBind2, "bound") == nil {
				t.Fatalf("FAST login did not bind: %s", el)
			}
			if r := c.IQ("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Get("type") != "result" {
				t.Fatalf("ping after FAST: %s", r)
			}
			// Another client (user-agent id) cannot use the token.
			el, _ = fastLogin(t, srv, "alice", token, "someone-else", tc.mech, tc.cb, "", "")
			wantFailure(t, el, "not-authorized")
			// A wrong token fails.
			el, _ = fastLogin(t, srv, "alice", token+"x", agent, tc.mech, tc.cb, "", "")
			wantFailure(t, el, "not-authorized")
			if tc.mech == "HT-SHA-256-NONE" {
				return
			}
			// Channel binding data of another connection: mismatch.
			el, _ = fastLogin(t, srv, "alice", token, agent, tc.mech,
				func(*testing.T, *xmpptest.Conn) []byte { return bytes.Repeat([]byte{7}, 32) }, "", "")
			wantFailure(t, el, "not-authorized")
			// A channel-bound token used without binding: refused.
			el, _ = fastLogin(t, srv, "alice", token, agent, "HT-SHA-256-NONE", noCB, "", "")
			wantFailure(t, el, "not-authorized")
		})
	}
}

// TestFASTReplayAndInvalidate checks the count rule (a count not above
// the last one seen is a replay) and explicit invalidation.
func TestFASTReplayAndInvalidate(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	const agent, mech = "agent-replay", "HT-SHA-256-EXPR"
	token, _ := requestToken(t, srv, "alice", "correct horse", agent, mech)
	el, _ := fastLogin(t, srv, "alice", token, agent, mech, exporterOf, "count='1'", "")
	wantSuccess(t, el)
	el, _ = fastLogin(t, srv, "alice", token, agent, mech, exporterOf, "count='1'", "")
	wantFailure(t, el, "not-authorized")
	el, _ = fastLogin(t, srv, "alice", token, agent, mech, exporterOf, "count='2'", "")
	wantSuccess(t, el)
	el, _ = fastLogin(t, srv, "alice", token, agent, mech, exporterOf, "count='3' invalidate='true'", "")
	wantSuccess(t, el)
	if el.Child(nsFAST, "token") != nil {
		t.Errorf("a token was issued on invalidation: %s", el)
	}
	el, _ = fastLogin(t, srv, "alice", token, agent, mech, exporterOf, "count='4'", "")
	wantFailure(t, el, "not-authorized")
}

// TestFASTRotation rotates a token close to expiry: the new one comes in
// <success/>, the old one keeps working until the new one is used.
func TestFASTRotation(t *testing.T) {
	t.Parallel()
	// Every token is due for rotation as soon as it is issued.
	srv := xmpptest.NewServer(t, "[fast]\ntoken_lifetime = 3600\nrotate_before = 3600\n")
	srv.AddUser(t, "alice", "correct horse")
	const agent, mech = "agent-rotation", "HT-SHA-256-NONE"
	old, _ := requestToken(t, srv, "alice", "correct horse", agent, mech)
	el, _ := fastLogin(t, srv, "alice", old, agent, mech, noCB, "", "")
	wantSuccess(t, el)
	tok := el.Child(nsFAST, "token")
	if tok == nil {
		t.Fatalf("no rotated token: %s", el)
	}
	fresh := tok.Get("token")
	// The client may not have received the new token: the old one works.
	el, _ = fastLogin(t, srv, "alice", old, agent, mech, noCB, "", "")
	wantSuccess(t, el)
	if el.Child(nsFAST, "token") != nil {
		t.Errorf("rotated again while a newer token is pending: %s", el)
	}
	el, _ = fastLogin(t, srv, "alice", fresh, agent, mech, noCB, "", "")
	wantSuccess(t, el)
	// Using the new token invalidated the old one.
	el, _ = fastLogin(t, srv, "alice", old, agent, mech, noCB, "", "")
	wantFailure(t, el, "not-authorized")
}

// TestFASTExpiry refuses an expired token.
func TestFASTExpiry(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[fast]\ntoken_lifetime = 1\nrotate_before = 0\n")
	srv.AddUser(t, "alice", "correct horse")
	const agent, mech = "agent-expiry", "HT-SHA-256-NONE"
	token, _ := requestToken(t, srv, "alice", "correct horse", agent, mech)
	el, _ := fastLogin(t, srv, "alice", token, agent, mech, noCB, "", "")
	wantSuccess(t, el)
	time.Sleep(1100 * time.Millisecond) // past the one-second lifetime
	el, _ = fastLogin(t, srv, "alice", token, agent, mech, noCB, "", "")
	wantFailure(t, el, "not-authorized")
}

// TestFASTStoredHashed checks that the store holds no token, only its
// hash, and that the user-agent id is not the key either.
func TestFASTStoredHashed(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	const agent = "agent-stored-hashed"
	token, _ := requestToken(t, srv, "alice", "correct horse", agent, "HT-SHA-256-NONE")
	entries, err := srv.Store().Map("fast_clients").All(context.Background(), "alice@"+srv.Domain)
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %v, %v", entries, err)
	}
	if bytes.Contains(entries[0].Value, []byte(token)) || entries[0].Key == agent ||
		bytes.Contains(entries[0].Value, []byte(agent)) {
		t.Errorf("token or user-agent id stored in clear: %s = %s", entries[0].Key, entries[0].Value)
	}
	key := sasl.TokenKey(token)
	if !bytes.Contains(entries[0].Value, []byte(base64.StdEncoding.EncodeToString(key))) {
		t.Errorf("the token's hash is not what is stored: %s", entries[0].Value)
	}
}

// TestClientManagement lists the clients of an account and revokes one:
// its session ends and its token stops working. A client that used the
// password only cannot be revoked but by a password change.
func TestClientManagement(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	const agent, mech = "agent-managed", "HT-SHA-256-NONE"
	token, phone := requestToken(t, srv, "alice", "correct horse", agent, mech)
	desktop := srv.LoginAvailable(t, "alice", "correct horse", "desktop") // RFC 6120 login, side by side

	list := desktop.IQ("<iq type='get' id='l1'><list xmlns='urn:xmpp:cam:0'/></iq>")
	clients := list.Child("urn:xmpp:cam:0", "clients")
	if list.Get("type") != "result" || clients == nil {
		t.Fatalf("list: %s", list)
	}
	var phoneID, desktopID string
	for _, c := range clients.Elements() {
		switch {
		case c.Child("", "auth").Child("", "fast") != nil:
			phoneID = c.Get("id")
			if c.Get("connected") != "true" || c.Child("", "user-agent").ChildText("", "software") != "hearth test" {
				t.Errorf("phone listed as %s", c)
			}
		case c.Get("connected") == "true":
			desktopID = c.Get("id")
		}
	}
	if phoneID == "" || desktopID == "" {
		t.Fatalf("clients missing from %s", clients)
	}
	r := desktop.IQ("<iq type='set' id='r1'><revoke xmlns='urn:xmpp:cam:0' id='" + desktopID + "'/></iq>")
	if r.Get("type") != "error" || r.Child("", "error").Child("urn:xmpp:cam:0", "password-reset-required") == nil {
		t.Errorf("revoking a password client: %s", r)
	}
	r = desktop.IQ("<iq type='set' id='r2'><revoke xmlns='urn:xmpp:cam:0' id='nonexistent'/></iq>")
	if r.Get("type") != "error" || r.Child("", "error").Child("", "item-not-found") == nil {
		t.Errorf("revoking an unknown client: %s", r)
	}
	r = desktop.IQ("<iq type='set' id='r3'><revoke xmlns='urn:xmpp:cam:0' id='" + phoneID + "'/></iq>")
	if r.Get("type") != "result" {
		t.Fatalf("revoke: %s", r)
	}
	els := phone.ReadToStreamEnd(xmpptest.Timeout)
	if len(els) == 0 || els[len(els)-1].Child("", "not-authorized") == nil {
		t.Errorf("revoked session not closed with not-authorized: %v", els)
	}
	el, _ := fastLogin(t, srv, "alice", token, agent, mech, noCB, "", "")
	wantFailure(t, el, "not-authorized")
	// Another account's session cannot list alice's clients.
	srv.AddUser(t, "mallory", "pw")
	m := srv.Login(t, "mallory", "pw", "x")
	if r := m.IQ("<iq type='get' id='l2' to='alice@" + srv.Domain + "'><list xmlns='urn:xmpp:cam:0'/></iq>"); r.Get("type") != "error" {
		t.Errorf("mallory listed alice's clients: %s", r)
	}
}

// TestSCRAMUpgrade upgrades an account imported with SCRAM-SHA-1 keys
// only to SCRAM-SHA-256 during a SASL2 login (XEP-0480).
func TestSCRAMUpgrade(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	creds, err := sasl.NewCredentials("old password", 4096)
	if err != nil {
		t.Fatal(err)
	}
	creds.SHA256 = sasl.SCRAMKey{} // as imported from Prosody
	if err := srv.Store().Accounts().Create(context.Background(), srv.Domain, "legacy", creds); err != nil {
		t.Fatal(err)
	}
	before := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	before.OpenStream()
	before.StartTLS()
	if f := before.Auth("SCRAM-SHA-256", "legacy", "old password"); f == nil {
		t.Fatalf("SCRAM-SHA-256 worked before the upgrade")
	}

	upgrade := "<upgrade xmlns='urn:xmpp:sasl:upgrade:0'>UPGR-SCRAM-SHA-256</upgrade>"
	c, _ := dialSASL2(t, srv)
	res := authSCRAM2(t, c, "SCRAM-SHA-1", newSCRAM(t, "SCRAM-SHA-1", "legacy", "old password").NewConversation(), upgrade)
	if res.el.Name.Local != "continue" || res.el.Child(nsSASL2, "tasks").ChildText(nsSASL2, "task") != "UPGR-SCRAM-SHA-256" {
		t.Fatalf("want <continue/> with the upgrade task, got %s", res.el)
	}
	c.Send("<next xmlns='urn:xmpp:sasl:2' task='UPGR-SCRAM-SHA-256'/>")
	data := c.Next()
	salt := data.Child("urn:xmpp:scram-upgrade:0", "salt")
	if data.Name.Local != "task-data" || salt == nil {
		t.Fatalf("want task-data with a salt, got %s", data)
	}
	saltBytes, err := base64.StdEncoding.DecodeString(salt.Text())
	if err != nil {
		t.Fatal(err)
	}
	iterations, _ := strconv.Atoi(salt.Get("iterations"))
	salted, err := pbkdf2.Key(sha256.New, "old password", saltBytes, iterations, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	c.Send("<task-data xmlns='urn:xmpp:sasl:2'><hash xmlns='urn:xmpp:scram-upgrade:0'>" +
		base64.StdEncoding.EncodeToString(salted) + "</hash></task-data>")
	el := c.Next()
	wantSuccess(t, el)
	if el.ChildText(nsSASL2, "authorization-identifier") != "legacy@"+srv.Domain {
		t.Errorf("success: %s", el)
	}
	// The new key works with the RFC 6120 profile too.
	srv.Login(t, "legacy", "old password", "after")
	// Nothing left to upgrade: the task is skipped.
	c2, _ := dialSASL2(t, srv)
	res = authSCRAM2(t, c2, "SCRAM-SHA-1", newSCRAM(t, "SCRAM-SHA-1", "legacy", "old password").NewConversation(), upgrade)
	wantSuccess(t, res.el)
}

// TestPasswordChangeRevokesTokens changes the password from one session:
// the other clients' tokens stop working and their sessions end, while
// the changing session goes on.
func TestPasswordChangeRevokesTokens(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	const agent, mech = "agent-password", "HT-SHA-256-NONE"
	token, phone := requestToken(t, srv, "alice", "correct horse", agent, mech)
	desktop := srv.Login(t, "alice", "correct horse", "desktop")
	r := desktop.IQ("<iq type='set' id='pw'><query xmlns='jabber:iq:register'><username>alice</username><password>new horse staple</password></query></iq>")
	if r.Get("type") != "result" {
		t.Fatalf("password change: %s", r)
	}
	els := phone.ReadToStreamEnd(xmpptest.Timeout)
	if len(els) == 0 || els[len(els)-1].Child("", "not-authorized") == nil {
		t.Errorf("other session not closed: %v", els)
	}
	el, _ := fastLogin(t, srv, "alice", token, agent, mech, noCB, "", "")
	wantFailure(t, el, "not-authorized")
	if r := desktop.IQ("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Get("type") != "result" {
		t.Errorf("the changing session was closed: %s", r)
	}
}

package server_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/xmpptest"
)

const (
	nsBOSH  = "http://jabber.org/protocol/httpbind"
	nsXBOSH = "urn:xmpp:xbosh"
)

// boshClient speaks XEP-0206 to the server, one request at a time unless
// a test starts one in a goroutine.
type boshClient struct {
	t   *testing.T
	url string
	sid string
	rid int
}

// post sends a body with the given extra attributes and payload and
// returns the parsed response body.
func (b *boshClient) post(attrs, payload string) *stanza.Element {
	b.t.Helper()
	el, err := b.postErr(attrs, payload)
	if err != nil {
		b.t.Fatal(err)
	}
	return el
}

func (b *boshClient) postErr(attrs, payload string) (*stanza.Element, error) {
	b.rid++
	body := fmt.Sprintf(`<body xmlns="%s" xmlns:xmpp="%s" rid="%d"`, nsBOSH, nsXBOSH, b.rid)
	if b.sid != "" {
		body += fmt.Sprintf(` sid="%s"`, b.sid)
	}
	body += " " + attrs + ">" + payload + "</body>"
	resp, err := insecureHTTP().Post(b.url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("POST: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST: %s: %s", resp.Status, buf.String())
	}
	el, err := stanza.NewDecoder(&buf, stanza.Limits{}).Next()
	if err != nil || el.Name.Space != nsBOSH || el.Name.Local != "body" {
		return nil, fmt.Errorf("response is not a BOSH body (%v): %s", err, buf.String())
	}
	return el, nil
}

// poll sends empty requests until one carries a child matching match.
func (b *boshClient) poll(what string, match func(*stanza.Element) bool) *stanza.Element {
	b.t.Helper()
	for range 5 {
		resp := b.post("", "")
		for _, c := range resp.Elements() {
			if match(c) {
				return c
			}
		}
		if resp.Get("type") == "terminate" {
			b.t.Fatalf("session terminated while waiting for %s: %s", what, resp)
		}
	}
	b.t.Fatalf("no %s", what)
	return nil
}

func boshLogin(t *testing.T, srv *xmpptest.Server, user, password, resource string) *boshClient {
	t.Helper()
	b := boshAuth(t, srv, user, password, 4000)
	resp := b.post("", `<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>`+resource+`</resource></bind></iq>`)
	if iq := resp.Child(stanza.NSClient, "iq"); iq == nil || iq.Get("type") != "result" {
		t.Fatalf("bind: %s", resp)
	}
	return b
}

// boshAuth creates a session, authenticates and restarts the stream.
func boshAuth(t *testing.T, srv *xmpptest.Server, user, password string, rid int) *boshClient {
	t.Helper()
	b := &boshClient{t: t, url: "https://" + srv.HTTPS + "/http-bind", rid: rid}
	resp := b.post(`to="localhost" xml:lang="en" wait="2" hold="1" ver="1.6" xmpp:version="1.0"`, "")
	b.sid = resp.Get("sid")
	if b.sid == "" || resp.Get("authid") == "" || resp.Get("requests") != "2" || resp.Get("wait") != "2" || resp.Get("from") != "localhost" {
		t.Fatalf("session creation response: %s", resp)
	}
	f := resp.Child(stanza.NSStream, "features")
	if f == nil || !strings.Contains(f.String(), ">PLAIN<") {
		t.Fatalf("no SASL features in the creation response: %s", resp)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	resp = b.post("", `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">`+plain+`</auth>`)
	if resp.Child("urn:ietf:params:xml:ns:xmpp-sasl", "success") == nil {
		t.Fatalf("auth: %s", resp)
	}
	resp = b.post(`xmpp:restart="true" to="localhost"`, "")
	if f := resp.Child(stanza.NSStream, "features"); f == nil || f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
		t.Fatalf("restart: %s", resp)
	}
	return b
}

func TestBOSHSession(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	alice := boshLogin(t, srv, "alice", "pw-alice-1", "web")

	resp := alice.post("", `<presence xmlns="jabber:client"/>`)
	if resp.Child(stanza.NSClient, "presence") == nil {
		alice.poll("own presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" })
	}
	alice.post("", `<message xmlns="jabber:client" to="bob@localhost" type="chat"><body>hi over BOSH</body></message>`)
	if got := bob.Expect("message from alice", isAnyMessage); got.ChildText("", "body") != "hi over BOSH" || got.Get("from") != "alice@localhost/web" {
		t.Errorf("bob got %s", got)
	}

	// A held request returns as soon as something arrives.
	held := make(chan *stanza.Element, 1)
	go func() {
		el, err := alice.postErr("", "")
		if err != nil {
			t.Error(err)
		}
		held <- el
	}()
	bob.Send("<message to='alice@localhost/web' type='chat'><body>hi &amp; welcome</body></message>")
	var m *stanza.Element
	if el := <-held; el != nil {
		m = el.Child(stanza.NSClient, "message")
	}
	if m == nil {
		m = alice.poll("message from bob", func(el *stanza.Element) bool { return el.Name.Local == "message" })
	}
	if m.ChildText(stanza.NSClient, "body") != "hi & welcome" {
		t.Errorf("alice got %s", m)
	}

	resp = alice.post(`type="terminate"`, `<presence xmlns="jabber:client" type="unavailable"/>`)
	if resp.Get("type") != "terminate" {
		t.Errorf("terminate: %s", resp)
	}
	// The session ends.
	full := jid.MustParse("alice@localhost/web")
	deadline := time.Now().Add(xmpptest.Timeout)
	for srv.Router().Session(full) != nil {
		if time.Now().After(deadline) {
			t.Fatal("session still bound after terminate")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp = alice.post("", "")
	if resp.Get("type") != "terminate" || resp.Get("condition") != "item-not-found" {
		t.Errorf("request after terminate: %s", resp)
	}
}

func TestBOSHRefusals(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)
	url := "https://" + srv.HTTPS + "/http-bind"

	resp, _ := doHTTP(t, "OPTIONS", url, nil, map[string]string{"Origin": "https://web.example", "Access-Control-Request-Method": "POST"})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %s %v", resp.Status, resp.Header)
	}
	if resp, _ := doHTTP(t, "POST", "http://"+srv.HTTP+"/http-bind", []byte("<body/>"), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("BOSH over plain http: %s", resp.Status)
	}
	for _, tc := range []struct{ body, condition string }{
		{`<body xmlns="` + nsBOSH + `" rid="1" sid="nope"/>`, "item-not-found"},
		{`<body xmlns="` + nsBOSH + `" to="localhost"/>`, "bad-request"},
		{`<notbody/>`, "bad-request"},
		{`<body xmlns="` + nsBOSH + `" rid="1"/>`, "improper-addressing"},
	} {
		_, got := doHTTP(t, "POST", url, []byte(tc.body), nil)
		el, err := stanza.NewDecoder(bytes.NewReader(got), stanza.Limits{}).Next()
		if err != nil || el.Get("type") != "terminate" || el.Get("condition") != tc.condition {
			t.Errorf("%s: %s, want terminate %s", tc.body, got, tc.condition)
		}
	}
	// An unknown host ends the session with the stream error inside.
	b := &boshClient{t: t, url: url, rid: 10}
	r := b.post(`to="elsewhere.example" wait="2" hold="1" xmpp:version="1.0"`, "")
	if r.Get("type") != "terminate" || r.Get("condition") != "remote-stream-error" || !strings.Contains(r.String(), "host-unknown") {
		t.Errorf("unknown host: %s", r)
	}
}

func TestBOSHRequestOrder(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	alice := boshLogin(t, srv, "alice", "pw-alice-1", "web")

	msg := func(body string) string {
		return `<message xmlns="jabber:client" to="bob@localhost" type="chat"><body>` + body + `</body></message>`
	}
	// The later request may reach the server first: it takes effect
	// after the earlier one all the same.
	first := alice.rid + 1
	done := make(chan error, 1)
	go func() {
		later := &boshClient{t: t, url: alice.url, sid: alice.sid, rid: first} // posts rid first+1
		_, err := later.postErr("", msg("second"))
		done <- err
	}()
	alice.post("", msg("first")) // rid first
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	alice.rid = first + 1
	if got := bodies(t, bob.Conn, 2); got[0] != "first" || got[1] != "second" {
		t.Errorf("bob got %v", got)
	}

	// A request sent again (the client lost the answer) is answered again
	// and not processed twice.
	r1 := alice.post("", msg("once"))
	alice.rid-- // the same rid again
	r2 := alice.post("", msg("once"))
	if r1.String() != r2.String() {
		t.Errorf("retransmission answered %s, first answer %s", r2, r1)
	}
	bodies(t, bob.Conn, 1)
	bob.ExpectNone("a second copy", isAnyMessage, 300*time.Millisecond)

	// A rid far ahead ends the session.
	alice.rid += 10
	if r := alice.post("", ""); r.Get("type") != "terminate" || r.Get("condition") != "item-not-found" {
		t.Errorf("rid out of window: %s", r)
	}
}

func TestBOSHInactivityAndResume(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML+"\n[http]\nbosh_inactivity = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	alice := boshLogin(t, srv, "alice", "pw-alice-1", "web")
	resp := alice.post("", `<enable xmlns="urn:xmpp:sm:3" resume="true"/>`)
	en := resp.Child("urn:xmpp:sm:3", "enabled")
	if en == nil {
		en = alice.poll("<enabled/>", func(el *stanza.Element) bool { return el.Name.Local == "enabled" })
	}
	if en.Get("id") == "" {
		t.Fatalf("enabled = %s", en)
	}

	// The client stops sending requests: after bosh_inactivity the session
	// counts as disconnected and waits to be resumed.
	full := jid.MustParse("alice@localhost/web")
	deadline := time.Now().Add(xmpptest.Timeout)
	for {
		s := srv.Router().Session(full)
		if s == nil {
			t.Fatal("the session was removed instead of waiting to be resumed")
		}
		if h, ok := s.(module.Hibernating); ok && h.Hibernating() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("session still connected after bosh_inactivity")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := alice.post("", ""); r.Get("type") != "terminate" {
		t.Errorf("request to the inactive session: %s", r)
	}
	bob.Send("<message to='alice@localhost/web' type='chat'><body>kept for you</body></message>")

	// A new BOSH session resumes it and gets what arrived meanwhile.
	again := boshAuth(t, srv, "alice", "pw-alice-1", 9000)
	resp = again.post("", `<resume xmlns="urn:xmpp:sm:3" previd="`+en.Get("id")+`" h="0"/>`)
	if resp.Child("urn:xmpp:sm:3", "resumed") == nil {
		t.Fatalf("expected <resumed/>, got %s", resp)
	}
	isKept := func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.ChildText(stanza.NSClient, "body") == "kept for you"
	}
	if !slices.ContainsFunc(resp.Elements(), isKept) {
		again.poll("the message kept for the session", isKept)
	}
}

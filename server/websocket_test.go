package server_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"hearth/stanza"
	"hearth/xmpptest"
)

const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// webTOML adds the web listeners to the test server's loopback ones.
const webTOML = `[listen]
c2s = ["127.0.0.1:0"]
c2s_tls = ["127.0.0.1:0"]
http = ["127.0.0.1:0"]
https = ["127.0.0.1:0"]
`

// insecureHTTP is an HTTP client that accepts the test server's
// self-signed certificate.
func insecureHTTP() *http.Client {
	return &http.Client{
		Timeout:   xmpptest.Timeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
}

// wsClient speaks RFC 7395 to the server: every message it reads must be
// one complete element that declares its own namespaces.
type wsClient struct {
	t       *testing.T
	c       *ws.Conn
	pending []*stanza.Element
}

func dialWS(t *testing.T, url string, subprotocols ...string) (*wsClient, *http.Response, error) {
	t.Helper()
	if subprotocols == nil {
		subprotocols = []string{"xmpp"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	c, resp, err := ws.Dial(ctx, url, &ws.DialOptions{HTTPClient: insecureHTTP(), Subprotocols: subprotocols})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}, resp, nil
}

func (w *wsClient) send(xml string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := w.c.Write(ctx, ws.MessageText, []byte(xml)); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

// read reads one message and parses it on its own.
func (w *wsClient) read(timeout time.Duration) (*stanza.Element, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, msg, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != ws.MessageText {
		return nil, fmt.Errorf("message of type %v", typ)
	}
	el, err := stanza.NewDecoder(strings.NewReader(string(msg)), stanza.Limits{}).Next()
	if err != nil {
		return nil, fmt.Errorf("message %q is not one element: %v", msg, err)
	}
	if el.Name.Space == "" {
		return nil, fmt.Errorf("message %q declares no namespace", msg)
	}
	return el, nil
}

func (w *wsClient) next() *stanza.Element {
	w.t.Helper()
	if len(w.pending) > 0 {
		el := w.pending[0]
		w.pending = w.pending[1:]
		return el
	}
	el, err := w.read(xmpptest.Timeout)
	if err != nil {
		w.t.Fatalf("websocket read: %v", err)
	}
	return el
}

func (w *wsClient) expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	w.t.Helper()
	for i, el := range w.pending {
		if match(el) {
			w.pending = append(w.pending[:i], w.pending[i+1:]...)
			return el
		}
	}
	deadline := time.Now().Add(xmpptest.Timeout)
	for time.Now().Before(deadline) {
		el, err := w.read(time.Until(deadline))
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(el) {
			return el
		}
		w.pending = append(w.pending, el)
	}
	w.t.Fatalf("no %s within %v", what, xmpptest.Timeout)
	return nil
}

func (w *wsClient) open(domain string) *stanza.Element {
	w.t.Helper()
	w.send(fmt.Sprintf(`<open xmlns="%s" to="%s" version="1.0" xml:lang="en"/>`, nsFraming, domain))
	open := w.next()
	if open.Name.Space != nsFraming || open.Name.Local != "open" || open.Get("from") != domain || open.Get("id") == "" || open.Get("version") != "1.0" {
		w.t.Fatalf("expected <open/> from %s, got %s", domain, open)
	}
	f := w.next()
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		w.t.Fatalf("expected stream features, got %s", f)
	}
	return f
}

// login authenticates with PLAIN (the WebSocket is wss) and restarts the
// stream; it returns the features offered after authentication.
func (w *wsClient) login(domain, user, password string) *stanza.Element {
	w.t.Helper()
	f := w.open(domain)
	if f.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") != nil {
		w.t.Fatalf("STARTTLS offered over WebSocket: %s", f)
	}
	msg := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	w.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">` + msg + `</auth>`)
	if el := w.next(); el.Name.Local != "success" {
		w.t.Fatalf("auth failed: %s", el)
	}
	return w.open(domain)
}

func (w *wsClient) bind(resource string) string {
	w.t.Helper()
	w.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>` + resource + `</resource></bind></iq>`)
	res := w.expect("bind result", func(el *stanza.Element) bool { return el.Get("id") == "b1" })
	if res.Name.Space != stanza.NSClient || res.Get("type") != "result" {
		w.t.Fatalf("bind: %s", res)
	}
	return res.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind").ChildText("urn:ietf:params:xml:ns:xmpp-bind", "jid")
}

func wsURL(srv *xmpptest.Server) string { return "wss://" + srv.HTTPS + "/xmpp-websocket" }

func TestWebSocketSession(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")

	alice, resp, err := dialWS(t, wsURL(srv))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "xmpp" {
		t.Errorf("subprotocol = %q, want xmpp", got)
	}
	feat := alice.login("localhost", "alice", "pw-alice-1")
	if feat.Child("urn:xmpp:sm:3", "sm") == nil {
		t.Errorf("no stream management feature over WebSocket: %s", feat)
	}
	if full := alice.bind("web"); full != "alice@localhost/web" {
		t.Fatalf("bound %q", full)
	}
	alice.send(`<presence xmlns="jabber:client"/>`)
	alice.expect("own presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" })

	alice.send(`<message xmlns="jabber:client" to="bob@localhost" type="chat"><body>hi over websocket</body></message>`)
	got := bob.Expect("message from alice", isAnyMessage)
	if got.ChildText("", "body") != "hi over websocket" || got.Get("from") != "alice@localhost/web" {
		t.Errorf("bob got %s", got)
	}
	bob.Send("<message to='alice@localhost/web' type='chat'><body>hi &amp; welcome</body></message>")
	m := alice.expect("message from bob", func(el *stanza.Element) bool { return el.Name.Local == "message" })
	if m.Name.Space != stanza.NSClient || m.ChildText(stanza.NSClient, "body") != "hi & welcome" {
		t.Errorf("alice got %s", m)
	}

	// Closing: our <close/> is answered with <close/>.
	alice.send(`<close xmlns="` + nsFraming + `"/>`)
	cl := alice.expect("<close/>", func(el *stanza.Element) bool { return el.Name.Local == "close" })
	if cl.Name.Space != nsFraming {
		t.Errorf("close = %s", cl)
	}
}

func TestWebSocketStreamManagementResume(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")

	alice, _, err := dialWS(t, wsURL(srv))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	alice.login("localhost", "alice", "pw-alice-1")
	alice.bind("web")
	alice.send(`<enable xmlns="urn:xmpp:sm:3" resume="true"/>`)
	en := alice.expect("<enabled/>", func(el *stanza.Element) bool { return el.Name.Local == "enabled" })
	if en.Name.Space != "urn:xmpp:sm:3" || en.Get("id") == "" {
		t.Fatalf("enabled = %s", en)
	}
	alice.send(`<presence xmlns="jabber:client"/>`)
	alice.expect("own presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" })

	// The browser tab dies: no <close/>, the TCP connection just ends.
	alice.c.CloseNow()
	bob.Send("<message to='alice@localhost/web' type='chat'><body>while you were away</body></message>")

	again, _, err := dialWS(t, wsURL(srv))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	again.login("localhost", "alice", "pw-alice-1")
	again.send(`<resume xmlns="urn:xmpp:sm:3" previd="` + en.Get("id") + `" h="0"/>`)
	res := again.next()
	if res.Name.Local != "resumed" || res.Name.Space != "urn:xmpp:sm:3" {
		t.Fatalf("expected <resumed/>, got %s", res)
	}
	m := again.expect("message kept for the session", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.ChildText(stanza.NSClient, "body") == "while you were away"
	})
	if m.Get("to") != "alice@localhost/web" {
		t.Errorf("resent message: %s", m)
	}
	// The resumed session is live: it sends, and bob receives.
	again.send(`<message xmlns="jabber:client" to="bob@localhost" type="chat"><body>back</body></message>`)
	if got := bob.Expect("message from alice", isAnyMessage); got.ChildText("", "body") != "back" {
		t.Errorf("bob got %s", got)
	}
}

func TestWebSocketRefusals(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)

	t.Run("no xmpp subprotocol", func(t *testing.T) {
		c, _, err := dialWS(t, wsURL(srv), "chat")
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		_, err = c.read(xmpptest.Timeout)
		if ws.CloseStatus(err) != ws.StatusPolicyViolation {
			t.Errorf("read = %v, want a policy-violation close", err)
		}
	})
	t.Run("plain http", func(t *testing.T) {
		_, resp, err := dialWS(t, "ws://"+srv.HTTP+"/xmpp-websocket")
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("dial over plain http: %v, %v; want 403", resp, err)
		}
	})
	t.Run("stanza before open", func(t *testing.T) {
		c, _, err := dialWS(t, wsURL(srv))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.send(`<message xmlns="jabber:client" to="localhost"/>`)
		var got []string
		for {
			el, err := c.read(xmpptest.Timeout)
			if err != nil {
				var ce ws.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("read: %v", err)
				}
				break
			}
			got = append(got, el.Name.Local)
		}
		if strings.Join(got, ",") != "open,error,close" {
			t.Errorf("server sent %v, want open,error,close", got)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		c, _, err := dialWS(t, wsURL(srv))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.send(`<open xmlns="` + nsFraming + `" to="elsewhere.example" version="1.0"/>`)
		c.next() // <open/>
		e := c.next()
		if e.Name.Local != "error" || e.Child("urn:ietf:params:xml:ns:xmpp-streams", "host-unknown") == nil {
			t.Errorf("expected host-unknown, got %s", e)
		}
		if cl := c.next(); cl.Name.Local != "close" {
			t.Errorf("expected <close/>, got %s", cl)
		}
	})
}

package server_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// componentConn is a raw XEP-0114 component for tests.
type componentConn struct {
	t   *testing.T
	nc  net.Conn
	dec *stanza.Decoder
}

// dialComponent connects to addr as domain and shakes hands with secret;
// it returns the connection and what the server answered the handshake
// with (<handshake/> or a stream error).
func dialComponent(t *testing.T, addr, domain, secret string) (*componentConn, *stanza.Element) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(xmpptest.Timeout))
	c := &componentConn{t: t, nc: nc, dec: stanza.NewDecoder(nc, stanza.Limits{})}
	c.write(fmt.Sprintf("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='%s'>", domain))
	h, err := c.dec.StreamStart()
	if err != nil {
		t.Fatalf("stream header: %v", err)
	}
	sum := sha1.Sum([]byte(h.ID + secret))
	c.write("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>")
	return c, c.next()
}

func (c *componentConn) write(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *componentConn) next() *stanza.Element {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	el, err := c.dec.Next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return el
}

func isStreamError(el *stanza.Element, condition string) bool {
	return el.Name.Space == stanza.NSStream && el.Name.Local == "error" && el.Child(stanza.NSStreams, condition) != nil
}

// TestComponent: an XEP-0114 component authenticates with its secret,
// receives the stanzas for its domain and sends stanzas from it; a wrong
// secret, a second connection and a foreign 'from' are refused, and
// stanzas for a disconnected component bounce.
func TestComponent(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `
[listen]
c2s = ["127.0.0.1:0"]
component = ["127.0.0.1:0"]
[components]
"gw.localhost" = "s3cret-gw"
`)
	addr := srv.Addrs("component")[0]
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")

	// Not connected yet: the stanza bounces.
	alice.Send("<message to='bob@gw.localhost' type='chat' id='c0'><body>x</body></message>")
	e := alice.Expect("bounce", func(el *stanza.Element) bool { return el.Get("id") == "c0" })
	if e.Get("type") != "error" || stanza.ParseError(e).Condition != "service-unavailable" {
		t.Errorf("to a disconnected component: %s", e)
	}

	if _, hs := dialComponent(t, addr, "gw.localhost", "wrong"); !isStreamError(hs, "not-authorized") {
		t.Errorf("wrong secret answered with %s", hs)
	}
	if _, hs := dialComponent(t, addr, "other.localhost", "s3cret-gw"); !isStreamError(hs, "host-unknown") {
		t.Errorf("unknown domain answered with %s", hs)
	}
	gw, hs := dialComponent(t, addr, "gw.localhost", "s3cret-gw")
	if hs.Name.Space != "jabber:component:accept" || hs.Name.Local != "handshake" {
		t.Fatalf("handshake answered with %s", hs)
	}
	if _, hs := dialComponent(t, addr, "gw.localhost", "s3cret-gw"); !isStreamError(hs, "conflict") {
		t.Errorf("second connection answered with %s", hs)
	}

	alice.Send("<message to='bob@gw.localhost' type='chat' id='c1'><body>to the gateway</body></message>")
	m := gw.next()
	if m.Name.Space != "jabber:component:accept" || m.Name.Local != "message" || m.Get("from") != "alice@localhost/laptop" || m.Get("to") != "bob@gw.localhost" || m.ChildText("jabber:component:accept", "body") != "to the gateway" {
		t.Errorf("component got %s", m)
	}
	gw.write("<message from='bob@gw.localhost/irc' to='alice@localhost/laptop' type='chat' id='c2'><body>from the gateway</body></message>")
	m = alice.Expect("the gateway's message", isMessageFrom("bob@gw.localhost/irc"))
	if m.ChildText(stanza.NSClient, "body") != "from the gateway" {
		t.Errorf("alice got %s", m)
	}
	// An IQ from a local user, answered by the component.
	alice.Send("<iq to='gw.localhost' type='get' id='c3'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	iq := gw.next()
	if iq.Name.Local != "iq" || iq.Get("id") != "c3" {
		t.Fatalf("component got %s", iq)
	}
	gw.write("<iq from='gw.localhost' to='alice@localhost/laptop' type='result' id='c3'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='gateway' type='irc'/></query></iq>")
	res := alice.Expect("disco result", func(el *stanza.Element) bool { return el.Get("id") == "c3" })
	if res.Get("type") != "result" || res.Get("from") != "gw.localhost" {
		t.Errorf("alice got %s", res)
	}

	gw.write("<message from='mallory@localhost/x' to='alice@localhost/laptop' type='chat'><body>spoof</body></message>")
	if el := gw.next(); !isStreamError(el, "invalid-from") {
		t.Errorf("spoofed from answered with %s", el)
	}
	alice.ExpectNone("a spoofed message", isMessageFrom("mallory@localhost/x"), 200*time.Millisecond)
}

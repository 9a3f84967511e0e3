package xmpptest

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/jid"
	"hearth/stanza"
)

// Timeout is how long a test client waits for an expected element.
var Timeout = 5 * time.Second

// Conn is a raw client connection: the test drives every step of the
// stream and reads what the server sends, element by element.
type Conn struct {
	t      testing.TB
	nc     net.Conn
	dec    *stanza.Decoder
	domain string

	Header stanza.StreamHeader // the server's last stream header

	mu      sync.Mutex
	pending []*stanza.Element // read but not yet consumed (by IQ)
	idSeq   int
}

// Dial connects to addr for domain without sending anything. With
// directTLS the connection is TLS from the first byte.
func Dial(t testing.TB, addr, domain string, directTLS bool) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	if directTLS {
		tc := tls.Client(nc, clientTLS(domain, "xmpp-client"))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("tls handshake: %v", err)
		}
		nc = tc
	}
	c := &Conn{t: t, nc: nc, dec: stanza.NewDecoder(nc, stanza.Limits{}), domain: domain}
	t.Cleanup(func() { nc.Close() })
	return c
}

func clientTLS(domain string, alpn ...string) *tls.Config {
	// The test server's certificates are self-signed.
	return &tls.Config{ServerName: domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, NextProtos: alpn}
}

// NetConn returns the underlying connection (to cut it in tests).
func (c *Conn) NetConn() net.Conn { return c.nc }

// Send writes raw XML.
func (c *Conn) Send(xml string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := c.nc.Write([]byte(xml)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// SendElement writes an element in the jabber:client namespace context.
func (c *Conn) SendElement(el *stanza.Element) {
	c.t.Helper()
	c.Send(string(stanza.Append(nil, el, stanza.NSClient)))
}

// OpenStream sends a stream header to the domain and reads the server's
// header and features.
func (c *Conn) OpenStream() *stanza.Element {
	c.t.Helper()
	c.Send(fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", c.domain))
	c.ReadHeader()
	f := c.Next()
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		c.t.Fatalf("expected stream features, got %s", f)
	}
	return f
}

// ReadHeader reads the server's stream header.
func (c *Conn) ReadHeader() stanza.StreamHeader {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(Timeout))
	h, err := c.dec.StreamStart()
	if err != nil {
		c.t.Fatalf("reading stream header: %v", err)
	}
	c.Header = h
	return h
}

// ReadElement reads the next element from the connection, returning the
// error instead of failing (for tests of stream ends and errors).
func (c *Conn) ReadElement(timeout time.Duration) (*stanza.Element, error) {
	c.mu.Lock()
	if len(c.pending) > 0 {
		el := c.pending[0]
		c.pending = c.pending[1:]
		c.mu.Unlock()
		return el, nil
	}
	c.mu.Unlock()
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	return c.dec.Next()
}

// Next returns the next element, failing the test after Timeout.
func (c *Conn) Next() *stanza.Element {
	c.t.Helper()
	el, err := c.ReadElement(Timeout)
	if err != nil {
		c.t.Fatalf("waiting for an element: %v", err)
	}
	return el
}

// Expect returns the next element that satisfies match; elements that do
// not are kept for later Next calls.
func (c *Conn) Expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	var skipped []*stanza.Element
	defer func() {
		c.mu.Lock()
		c.pending = append(skipped, c.pending...)
		c.mu.Unlock()
	}()
	deadline := time.Now().Add(Timeout)
	for {
		c.mu.Lock()
		if len(c.pending) > 0 {
			el := c.pending[0]
			c.pending = c.pending[1:]
			c.mu.Unlock()
			if match(el) {
				return el
			}
			skipped = append(skipped, el)
			continue
		}
		c.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			c.t.Fatalf("timed out waiting for %s; got meanwhile: %v", what, skipped)
		}
		c.nc.SetReadDeadline(time.Now().Add(left))
		el, err := c.dec.Next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v (got meanwhile: %v)", what, err, skipped)
		}
		if match(el) {
			return el
		}
		skipped = append(skipped, el)
	}
}

// ExpectNothing asserts that no element arrives within d.
func (c *Conn) ExpectNothing(d time.Duration) {
	c.t.Helper()
	c.mu.Lock()
	if len(c.pending) > 0 {
		el := c.pending[0]
		c.mu.Unlock()
		c.t.Fatalf("expected nothing, got %s", el)
	}
	c.mu.Unlock()
	el, err := c.ReadElement(d)
	if err == nil {
		c.t.Fatalf("expected nothing, got %s", el)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("expected nothing, got error %v", err)
	}
	// The timed-out read may have left the decoder mid-element only if
	// bytes arrived; none did, so it can be reused.
}

// ExpectNone reads for d and fails the test if an element satisfying
// match arrives; other elements are kept for later Next calls.
func (c *Conn) ExpectNone(what string, match func(*stanza.Element) bool, d time.Duration) {
	c.t.Helper()
	var kept []*stanza.Element
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.pending = append(kept, c.pending...)
		c.mu.Unlock()
	}()
	for _, el := range pending {
		if match(el) {
			c.t.Fatalf("expected no %s, got %s", what, el)
		}
		kept = append(kept, el)
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		c.nc.SetReadDeadline(time.Now().Add(left))
		el, err := c.dec.Next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			c.t.Fatalf("expecting no %s: %v", what, err)
		}
		if match(el) {
			c.t.Fatalf("expected no %s, got %s", what, el)
		}
		kept = append(kept, el)
	}
}

// StartTLS negotiates STARTTLS after features offered it and reopens the stream.
func (c *Conn) StartTLS() *stanza.Element {
	c.t.Helper()
	c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if el := c.Next(); el.Name.Local != "proceed" {
		c.t.Fatalf("expected <proceed/>, got %s", el)
	}
	tc := tls.Client(c.nc, clientTLS(c.domain))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("tls handshake: %v", err)
	}
	c.nc = tc
	c.dec.Reset(tc)
	return c.OpenStream()
}

// Auth runs SASL SCRAM-SHA-256 (or the named SCRAM mechanism, without
// channel binding) and reports the server's answer: nil on success, else
// the failure element.
func (c *Conn) Auth(mechanism, user, password string) *stanza.Element {
	c.t.Helper()
	hash := scram.SHA256
	if strings.HasPrefix(mechanism, "SCRAM-SHA-1") {
		hash = scram.SHA1
	}
	if mechanism == "PLAIN" {
		msg := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
		c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + msg + "</auth>")
		el := c.Next()
		if el.Name.Local == "success" {
			return nil
		}
		return el
	}
	client, err := hash.NewClient(user, password, "")
	if err != nil {
		c.t.Fatalf("scram client: %v", err)
	}
	return c.AuthSCRAM(mechanism, client.NewConversation())
}

// Bind binds resource ("" lets the server choose) and returns the full JID.
func (c *Conn) Bind(resource string) jid.JID {
	c.t.Helper()
	body := "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
	if resource != "" {
		body = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind>"
	}
	res := c.IQ("<iq type='set' id='bind1'>" + body + "</iq>")
	if res.Get("type") != "result" {
		c.t.Fatalf("bind failed: %s", res)
	}
	j, err := jid.Parse(res.Child("", "bind").ChildText("", "jid"))
	if err != nil {
		c.t.Fatalf("bind returned a bad JID: %s", res)
	}
	return j
}

// IQ sends an IQ (raw XML with an id attribute) and returns the reply with
// the same id; other elements read meanwhile stay queued for Next.
func (c *Conn) IQ(xml string) *stanza.Element {
	c.t.Helper()
	req, err := parseOne(xml)
	if err != nil {
		c.t.Fatalf("IQ: bad XML %q: %v", xml, err)
	}
	id := req.Get("id")
	c.Send(xml)
	return c.Expect("iq reply "+id, func(el *stanza.Element) bool {
		return el.Name.Local == "iq" && el.Get("id") == id && (el.Get("type") == "result" || el.Get("type") == "error")
	})
}

// NextID returns a fresh stanza id.
func (c *Conn) NextID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idSeq++
	return fmt.Sprintf("t%d", c.idSeq)
}

// Close sends the closing stream tag and closes the connection.
func (c *Conn) Close() {
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.nc.Write([]byte("</stream:stream>"))
	c.nc.Close()
}

func parseOne(xml string) (*stanza.Element, error) {
	d := stanza.NewDecoder(strings.NewReader(xml), stanza.Limits{})
	return d.Next()
}

// Client is a logged-in client session.
type Client struct {
	*Conn
	JID      jid.JID
	Features *stanza.Element // features offered after authentication
}

// Login connects over STARTTLS, authenticates with SCRAM-SHA-256 and binds
// resource. user is a localpart on s.Domain or a bare JID.
func (s *Server) Login(t testing.TB, user, password, resource string) *Client {
	t.Helper()
	if !strings.Contains(user, "@") {
		user += "@" + s.Domain
	}
	j, err := jid.Parse(user)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	c := Dial(t, s.C2S, j.Domain(), false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("SCRAM-SHA-256", j.Local(), password); f != nil {
		t.Fatalf("login %s failed: %s", j, f)
	}
	feat := c.OpenStream()
	full := c.Bind(resource)
	return &Client{Conn: c, JID: full, Features: feat}
}

// LoginAvailable logs in and sends initial presence, consuming the
// reflection of that presence to the client itself.
func (s *Server) LoginAvailable(t testing.TB, user, password, resource string) *Client {
	t.Helper()
	c := s.Login(t, user, password, resource)
	c.Send("<presence/>")
	c.Expect("own initial presence", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == c.JID.String()
	})
	return c
}

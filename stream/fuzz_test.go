package stream

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
)

// fuzzHost is a VHost (and, when login is set, a LoginHost) with one
// account, alice, password "secret", and one FAST token. Bound sessions
// echo every stanza back, so the write path runs too.
type fuzzHost struct {
	login bool
	creds sasl.Credentials
}

var fuzzCreds = sync.OnceValues(func() (sasl.Credentials, error) { return sasl.NewCredentials("secret", 1) })

const fuzzToken = "fuzz-token"

func (h *fuzzHost) Credentials(_ context.Context, user string) (sasl.Credentials, error) {
	if user != "alice" {
		return sasl.Credentials{}, sasl.ErrUnknownUser
	}
	return h.creds, nil
}

func (h *fuzzHost) PreAuthFeatures() []*stanza.Element {
	return []*stanza.Element{stanza.New("http://jabber.org/features/iq-register", "register")}
}

func (h *fuzzHost) StreamFeatures() []*stanza.Element {
	return []*stanza.Element{stanza.New(NSSM, "sm")}
}

func (h *fuzzHost) PreAuthIQ(_ context.Context, _ *Conn, iq *stanza.Element) *stanza.Element {
	if p := iq.FirstElement(); p != nil && p.Name.Space == "jabber:iq:register" {
		return stanza.ErrorReply(iq, stanza.NewError("not-allowed"))
	}
	return nil
}

func (h *fuzzHost) Bind(_ context.Context, c *Conn, bare jid.JID, resource string) (SessionHandler, jid.JID, error) {
	if resource == "" {
		resource = "generated"
	}
	full, err := bare.WithResource(resource)
	if err != nil {
		return nil, jid.JID{}, stanza.NewError("bad-request")
	}
	return &echoSession{c: c}, full, nil
}

func (h *fuzzHost) Resume(_ context.Context, c *Conn, bare jid.JID, previd string, _ uint32) (SessionHandler, jid.JID, uint32, error) {
	if previd != "good" {
		return nil, jid.JID{}, 0, stanza.NewError("item-not-found")
	}
	full, _ := bare.WithResource("resumed")
	return &echoSession{c: c}, full, 3, nil
}

// fuzzLoginHost adds the LoginHost methods to fuzzHost.
type fuzzLoginHost struct{ fuzzHost }

func (h *fuzzLoginHost) Bind2Features() []string { return []string{NSSM, "urn:xmpp:carbons:2"} }

func (h *fuzzLoginHost) Bind2(ctx context.Context, c *Conn, bare jid.JID, req *stanza.Element) (SessionHandler, jid.JID, []*stanza.Element, error) {
	sh, full, err := h.Bind(ctx, c, bare, req.ChildText(NSBind2, "tag"))
	if err != nil {
		return nil, jid.JID{}, nil, err
	}
	return sh, full, nil, nil
}

func (h *fuzzLoginHost) FAST() bool { return true }

func (h *fuzzLoginHost) TokenKeys(_ context.Context, bare jid.JID, _, _ string) ([][]byte, error) {
	if bare.Local() != "alice" {
		return nil, nil
	}
	return [][]byte{sasl.TokenKey(fuzzToken)}, nil
}

func (h *fuzzLoginHost) LoggedIn(_ context.Context, login *Login) (*Token, error) {
	if login.AgentID != "" {
		return &Token{Secret: "new-token", Expiry: time.Now().Add(time.Hour)}, nil
	}
	return nil, nil
}

func (h *fuzzLoginHost) UpgradeCredentials(context.Context, jid.JID, string, sasl.SCRAMKey) error {
	return nil
}

// echoSession sends every stanza back and answers <r/> with <a/>.
type echoSession struct {
	c *Conn
	n uint32
}

func (s *echoSession) HandleStanza(st *stanza.Element, _ jid.JID) { s.c.Send(st) }
func (s *echoSession) StanzaReceived()                            { s.n++ }
func (s *echoSession) Closed(error)                               {}
func (s *echoSession) HandleNonza(el *stanza.Element) error {
	switch el.Name.Local {
	case "r":
		s.c.Send(stanza.New(NSSM, "a", "h", "0"))
	case "enable", "a", "active", "inactive":
	default:
		return &stanza.StreamError{Condition: "unsupported-stanza-type"}
	}
	return nil
}

// Placeholders fuzz inputs may contain, replaced before sending: the
// fuzzer cannot compute base64 or MACs, and without them it would never
// get past authentication.
var (
	plainOK = base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret"))
	htOK    = base64.StdEncoding.EncodeToString(append([]byte("alice\x00"), htFuzzMAC()...))
)

// htFuzzMAC is the HT-SHA-256-NONE proof of fuzzToken: HMAC(key,
// "Initiator"), without channel binding data.
func htFuzzMAC() []byte {
	m := hmac.New(sha256.New, sasl.TokenKey(fuzzToken))
	m.Write([]byte("Initiator"))
	return m.Sum(nil)
}

var discardLog = slog.New(slog.DiscardHandler)

const fuzzHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>`

// FuzzC2S feeds arbitrary bytes to a client stream, as a client would
// send them, over an in-memory connection with a fake host. PLAINOK and
// HTOK in the input stand for the base64 of a right PLAIN and
// HT-SHA-256-NONE response. Whatever arrives, the stream must not panic
// and must end once the client has sent everything and hung up, without
// leaving goroutines behind.
func FuzzC2S(f *testing.F) {
	bound := fuzzHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>PLAINOK</auth>` + fuzzHeader +
		`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`
	for _, s := range []struct {
		secure, login bool
		data          string
	}{
		{true, false, bound + `<message to='bob@example.test' id='m'><body>hi</body></message><presence/>` +
			`<iq type='get' id='p' from='alice@example.test/r'><ping xmlns='urn:xmpp:ping'/></iq>` +
			`<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>` +
			`<enable xmlns='urn:xmpp:sm:3' resume='true'/><r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='1'/></stream:stream>`},
		{true, false, bound + `<message to='not@@valid' id='m'/><foo xmlns='urn:x'/>`},
		{true, false, bound + `<message from='mallory@example.test/x'/>`},
		{true, true, fuzzHeader + `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>PLAINOK</initial-response>` +
			`<user-agent id='d2f5e4a6-1111-2222-3333-444455556666'><software>fz</software><device>pc</device></user-agent>` +
			`<bind xmlns='urn:xmpp:bind:0'><tag>fz</tag><enable xmlns='urn:xmpp:sm:3'/></bind>` +
			`<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate><message to='a@b'/>`},
		{true, true, fuzzHeader + `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>HTOK</initial-response>` +
			`<user-agent id='d2f5e4a6-1111-2222-3333-444455556666'/><fast xmlns='urn:xmpp:fast:0' count='1'/></authenticate>` + fuzzHeader},
		{true, true, fuzzHeader + `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'><initial-response>biwsbj1hbGljZSxyPWFiYw==</initial-response>` +
			`<upgrade xmlns='urn:xmpp:sasl:upgrade:0'>UPGR-SCRAM-SHA-256</upgrade></authenticate><response xmlns='urn:xmpp:sasl:2'>Yz1iaXdzLHI9YWJj</response>`},
		{true, false, fuzzHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>PLAINOK</auth>` + fuzzHeader +
			`<resume xmlns='urn:xmpp:sm:3' previd='good' h='2'/><r xmlns='urn:xmpp:sm:3'/>`},
		{true, false, fuzzHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>PLAINOK</auth>` + fuzzHeader +
			`<resume xmlns='urn:xmpp:sm:3' previd='bad' h='x'/><enable xmlns='urn:xmpp:sm:3'/><iq type='get' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`},
		{false, false, fuzzHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1hbGljZSxyPWFiYw==</auth><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdzLHI9YWJj</response>` +
			`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X'/>`},
		{false, false, fuzzHeader + `<iq type='get' id='r'><query xmlns='jabber:iq:register'/></iq><iq type='get' id='r'><query xmlns='urn:x'/></iq>`},
		{true, false, fuzzHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHdyb25n</auth><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!</auth><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>=</auth>`},
		{false, false, `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>`},
		{false, false, `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='other.test' version='2.1' xml:lang='de' from='a@b'>`},
		{false, false, "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"},
		{false, false, "\x00\xff\xfe garbage"},
		{false, false, ""},
	} {
		f.Add(s.secure, s.login, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, secure, login bool, data []byte) {
		data = bytes.ReplaceAll(data, []byte("PLAINOK"), []byte(plainOK))
		data = bytes.ReplaceAll(data, []byte("HTOK"), []byte(htOK))
		runC2S(t, secure, login, data)
	})
}

// runC2S serves one stream that reads data and then the end of the
// connection, and fails t unless it ends within a few seconds. It returns
// what the server wrote.
func runC2S(t *testing.T, secure, login bool, data []byte) string {
	t.Helper()
	creds, err := fuzzCreds()
	if err != nil {
		t.Fatal(err)
	}
	var host VHost = &fuzzHost{creds: creds}
	if login {
		host = &fuzzLoginHost{fuzzHost{creds: creds, login: true}}
	}
	conn := &scriptConn{in: bytes.NewReader(data)}
	cfg := C2SConfig{
		Host: func(domain string) VHost {
			if domain == "example.test" {
				return host
			}
			return nil
		},
		// A connection that claims TLS without a tls.Conn: the
		// mechanisms that need TLS are offered, without channel binding.
		DirectTLS:          secure,
		Limits:             stanza.Limits{MaxStanzaBytes: 4096, MaxDepth: 16, MaxAttrs: 16},
		MaxQueueBytes:      64 << 10,
		NegotiationTimeout: 5 * time.Second,
		WriteTimeout:       time.Second,
		SCRAMIterations:    1,
		Log:                discardLog,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ServeC2S(context.Background(), conn, cfg)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("stream did not end after the client hung up; input %q\n%s", data, buf[:runtime.Stack(buf, true)])
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	return conn.out.String()
}

// scriptConn is a connection whose peer sent in and then closed its
// sending side (a TCP half-close): reads return in, then io.EOF, and
// writes are collected. Deadlines are accepted and ignored, as nothing
// blocks.
type scriptConn struct {
	mu     sync.Mutex
	in     *bytes.Reader
	out    bytes.Buffer
	closed bool
}

func (c *scriptConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.in.Read(b)
}

func (c *scriptConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(b)
}

func (c *scriptConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *scriptConn) LocalAddr() net.Addr              { return scriptAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return scriptAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

type scriptAddr struct{}

func (scriptAddr) Network() string { return "tcp" }
func (scriptAddr) String() string  { return "192.0.2.1:5222" }

// TestFuzzC2SReachesBinding checks that the fuzz harness gets through
// authentication and binding, in both profiles, so the fuzzer explores
// the bound stream too.
func TestFuzzC2SReachesBinding(t *testing.T) {
	bound := fuzzHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + plainOK + `</auth>` + fuzzHeader +
		`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>` +
		`<message to='bob@example.test' id='echo'/>`
	if out := runC2S(t, true, false, []byte(bound)); !strings.Contains(out, "alice@example.test/r") || !strings.Contains(out, "id=\"echo\"") {
		t.Errorf("RFC 6120 login: the server wrote %s", out)
	}
	fast := fuzzHeader + `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>` + htOK + `</initial-response>` +
		`<user-agent id='d2f5e4a6-1111-2222-3333-444455556666'/><fast xmlns='urn:xmpp:fast:0'/><bind xmlns='urn:xmpp:bind:0'><tag>fz</tag></bind></authenticate><message to='bob@example.test' id='echo'/>`
	if out := runC2S(t, true, true, []byte(fast)); !strings.Contains(out, "<success") || !strings.Contains(out, "id=\"echo\"") {
		t.Errorf("FAST login: the server wrote %s", out)
	}
}

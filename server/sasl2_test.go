package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/stanza"
	"hearth/xmpptest"
)

// This file tests XEP-0388 SASL2 and XEP-0386 Bind 2 over real sockets,
// with the client side written here and xdg-go/scram as an independent
// SCRAM implementation.

const (
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
	nsFAST  = "urn:xmpp:fast:0"
)

// dialSASL2 connects with STARTTLS and returns the features offered for
// authentication.
func dialSASL2(t *testing.T, srv *xmpptest.Server) (*xmpptest.Conn, *stanza.Element) {
	t.Helper()
	c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	c.OpenStream()
	return c, c.StartTLS()
}

// userAgent is the <user-agent/> of the test client with id.
func userAgent(id string) string {
	return "<user-agent id='" + id + "'><software>hearth test</software><device>test phone</device></user-agent>"
}

// sasl2Result is the end of a SASL2 exchange as the client saw it.
type sasl2Result struct {
	el          *stanza.Element // <success/>, <failure/> or <continue/>
	serverFirst string          // SCRAM server-first-message
}

// authSCRAM2 runs a SASL2 SCRAM exchange with conv; extra is XML added
// inside <authenticate/> (user-agent, bind, resume...). On success the
// server's signature in <additional-data/> is checked.
func authSCRAM2(t *testing.T, c *xmpptest.Conn, mech string, conv *scram.ClientConversation, extra string) sasl2Result {
	t.Helper()
	first, err := conv.Step("")
	if err != nil {
		t.Fatalf("scram: %v", err)
	}
	c.Send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mech + "'><initial-response>" +
		base64.StdEncoding.EncodeToString([]byte(first)) + "</initial-response>" + extra + "</authenticate>")
	var res sasl2Result
	for {
		el := c.Next()
		switch el.Name.Local {
		case "challenge":
			data, _ := base64.StdEncoding.DecodeString(el.Text())
			res.serverFirst = string(data)
			resp, err := conv.Step(string(data))
			if err != nil {
				t.Fatalf("scram step: %v", err)
			}
			c.Send("<response xmlns='urn:xmpp:sasl:2'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>")
		case "success", "continue":
			if el.Name.Space != nsSASL2 {
				t.Fatalf("success in namespace %q", el.Name.Space)
			}
			data, _ := base64.StdEncoding.DecodeString(el.ChildText(nsSASL2, "additional-data"))
			if _, err := conv.Step(string(data)); err != nil {
				t.Fatalf("server signature rejected: %v", err)
			}
			res.el = el
			return res
		default:
			res.el = el
			return res
		}
	}
}

func newSCRAM(t *testing.T, mech, user, password string) *scram.Client {
	t.Helper()
	hash := scram.SHA256
	if strings.HasPrefix(mech, "SCRAM-SHA-1") {
		hash = scram.SHA1
	}
	cl, err := hash.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func wantSuccess(t *testing.T, el *stanza.Element) {
	t.Helper()
	if el.Name.Space != nsSASL2 || el.Name.Local != "success" {
		t.Fatalf("want SASL2 success, got %s", el)
	}
}

func wantFailure(t *testing.T, el *stanza.Element, condition string) {
	t.Helper()
	if el.Name.Space != nsSASL2 || el.Name.Local != "failure" || el.Child(nsSASL, condition) == nil {
		t.Fatalf("want SASL2 failure %s, got %s", condition, el)
	}
}

// TestSASL2Features checks what is offered: the <authentication/>
// feature with the same mechanisms as RFC 6120 SASL, its inline features
// (Bind 2 with its own inline features, stream management, FAST) and the
// SCRAM-SHA-256 upgrade task.
func TestSASL2Features(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	_, f := dialSASL2(t, srv)
	auth := f.Child(nsSASL2, "authentication")
	if auth == nil {
		t.Fatalf("no SASL2 feature: %s", f)
	}
	var sasl1, sasl2 []string
	for _, m := range f.Child(nsSASL, "mechanisms").Elements() {
		sasl1 = append(sasl1, m.Text())
	}
	for _, m := range auth.Elements() {
		if m.Name.Local == "mechanism" {
			sasl2 = append(sasl2, m.Text())
		}
	}
	if !slices.Equal(sasl1, sasl2) || !slices.Contains(sasl2, "SCRAM-SHA-256-PLUS") {
		t.Errorf("SASL2 mechanisms %v, SASL %v", sasl2, sasl1)
	}
	inline := auth.Child(nsSASL2, "inline")
	if inline == nil || inline.Child(nsSM, "sm") == nil {
		t.Fatalf("no inline stream management: %s", auth)
	}
	bind := inline.Child(nsBind2, "bind")
	if bind == nil {
		t.Fatalf("no Bind 2: %s", auth)
	}
	var vars []string
	for _, fe := range bind.Child(nsBind2, "inline").Elements() {
		vars = append(vars, fe.Get("var"))
	}
	for _, want := range []string{"urn:xmpp:carbons:2", "urn:xmpp:csi:0", nsSM} {
		if !slices.Contains(vars, want) {
			t.Errorf("Bind 2 inline features %v lack %s", vars, want)
		}
	}
	var fast []string
	for _, m := range inline.Child(nsFAST, "fast").Elements() {
		fast = append(fast, m.Text())
	}
	// TLS 1.3: no tls-unique, so no HT-SHA-256-UNIQ.
	if !slices.Equal(fast, []string{"HT-SHA-256-ENDP", "HT-SHA-256-EXPR", "HT-SHA-256-NONE"}) {
		t.Errorf("FAST mechanisms %v", fast)
	}
	if auth.ChildText("urn:xmpp:sasl:upgrade:0", "upgrade") != "UPGR-SCRAM-SHA-256" {
		t.Errorf("no upgrade task offered: %s", auth)
	}
}

// TestSASL2EveryMechanism authenticates with each mechanism through
// SASL2 without Bind 2: the features follow <success/> with no stream
// restart and RFC 6120 binding completes the login.
func TestSASL2EveryMechanism(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	for _, mech := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			c, _ := dialSASL2(t, srv)
			var el *stanza.Element
			switch {
			case mech == "PLAIN":
				c.Send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>" +
					base64.StdEncoding.EncodeToString([]byte("\x00alice\x00correct horse")) + "</initial-response></authenticate>")
				el = c.Next()
			case strings.HasSuffix(mech, "-PLUS"):
				cs := c.TLSState()
				cb, err := scram.NewTLSExporterBinding(&cs)
				if err != nil {
					t.Fatal(err)
				}
				el = authSCRAM2(t, c, mech, newSCRAM(t, mech, "alice", "correct horse").NewConversationWithChannelBinding(cb), "").el
			default:
				el = authSCRAM2(t, c, mech, newSCRAM(t, mech, "alice", "correct horse").NewConversation(), "").el
			}
			wantSuccess(t, el)
			if got := el.ChildText(nsSASL2, "authorization-identifier"); got != "alice@"+srv.Domain {
				t.Errorf("authorization-identifier %q", got)
			}
			f := c.Next()
			if f.Name.Local != "features" || f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
				t.Fatalf("want binding features without a restart, got %s", f)
			}
			// One resource per subtest: they run in parallel, and a second
			// bind of the same resource would replace the first (conflict).
			full := c.Bind(mech)
			if full.String() != "alice@"+srv.Domain+"/"+mech {
				t.Errorf("bound %s", full)
			}
			if r := c.IQ("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"); r.Get("type") != "result" {
				t.Errorf("roster after SASL2: %s", r)
			}
		})
	}
}

// TestSASL2Failures checks the failure conditions: a wrong password, a
// mechanism that was not offered, an abort, and traffic other than a
// response during the exchange (which ends the stream).
func TestSASL2Failures(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")

	c, _ := dialSASL2(t, srv)
	res := authSCRAM2(t, c, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "wrong").NewConversation(), "")
	wantFailure(t, res.el, "not-authorized")
	c.Send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='DIGEST-MD5'/>")
	wantFailure(t, c.Next(), "invalid-mechanism")
	c.Send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'/>")
	if el := c.Next(); el.Name.Local != "challenge" || el.Text() != "" {
		t.Fatalf("want an empty challenge without initial response, got %s", el)
	}
	c.Send("<abort xmlns='urn:xmpp:sasl:2'/>")
	wantFailure(t, c.Next(), "aborted")
	// After failures, a correct attempt still succeeds on the same stream.
	res = authSCRAM2(t, c, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "correct horse").NewConversation(), "")
	wantSuccess(t, res.el)

	c2, _ := dialSASL2(t, srv)
	c2.Send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'/>")
	c2.Next()
	c2.Send("<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>")
	els := c2.ReadToStreamEnd(xmpptest.Timeout)
	if len(els) == 0 || els[0].Name.Local != "error" {
		t.Fatalf("want a stream error for a stanza during authentication, got %v", els)
	}
}

// TestSASL2Bind2Inline logs in in one round trip after the SCRAM
// exchange: Bind 2 with stream management, carbons and an inactive
// state inline. The resource is the tag plus a suffix stable for the
// user-agent id.
func TestSASL2Bind2Inline(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	srv.AddUser(t, "bob", "battery staple")
	const agent = "d4565fa7-4d72-4749-b3d3-740edbf87770"
	bind := "<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag>" +
		"<enable xmlns='urn:xmpp:carbons:2'/><inactive xmlns='urn:xmpp:csi:0'/><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>"
	login := func() (*xmpptest.Conn, *stanza.Element) {
		c, _ := dialSASL2(t, srv)
		res := authSCRAM2(t, c, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "correct horse").NewConversation(), userAgent(agent)+bind)
		wantSuccess(t, res.el)
		return c, res.el
	}
	c, success := login()
	full := success.ChildText(nsSASL2, "authorization-identifier")
	if !strings.HasPrefix(full, "alice@"+srv.Domain+"/Phone.") {
		t.Fatalf("authorization-identifier %q is not the bound full JID", full)
	}
	bound := success.Child(nsBind2, "bound")
	if bound == nil {
		t.Fatalf("no <bound/>: %s", success)
	}
	enabled := bound.Child(nsSM, "enabled")
	if enabled == nil || enabled.Get("resume") != "true" || enabled.Get("id") == "" {
		t.Fatalf("no inline <enabled/>: %s", bound)
	}
	// The session is usable at once, with no features in between.
	if r := c.IQ("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Get("type") != "result" {
		t.Fatalf("ping: %s", r)
	}

	// Inactive: the presence of alice's other resource is held back...
	c.Send("<presence/>")
	other := srv.LoginAvailable(t, "alice", "correct horse", "desktop")
	isDesktopPresence := func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == other.JID.String()
	}
	c.ExpectNone("presence while inactive", isDesktopPresence, 300*time.Millisecond)
	// ...until something urgent comes: carbons are on, and a message
	// alice sends from the other resource is copied to this one, after
	// what was held.
	other.Send("<message to='bob@" + srv.Domain + "' type='chat' id='m1'><body>hi</body></message>")
	c.Expect("sent carbon", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Child("urn:xmpp:carbons:2", "sent") != nil
	})
	c.Expect("the held presence", isDesktopPresence)

	// The same client logging in again gets the same resource.
	c.NetConn().Close()
	_, success2 := login()
	if got := success2.ChildText(nsSASL2, "authorization-identifier"); got != full {
		t.Errorf("second login bound %q, first %q", got, full)
	}
}

// TestSASL2ResumeInline resumes a XEP-0198 session within the SASL2
// authentication: one round trip after the exchange, and the message
// that was not acknowledged comes again on the new connection.
func TestSASL2ResumeInline(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	srv.AddUser(t, "bob", "battery staple")
	const agent = "0b9a6c2e-2a7f-4d0e-9a53-3f2ad0b7e001"
	c, _ := dialSASL2(t, srv)
	res := authSCRAM2(t, c, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "correct horse").NewConversation(),
		userAgent(agent)+"<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>")
	wantSuccess(t, res.el)
	full := res.el.ChildText(nsSASL2, "authorization-identifier")
	previd := res.el.Child(nsBind2, "bound").Child(nsSM, "enabled").Get("id")
	c.Send("<presence/>")
	c.Expect("own presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" })

	bob := srv.LoginAvailable(t, "bob", "battery staple", "pc")
	bob.Send("<message to='" + full + "' type='chat' id='m1'><body>are you there?</body></message>")
	c.Expect("message", func(el *stanza.Element) bool { return el.Name.Local == "message" })
	c.NetConn().Close() // never acknowledged

	c2, _ := dialSASL2(t, srv)
	res = authSCRAM2(t, c2, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "correct horse").NewConversation(),
		userAgent(agent)+"<resume xmlns='urn:xmpp:sm:3' previd='"+previd+"' h='0'/>"+
			"<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>")
	wantSuccess(t, res.el)
	resumed := res.el.Child(nsSM, "resumed")
	if resumed == nil || resumed.Get("previd") != previd || resumed.Get("h") != "1" {
		t.Fatalf("want <resumed previd h=1/> (the presence), got %s", res.el)
	}
	if res.el.Child(nsBind2, "bound") != nil {
		t.Errorf("bound a new session although the old one was resumed: %s", res.el)
	}
	if got := res.el.ChildText(nsSASL2, "authorization-identifier"); got != full {
		t.Errorf("authorization-identifier %q, want the resumed %q", got, full)
	}
	c2.Expect("the unacknowledged message again", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.ChildText("", "body") == "are you there?"
	})

	// A resumption that fails falls back to the inline bind.
	c3, _ := dialSASL2(t, srv)
	res = authSCRAM2(t, c3, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "correct horse").NewConversation(),
		userAgent("another-device")+"<resume xmlns='urn:xmpp:sm:3' previd='nonexistent' h='0'/>"+
			"<bind xmlns='urn:xmpp:bind:0'><tag>Tablet</tag></bind>")
	wantSuccess(t, res.el)
	if f := res.el.Child(nsSM, "failed"); f == nil || f.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found") == nil {
		t.Errorf("want <failed><item-not-found/></failed>, got %s", res.el)
	}
	if res.el.Child(nsBind2, "bound") == nil {
		t.Errorf("no bind after a failed resumption: %s", res.el)
	}
}

// TestSASL2DowngradeProtection checks the XEP-0474 hash in the SCRAM
// server-first-message: it matches the mechanisms and channel binding
// types offered, so that a client detects a list stripped by an attacker.
func TestSASL2DowngradeProtection(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	c, f := dialSASL2(t, srv)
	var mechs, cbs []string
	for _, m := range f.Child(nsSASL2, "authentication").Elements() {
		if m.Name.Local == "mechanism" {
			mechs = append(mechs, m.Text())
		}
	}
	for _, cb := range f.Child("urn:xmpp:sasl-cb:0", "sasl-channel-binding").Elements() {
		cbs = append(cbs, cb.Get("type"))
	}
	res := authSCRAM2(t, c, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "correct horse").NewConversation(), "")
	wantSuccess(t, res.el)
	var h string
	for _, attr := range strings.Split(res.serverFirst, ",") {
		if v, ok := strings.CutPrefix(attr, "h="); ok {
			h = v
		}
	}
	if h == "" {
		t.Fatalf("no h attribute in %q", res.serverFirst)
	}
	if want := ssdp(mechs, cbs); h != want {
		t.Errorf("h=%s, want %s for %v %v", h, want, mechs, cbs)
	}
	// What a client that saw a list without -PLUS would compute.
	stripped := slices.DeleteFunc(slices.Clone(mechs), func(m string) bool { return strings.HasSuffix(m, "-PLUS") })
	if ssdp(stripped, cbs) == h {
		t.Errorf("a stripped mechanism list gives the same hash")
	}
	if ssdp(mechs, nil) == h {
		t.Errorf("a stripped channel binding list gives the same hash")
	}
}

// ssdp is XEP-0474's hash, as a client computes it.
func ssdp(mechs, cbs []string) string {
	mechs, cbs = slices.Sorted(slices.Values(mechs)), slices.Sorted(slices.Values(cbs))
	s := strings.Join(mechs, "\x1e")
	if cbs != nil {
		s += "\x1f" + strings.Join(cbs, "\x1e")
	}
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// htProof is the HT client's message for token and channel binding data.
func htProof(user, token string, cb []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Initiator"))
	m.Write(cb)
	return base64.StdEncoding.EncodeToString(append([]byte(user+"\x00"), m.Sum(nil)...))
}

func htResponder(token string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Responder"))
	m.Write(cb)
	return m.Sum(nil)
}

func exporterOf(t *testing.T, c *xmpptest.Conn) []byte {
	t.Helper()
	cs := c.TLSState()
	data, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSASL2RequestChecks refuses, before any exchange, what the request
// itself gets wrong.
func TestSASL2RequestChecks(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	plain := "<initial-response>" + base64.StdEncoding.EncodeToString([]byte("\x00alice\x00correct horse")) + "</initial-response>"
	for _, tc := range []struct{ name, xml, want string }{
		{"unknown upgrade", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>" + plain +
			"<upgrade xmlns='urn:xmpp:sasl:upgrade:0'>UPGR-SCRAM-SHA-512</upgrade></authenticate>", "invalid-mechanism"},
		{"token mechanism not offered", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>" + plain + userAgent("a") +
			"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-UNIQ'/></authenticate>", "invalid-mechanism"},
		{"token request without user-agent id", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>" + plain +
			"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>", "malformed-request"},
		{"FAST without user-agent id", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'>" + plain +
			"<fast xmlns='urn:xmpp:fast:0'/></authenticate>", "malformed-request"},
		{"huge user-agent id", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>" + plain +
			userAgent(strings.Repeat("x", 200)) + "</authenticate>", "malformed-request"},
		{"bad count", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'>" + plain + userAgent("a") +
			"<fast xmlns='urn:xmpp:fast:0' count='-1'/></authenticate>", "malformed-request"},
		{"bad base64", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>!!</initial-response></authenticate>", "incorrect-encoding"},
		{"authzid of another account", "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>" +
			base64.StdEncoding.EncodeToString([]byte("bob@"+srv.Domain+"\x00alice\x00correct horse")) + "</initial-response></authenticate>", "invalid-authzid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := dialSASL2(t, srv)
			c.Send(tc.xml)
			wantFailure(t, c.Next(), tc.want)
		})
	}
}

// TestSASL2StreamFrom checks a non-empty authorization identity against
// the 'from' of the stream header (XEP-0388 §3.4).
func TestSASL2StreamFrom(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	for _, tc := range []struct{ from, want string }{
		{"alice@" + srv.Domain, ""},
		{"bob@" + srv.Domain, "invalid-authzid"},
	} {
		c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
		c.OpenStream()
		c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		c.Next()
		if err := c.HandshakeTLS(nil); err != nil {
			t.Fatal(err)
		}
		c.Send("<?xml version='1.0'?><stream:stream from='" + tc.from + "' to='" + srv.Domain +
			"' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
		c.ReadHeader()
		c.Next() // features
		c.Send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>" +
			base64.StdEncoding.EncodeToString([]byte("alice@"+srv.Domain+"\x00alice\x00correct horse")) + "</initial-response></authenticate>")
		el := c.Next()
		if tc.want == "" {
			wantSuccess(t, el)
		} else {
			wantFailure(t, el, tc.want)
		}
	}
}

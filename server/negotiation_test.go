package server_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/jid"
	"hearth/stanza"
	"hearth/xmpptest"
)

// Namespaces of stream negotiation, spelled out here so that a wrong
// constant in the server cannot make a test agree with it.
const (
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsSASLCB  = "urn:xmpp:sasl-cb:0"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
)

const streamHeader = "<stream:stream to='%s' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

// secureConn connects to srv's STARTTLS listener, negotiates TLS and
// returns the connection with the features offered after TLS.
func secureConn(t *testing.T, srv *xmpptest.Server) (*xmpptest.Conn, *stanza.Element) {
	t.Helper()
	c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	c.OpenStream()
	return c, c.StartTLS()
}

// mechanisms returns the SASL mechanisms offered in features f.
func mechanisms(f *stanza.Element) []string {
	m := f.Child(nsSASL, "mechanisms")
	if m == nil {
		return nil
	}
	var out []string
	for _, el := range m.Elements() {
		out = append(out, el.Text())
	}
	return out
}

// bindingTypes returns the XEP-0440 channel binding types offered in f.
func bindingTypes(f *stanza.Element) []string {
	cb := f.Child(nsSASLCB, "sasl-channel-binding")
	if cb == nil {
		return nil
	}
	var out []string
	for _, el := range cb.Elements() {
		out = append(out, el.Get("type"))
	}
	return out
}

// failureCondition returns the condition of a SASL <failure/>, or a
// description of what el is instead.
func failureCondition(el *stanza.Element) string {
	if el == nil {
		return "(success)"
	}
	if el.Name.Space != nsSASL || el.Name.Local != "failure" {
		return "(not a failure: " + el.String() + ")"
	}
	for _, ch := range el.Elements() {
		if ch.Name.Local != "text" {
			return ch.Name.Local
		}
	}
	return "(no condition)"
}

// bindAfterAuth reopens the stream after SASL success and binds resource,
// failing the test unless the bound JID is user@localhost/resource.
func bindAfterAuth(t *testing.T, c *xmpptest.Conn, user, resource string) {
	t.Helper()
	c.OpenStream()
	if j := c.Bind(resource); j.String() != user+"@localhost/"+resource {
		t.Fatalf("bound %s, want %s@localhost/%s", j, user, resource)
	}
}

func ping(t *testing.T, c *xmpptest.Conn) {
	t.Helper()
	id := c.NextID()
	res := c.IQ("<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "result" {
		t.Fatalf("ping: %s", res)
	}
}

// otherConnExporter returns tls-exporter data of a second, unrelated TLS
// connection to srv: what a man in the middle would relay.
func otherConnExporter(t *testing.T, srv *xmpptest.Server) []byte {
	t.Helper()
	other, _ := secureConn(t, srv)
	cs := other.TLSState()
	data, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatalf("exporter: %v", err)
	}
	return data
}

// TestChannelBinding runs SCRAM-*-PLUS end to end with the binding data
// the client computes from its own view of the TLS connection (RFC 5802
// §6, RFC 9266, RFC 5929), and the attacks channel binding exists for.
func TestChannelBinding(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")

	exporter := func(t *testing.T, cs tls.ConnectionState) scram.ChannelBinding {
		t.Helper()
		cb, err := scram.NewTLSExporterBinding(&cs)
		if err != nil {
			t.Fatalf("tls-exporter: %v", err)
		}
		return cb
	}
	endPoint := func(t *testing.T, cs tls.ConnectionState) scram.ChannelBinding {
		t.Helper()
		cb, err := scram.NewTLSServerEndpointBinding(&cs)
		if err != nil {
			t.Fatalf("tls-server-end-point: %v", err)
		}
		return cb
	}
	tests := []struct {
		name       string
		mechanism  string
		maxVersion uint16 // 0: TLS 1.3
		directTLS  bool
		// conversation builds the client's side from its TLS state.
		conversation func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation
		want         string // failure condition, "" for success
		wantText     string // RFC 5802 server-error-value in <text/>, when checked
	}{
		{name: "sha-256 tls-exporter", mechanism: "SCRAM-SHA-256-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(exporter(t, cs))
			}},
		{name: "sha-1 tls-exporter", mechanism: "SCRAM-SHA-1-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(exporter(t, cs))
			}},
		{name: "sha-256 tls-server-end-point", mechanism: "SCRAM-SHA-256-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(endPoint(t, cs))
			}},
		{name: "sha-1 tls-server-end-point", mechanism: "SCRAM-SHA-1-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(endPoint(t, cs))
			}},
		{name: "tls 1.2 tls-exporter", mechanism: "SCRAM-SHA-256-PLUS", maxVersion: tls.VersionTLS12,
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(exporter(t, cs))
			}},
		{name: "tls 1.2 tls-server-end-point", mechanism: "SCRAM-SHA-1-PLUS", maxVersion: tls.VersionTLS12,
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(endPoint(t, cs))
			}},
		{name: "direct tls tls-exporter", mechanism: "SCRAM-SHA-256-PLUS", directTLS: true,
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(exporter(t, cs))
			}},
		{name: "direct tls tls-server-end-point", mechanism: "SCRAM-SHA-256-PLUS", directTLS: true,
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(endPoint(t, cs))
			}},
		{name: "downgrade: y flag while PLUS offered", mechanism: "SCRAM-SHA-256",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationAdvertisingChannelBinding()
			},
			want: "not-authorized", wantText: "server-does-support-channel-binding"},
		{name: "downgrade: y flag with sha-1", mechanism: "SCRAM-SHA-1",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationAdvertisingChannelBinding()
			},
			want: "not-authorized"},
		{name: "exporter of another connection", mechanism: "SCRAM-SHA-256-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(scram.ChannelBinding{Type: scram.ChannelBindingTLSExporter, Data: otherConnExporter(t, srv)})
			},
			want: "not-authorized", wantText: "channel-bindings-dont-match"},
		{name: "end-point hash of another certificate", mechanism: "SCRAM-SHA-256-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				other := sha256.Sum256([]byte("a certificate the server did not present"))
				return c.NewConversationWithChannelBinding(scram.ChannelBinding{Type: scram.ChannelBindingTLSServerEndpoint, Data: other[:]})
			},
			want: "not-authorized", wantText: "channel-bindings-dont-match"},
		{name: "end-point hash sent as tls-exporter", mechanism: "SCRAM-SHA-256-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				cb := endPoint(t, cs)
				cb.Type = scram.ChannelBindingTLSExporter
				return c.NewConversationWithChannelBinding(cb)
			},
			want: "not-authorized", wantText: "channel-bindings-dont-match"},
		{name: "tls-unique is not offered", mechanism: "SCRAM-SHA-256-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversationWithChannelBinding(scram.NewTLSUniqueBinding([]byte("0123456789ab")))
			},
			want: "not-authorized", wantText: "unsupported-channel-binding-type"},
		{name: "PLUS mechanism without binding", mechanism: "SCRAM-SHA-256-PLUS",
			conversation: func(t *testing.T, c *scram.Client, cs tls.ConnectionState) *scram.ClientConversation {
				return c.NewConversation()
			},
			want: "malformed-request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c *xmpptest.Conn
			var f *stanza.Element
			if tc.directTLS {
				c = xmpptest.Dial(t, srv.C2STLS, srv.Domain, true)
				f = c.OpenStream()
			} else {
				c = xmpptest.Dial(t, srv.C2S, srv.Domain, false)
				c.OpenStream()
				cfg := xmpptest.ClientTLS(srv.Domain)
				if tc.maxVersion != 0 {
					cfg.MaxVersion = tc.maxVersion
				}
				var err error
				if f, err = c.StartTLSConfig(cfg); err != nil {
					t.Fatalf("tls: %v", err)
				}
			}
			cs := c.TLSState()
			if want := cmp(tc.maxVersion, tls.VersionTLS13); cs.Version != want {
				t.Fatalf("negotiated TLS version %x, want %x", cs.Version, want)
			}
			if !slices.Contains(mechanisms(f), tc.mechanism) {
				t.Fatalf("%s not offered: %v", tc.mechanism, mechanisms(f))
			}
			hash := scram.SHA256
			if strings.HasPrefix(tc.mechanism, "SCRAM-SHA-1") {
				hash = scram.SHA1
			}
			client, err := hash.NewClient("alice", "correct horse", "")
			if err != nil {
				t.Fatal(err)
			}
			failure := c.AuthSCRAM(tc.mechanism, tc.conversation(t, client, cs))
			if got := failureCondition(failure); tc.want == "" && failure != nil || tc.want != "" && got != tc.want {
				t.Fatalf("auth: %s, want %q", got, tc.want)
			}
			if tc.wantText != "" {
				if got := failure.ChildText(nsSASL, "text"); got != tc.wantText {
					t.Errorf("failure text %q, want %q", got, tc.wantText)
				}
			}
			if tc.want == "" {
				bindAfterAuth(t, c, "alice", "cb")
			}
		})
	}
}

// cmp returns v, or def when v is zero.
func cmp(v, def uint16) uint16 {
	if v == 0 {
		return def
	}
	return v
}

// TestTLSVersions checks what each TLS version gets: 1.3 and 1.2 work and
// offer both channel binding types (tls-exporter on 1.2 only because the
// extended master secret, which Go clients always negotiate, makes it
// safe: RFC 9266 §3), and 1.0 and 1.1 are refused on both listeners.
func TestTLSVersions(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	tests := []struct {
		name       string
		min, max   uint16
		directTLS  bool
		wantRefuse bool
	}{
		{name: "starttls 1.3", min: tls.VersionTLS13, max: tls.VersionTLS13},
		{name: "starttls 1.2", min: tls.VersionTLS12, max: tls.VersionTLS12},
		{name: "starttls 1.1", min: tls.VersionTLS10, max: tls.VersionTLS11, wantRefuse: true},
		{name: "starttls 1.0", min: tls.VersionTLS10, max: tls.VersionTLS10, wantRefuse: true},
		{name: "direct 1.2", min: tls.VersionTLS12, max: tls.VersionTLS12, directTLS: true},
		{name: "direct 1.1", min: tls.VersionTLS10, max: tls.VersionTLS11, directTLS: true, wantRefuse: true},
		{name: "direct 1.0", min: tls.VersionTLS10, max: tls.VersionTLS10, directTLS: true, wantRefuse: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := xmpptest.ClientTLS(srv.Domain)
			cfg.MinVersion, cfg.MaxVersion = tc.min, tc.max
			var c *xmpptest.Conn
			var f *stanza.Element
			var err error
			if tc.directTLS {
				cfg.NextProtos = []string{"xmpp-client"}
				if c, err = xmpptest.DialTLSConfig(t, srv.C2STLS, srv.Domain, cfg); err == nil {
					f = c.OpenStream()
				}
			} else {
				c = xmpptest.Dial(t, srv.C2S, srv.Domain, false)
				c.OpenStream()
				f, err = c.StartTLSConfig(cfg)
			}
			if tc.wantRefuse {
				if err == nil {
					t.Fatalf("TLS version %x accepted", c.TLSState().Version)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			cs := c.TLSState()
			if cs.Version != tc.max {
				t.Fatalf("negotiated %x, want %x", cs.Version, tc.max)
			}
			if _, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err != nil {
				t.Fatalf("client cannot export keying material (no extended master secret?): %v", err)
			}
			if got := bindingTypes(f); !slices.Equal(got, []string{"tls-exporter", "tls-server-end-point"}) {
				t.Errorf("channel binding types %v, want [tls-exporter tls-server-end-point]", got)
			}
			if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
				t.Fatalf("auth: %s", f)
			}
			bindAfterAuth(t, c, "alice", "v")
		})
	}
}

// TestDirectTLSMechanisms checks that a direct TLS stream (XEP-0368) is
// treated as encrypted: PLAIN and the -PLUS mechanisms are offered, with
// both channel binding types.
func TestDirectTLSMechanisms(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	c := xmpptest.Dial(t, srv.C2STLS, srv.Domain, true)
	f := c.OpenStream()
	got := mechanisms(f)
	for _, want := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		if !slices.Contains(got, want) {
			t.Errorf("mechanisms %v lack %s", got, want)
		}
	}
	if got := bindingTypes(f); !slices.Equal(got, []string{"tls-exporter", "tls-server-end-point"}) {
		t.Errorf("channel binding types %v", got)
	}
}

// TestWhitespaceKeepalives sends white space (RFC 6120 §4.6.1) at every
// point a client's keepalive timer may fire: between negotiation steps,
// before a restarted stream's header, and between stanzas.
func TestWhitespaceKeepalives(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
	// Not before the first header: its XML declaration must come first
	// in the connection (XML 1.0 §2.8).
	c.OpenStream()
	c.Send("\n\t ")
	c.StartTLS()
	c.Send(" ")
	if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
		t.Fatalf("auth: %s", f)
	}
	// A keepalive right after <success/>, before the new stream header
	// and its XML declaration.
	c.Send(" ")
	c.OpenStream()
	c.Send("\r\n")
	c.Bind("ka")
	for range 3 {
		c.Send(" ")
		ping(t, c)
	}
}

// TestStreamClose covers both directions of closing a stream (RFC 6120
// §4.4): the side that receives </stream:stream> answers with its own and
// the TCP connection is then closed.
func TestStreamClose(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, "correct horse")
	}
	t.Run("client closes a bound stream", func(t *testing.T) {
		t.Parallel()
		c := srv.Login(t, "alice", "correct horse", "close1")
		c.Send("</stream:stream>")
		if got := c.ReadToStreamEnd(3 * time.Second); len(got) != 0 {
			t.Errorf("before the closing tag: %v", got)
		}
		c.ExpectConnClosed(time.Second)
		waitSessionGone(t, srv, c.JID)
	})
	t.Run("client closes during negotiation", func(t *testing.T) {
		t.Parallel()
		c, _ := secureConn(t, srv)
		c.Send("</stream:stream>")
		if got := c.ReadToStreamEnd(3 * time.Second); len(got) != 0 {
			t.Errorf("before the closing tag: %v", got)
		}
		c.ExpectConnClosed(time.Second)
	})
	t.Run("server closes, client answers", func(t *testing.T) {
		t.Parallel()
		c := srv.Login(t, "bob", "correct horse", "close2")
		srv.Router().CloseAccount(c.JID.Bare(), nil)
		c.ReadToStreamEnd(3 * time.Second)
		c.Send("</stream:stream>")
		// The server is waiting for exactly this: it closes at once, well
		// before its grace period for silent peers.
		c.ExpectConnClosed(time.Second)
		waitSessionGone(t, srv, c.JID)
	})
	t.Run("server closes, client silent", func(t *testing.T) {
		t.Parallel()
		c := srv.Login(t, "carol", "correct horse", "close3")
		srv.Router().CloseAccount(c.JID.Bare(), nil)
		c.ReadToStreamEnd(3 * time.Second)
		c.ExpectConnClosed(6 * time.Second)
		waitSessionGone(t, srv, c.JID)
	})
}

func waitSessionGone(t *testing.T, srv *xmpptest.Server, full jid.JID) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for srv.Router().Session(full) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("session %s still bound", full)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamHeader checks the response header: xml:lang echoed (RFC 6120
// §4.7.4), and the domain of a restarted stream (§4.3.3) kept.
func TestStreamHeader(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "hosts = [\"localhost\", \"example.net\"]")
	srv.AddUser(t, "alice", "correct horse")
	t.Run("xml:lang", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ name, attr, want string }{
			{"given", " xml:lang='de-CH'", "de-CH"},
			{"absent", "", "en"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := xmpptest.Dial(t, srv.C2S, "localhost", false)
				c.Send("<stream:stream to='localhost' version='1.0'" + tc.attr + " xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
				h := c.ReadHeader()
				if h.Lang != tc.want || h.From != "localhost" || h.ID == "" {
					t.Errorf("header %+v, want xml:lang %q from localhost", h, tc.want)
				}
			})
		}
	})
	tests := []struct {
		name     string
		afterTLS bool   // restart after STARTTLS rather than after SASL
		to       string // 'to' of the restarted stream
		want     string // stream error, "" for a working stream
	}{
		{name: "same domain after sasl", to: "localhost"},
		{name: "same domain other case after sasl", to: "LocalHost"},
		{name: "other served domain after sasl", to: "example.net", want: "host-unknown"},
		{name: "unknown domain after sasl", to: "elsewhere.example", want: "host-unknown"},
		{name: "same domain after tls", afterTLS: true, to: "localhost"},
		{name: "other served domain after tls", afterTLS: true, to: "example.net", want: "host-unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := xmpptest.Dial(t, srv.C2S, "localhost", false)
			c.OpenStream()
			if tc.afterTLS {
				c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
				if el := c.Next(); el.Name.Local != "proceed" {
					t.Fatalf("starttls: %s", el)
				}
				if err := c.HandshakeTLS(nil); err != nil {
					t.Fatalf("tls: %v", err)
				}
			} else {
				c.StartTLS()
				if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
					t.Fatalf("auth: %s", f)
				}
			}
			c.Send(fmt.Sprintf(streamHeader, tc.to))
			h := c.ReadHeader()
			if h.From != "localhost" {
				t.Errorf("restarted header from %q, want localhost", h.From)
			}
			if tc.want != "" {
				if got := streamErrorCondition(t, c); got != tc.want {
					t.Errorf("stream error %s, want %s", got, tc.want)
				}
				return
			}
			if f := c.Next(); f.Name.Local != "features" {
				t.Fatalf("expected features, got %s", f)
			}
		})
	}
}

// TestSessionAndBind covers the legacy session IQ (RFC 3921 §3, kept as
// <optional/> by draft-cridland-xmpp-session: clients still send it and
// must get a result, before or after binding) and binding errors (RFC
// 6120 §7).
func TestSessionAndBind(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	const session = "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>"
	// authed returns a stream after SASL, reopened, with its features.
	authed := func(t *testing.T) (*xmpptest.Conn, *stanza.Element) {
		t.Helper()
		c, _ := secureConn(t, srv)
		if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
			t.Fatalf("auth: %s", f)
		}
		return c, c.OpenStream()
	}
	t.Run("session feature is optional", func(t *testing.T) {
		t.Parallel()
		_, f := authed(t)
		s := f.Child(nsSession, "session")
		if s == nil || s.Child(nsSession, "optional") == nil {
			t.Errorf("features %s: want <session><optional/></session>", f)
		}
	})
	tests := []struct {
		name   string
		before []string // IQ payloads sent before binding, each must get a result
		after  []string // IQ payloads (with their 'to') sent after binding
	}{
		{name: "session before bind", before: []string{session}},
		{name: "session after bind", after: []string{"<iq type='set' id='%s'>" + session + "</iq>"}},
		{name: "session after bind to the domain", after: []string{"<iq type='set' id='%s' to='localhost'>" + session + "</iq>"}},
		{name: "session before and after", before: []string{session}, after: []string{"<iq type='set' id='%s'>" + session + "</iq>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := authed(t)
			for _, p := range tc.before {
				if res := c.IQ("<iq type='set' id='" + c.NextID() + "'>" + p + "</iq>"); res.Get("type") != "result" {
					t.Fatalf("before bind: %s", res)
				}
			}
			c.Bind(strings.ReplaceAll(tc.name, " ", "-"))
			for _, p := range tc.after {
				if res := c.IQ(fmt.Sprintf(p, c.NextID())); res.Get("type") != "result" {
					t.Fatalf("after bind: %s", res)
				}
			}
			ping(t, c)
		})
	}
	for _, tc := range []struct{ name, resource, want string }{
		{"too long", strings.Repeat("r", 1024), "bad-request"},
		{"bidi override", "a\u202eb", "bad-request"},
	} {
		t.Run("bind "+tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := authed(t)
			res := c.IQ("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + tc.resource + "</resource></bind></iq>")
			if res.Get("type") != "error" || errorCondition(res) != tc.want {
				t.Fatalf("bind %q: %s, want %s", tc.resource, res, tc.want)
			}
			// The stream may try again (RFC 6120 §7.6.2), with a resource
			// of its own: the subtests run side by side on one account.
			c.Bind("second-try-" + strings.ReplaceAll(tc.name, " ", "-"))
			ping(t, c)
		})
	}
	t.Run("bind twice", func(t *testing.T) {
		t.Parallel()
		c, _ := authed(t)
		first := c.Bind("one")
		res := c.IQ("<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>two</resource></bind></iq>")
		if res.Get("type") != "error" {
			t.Fatalf("second bind: %s, want an error", res)
		}
		if srv.Router().Session(jid.MustParse("alice@localhost/two")) != nil {
			t.Errorf("second bind created a session")
		}
		if srv.Router().Session(first) == nil {
			t.Errorf("first session gone")
		}
		ping(t, c)
	})
}

// TestLimits checks the [limits] settings end to end.
func TestLimits(t *testing.T) {
	t.Parallel()
	// Archiving and offline storage are off: these tests are about the
	// stream's limits, and a flood of storage writes would measure SQLite.
	srv := xmpptest.NewServer(t, "[limits]\nmax_stanza_size = 8192\nmax_queue_size = 65536\nnegotiation_timeout = 1\nbytes_per_second = 0\n[mam]\ndefault = \"never\"\n[offline]\nmax_messages = 0")
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		srv.AddUser(t, u, "correct horse")
	}
	big := "<message to='bob@localhost'><body>" + strings.Repeat("x", 9000) + "</body></message>"
	deep := "<message to='bob@localhost'>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</message>"
	for _, tc := range []struct {
		name  string
		bound bool // send after binding, else before authentication
		send  string
	}{
		{"stanza too large", true, big},
		{"stanza too large before auth", false, big},
		{"nesting too deep", true, deep},
		{"nesting too deep before auth", false, deep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c *xmpptest.Conn
			if tc.bound {
				c = srv.Login(t, "alice", "correct horse", strings.ReplaceAll(tc.name, " ", "-")).Conn
			} else {
				c, _ = secureConn(t, srv)
			}
			c.Send(tc.send)
			if got := streamErrorCondition(t, c); got != "policy-violation" {
				t.Errorf("stream error %s, want policy-violation", got)
			}
		})
	}
	t.Run("just below the size limit", func(t *testing.T) {
		t.Parallel()
		c := srv.Login(t, "alice", "correct horse", "fits")
		c.Send("<message to='alice@localhost/nowhere' id='m1'><body>" + strings.Repeat("x", 8000) + "</body></message>")
		ping(t, c.Conn)
	})
	t.Run("slow reader is cut, sender is not blocked", func(t *testing.T) {
		t.Parallel()
		victim := srv.Login(t, "carol", "correct horse", "never-reads")
		sender := srv.Login(t, "dave", "correct horse", "flood")
		// The sender reads what comes back (errors for the messages that
		// found no session once the victim was cut): only the victim is
		// a slow reader here.
		pings := make(chan *stanza.Element, 16)
		go func() {
			for {
				el, err := sender.ReadElement(30 * time.Second)
				if err != nil {
					close(pings)
					return
				}
				if el.Name.Local == "iq" {
					pings <- el
				}
			}
		}()
		ping := func(t *testing.T, _ *xmpptest.Conn) {
			t.Helper()
			id := sender.NextID()
			sender.Send("<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
			for {
				select {
				case el, ok := <-pings:
					if !ok {
						t.Fatalf("the sender's stream ended")
					}
					if el.Get("id") == id {
						return
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("no answer to the sender's ping: the sender is blocked")
				}
			}
		}
		// Headlines: once the victim is gone, those still in flight are
		// dropped (RFC 6121 §8.5.3.2.1) instead of bouncing 6 KB errors
		// back to the sender or filling storage.
		msg := "<message type='headline' to='" + victim.JID.String() + "'><body>" + strings.Repeat("y", 6000) + "</body></message>"
		// Far beyond what socket buffers hold: the queue must overflow.
		const maxBytes = 32 << 20
		for sent := 0; sent < maxBytes && srv.Router().Session(victim.JID) != nil; {
			start := time.Now()
			for range 50 {
				sender.Send(msg)
				sent += len(msg)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("sending 50 stanzas took %v: the sender is blocked", d)
			}
			time.Sleep(10 * time.Millisecond)
		}
		ping(t, sender.Conn)
		// The stream closes at once; the session ends when the
		// connection is cut after the grace periods.
		waitSessionGone(t, srv, victim.JID)
		ping(t, sender.Conn)
	})
	t.Run("negotiation timeout", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			setup func(t *testing.T) *xmpptest.Conn
		}{
			{"silent from the start", func(t *testing.T) *xmpptest.Conn {
				return xmpptest.Dial(t, srv.C2S, srv.Domain, false)
			}},
			{"silent after the header", func(t *testing.T) *xmpptest.Conn {
				c := xmpptest.Dial(t, srv.C2S, srv.Domain, false)
				c.OpenStream()
				return c
			}},
			{"silent after tls", func(t *testing.T) *xmpptest.Conn {
				c, _ := secureConn(t, srv)
				return c
			}},
			{"silent after sasl", func(t *testing.T) *xmpptest.Conn {
				c, _ := secureConn(t, srv)
				if f := c.Auth("SCRAM-SHA-256", "bob", "correct horse"); f != nil {
					t.Fatalf("auth: %s", f)
				}
				c.OpenStream()
				return c
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := tc.setup(t)
				start := time.Now()
				c.ExpectConnClosed(4 * time.Second)
				if d := time.Since(start); d < 300*time.Millisecond {
					t.Errorf("closed after %v, before the timeout", d)
				}
			})
		}
	})
	t.Run("bound session outlives the negotiation timeout", func(t *testing.T) {
		t.Parallel()
		c := srv.Login(t, "bob", "correct horse", "long")
		time.Sleep(1500 * time.Millisecond)
		ping(t, c.Conn)
	})
}

// plainAuth returns a PLAIN <auth/> with authzid, authcid and password.
func plainAuth(authzid, user, password string) string {
	msg := base64.StdEncoding.EncodeToString([]byte(authzid + "\x00" + user + "\x00" + password))
	return "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + msg + "</auth>"
}

// TestSASLExchanges covers RFC 6120 §6.4 details: abort, a new <auth/>
// replacing an unfinished one, an empty initial response ("="), and
// authorization identities.
func TestSASLExchanges(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nmax_auth_attempts = 1")
	srv.AddUser(t, "alice", "correct horse")
	srv.AddUser(t, "bob", "battery staple")
	scramFirst := func(t *testing.T, authzid string) (*scram.ClientConversation, string) {
		t.Helper()
		client, err := scram.SHA256.NewClient("alice", "correct horse", authzid)
		if err != nil {
			t.Fatal(err)
		}
		conv := client.NewConversation()
		first, err := conv.Step("")
		if err != nil {
			t.Fatal(err)
		}
		return conv, base64.StdEncoding.EncodeToString([]byte(first))
	}
	expect := func(t *testing.T, c *xmpptest.Conn, name string) *stanza.Element {
		t.Helper()
		el := c.Next()
		if el.Name.Space != nsSASL || el.Name.Local != name {
			t.Fatalf("got %s, want <%s/>", el, name)
		}
		return el
	}
	// finishSCRAM answers challenges of conv, starting with el, and
	// returns nil on success, else the failure.
	finishSCRAM := func(t *testing.T, c *xmpptest.Conn, conv *scram.ClientConversation, el *stanza.Element) *stanza.Element {
		t.Helper()
		for ; ; el = c.Next() {
			data, _ := base64.StdEncoding.DecodeString(el.Text())
			switch el.Name.Local {
			case "challenge":
				resp, err := conv.Step(string(data))
				if err != nil {
					t.Fatalf("scram: %v", err)
				}
				c.Send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>")
			case "success":
				if _, err := conv.Step(string(data)); err != nil {
					t.Fatalf("server signature: %v", err)
				}
				c.ResetDecoder()
				return nil
			default:
				return el
			}
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, c *xmpptest.Conn) string // returns the user to bind as, "" if none
	}{
		{"abort then retry", func(t *testing.T, c *xmpptest.Conn) string {
			// Aborts do not count as failed attempts (the limit is 1).
			for range 2 {
				_, first := scramFirst(t, "")
				c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + first + "</auth>")
				expect(t, c, "challenge")
				c.Send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
				if got := failureCondition(c.Next()); got != "aborted" {
					t.Fatalf("abort: %s, want aborted", got)
				}
			}
			if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
				t.Fatalf("auth after abort: %s", f)
			}
			return "alice"
		}},
		{"new auth replaces an unfinished exchange", func(t *testing.T, c *xmpptest.Conn) string {
			_, first := scramFirst(t, "")
			c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + first + "</auth>")
			expect(t, c, "challenge")
			c.Send(plainAuth("", "bob", "battery staple"))
			expect(t, c, "success")
			c.ResetDecoder()
			return "bob"
		}},
		{"plain without initial response", func(t *testing.T, c *xmpptest.Conn) string {
			c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>")
			expect(t, c, "challenge")
			c.Send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte("\x00alice\x00correct horse")) + "</response>")
			expect(t, c, "success")
			c.ResetDecoder()
			return "alice"
		}},
		{"scram with = initial response", func(t *testing.T, c *xmpptest.Conn) string {
			// COMPAT Smack sends "=" for a mechanism without initial
			// response; no mechanism here accepts an empty message, so
			// the server asks for the client's first message.
			conv, first := scramFirst(t, "")
			c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>=</auth>")
			expect(t, c, "challenge")
			c.Send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + first + "</response>")
			if f := finishSCRAM(t, c, conv, c.Next()); f != nil {
				t.Fatalf("auth: %s", f)
			}
			return "alice"
		}},
		{"plain authzid of the user", func(t *testing.T, c *xmpptest.Conn) string {
			c.Send(plainAuth("Alice@LocalHost", "alice", "correct horse"))
			expect(t, c, "success")
			c.ResetDecoder()
			return "alice"
		}},
		{"plain authzid of another user", func(t *testing.T, c *xmpptest.Conn) string {
			c.Send(plainAuth("bob@localhost", "alice", "correct horse"))
			if got := failureCondition(c.Next()); got != "invalid-authzid" {
				t.Fatalf("got %s, want invalid-authzid", got)
			}
			return ""
		}},
		{"scram authzid of the user", func(t *testing.T, c *xmpptest.Conn) string {
			conv, first := scramFirst(t, "alice@localhost")
			c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + first + "</auth>")
			if f := finishSCRAM(t, c, conv, c.Next()); f != nil {
				t.Fatalf("auth: %s", f)
			}
			return "alice"
		}},
		{"scram authzid of another user", func(t *testing.T, c *xmpptest.Conn) string {
			conv, first := scramFirst(t, "bob@localhost")
			c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + first + "</auth>")
			if got := failureCondition(finishSCRAM(t, c, conv, c.Next())); got != "invalid-authzid" {
				t.Fatalf("got %s, want invalid-authzid", got)
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := secureConn(t, srv)
			if user := tc.run(t, c); user != "" {
				bindAfterAuth(t, c, user, "sasl")
			}
		})
	}
}

// TestShutdownDuringNegotiation checks that streams still negotiating when
// the server stops are told <system-shutdown/> too, like bound ones.
func TestShutdownDuringNegotiation(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	c, _ := secureConn(t, srv)
	go srv.Shutdown()
	if got := streamErrorCondition(t, c); got != "system-shutdown" {
		t.Errorf("shutdown: %s, want system-shutdown", got)
	}
}

// TestStreamErrorsAfterBind checks the conditions of RFC 6120 §4.9.3 for
// what a bound client may send wrong.
func TestStreamErrorsAfterBind(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	srv.AddUser(t, "bob", "battery staple")
	tests := []struct {
		name string
		send string
		want string // stream error condition; "" means the stanza is accepted
	}{
		// §4.9.3.24: a first-level element the server does not understand,
		// by name or by namespace.
		{"unknown element", "<foo/>", "unsupported-stanza-type"},
		{"stanza in another namespace", "<message xmlns='urn:example:other' to='bob@localhost'><body>x</body></message>", "unsupported-stanza-type"},
		{"server namespace on a client stream", "<message xmlns='jabber:server' to='bob@localhost' from='alice@localhost/e'><body>x</body></message>", "unsupported-stanza-type"},
		{"negotiation element after bind", "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "unsupported-stanza-type"},
		{"sasl auth after bind", plainAuth("", "bob", "battery staple"), "unsupported-stanza-type"},
		// §4.9.3.9: 'from' other than the client's own JID.
		{"from another user", "<message from='bob@localhost/x' to='bob@localhost'><body>x</body></message>", "invalid-from"},
		{"from another resource", "<message from='alice@localhost/other' to='bob@localhost'><body>x</body></message>", "invalid-from"},
		{"from the domain", "<presence from='localhost'/>", "invalid-from"},
		{"from not a JID", "<message from='@@' to='bob@localhost'><body>x</body></message>", "invalid-from"},
		{"from own bare JID", "<message from='alice@localhost' to='bob@localhost'><body>x</body></message>", ""},
		{"from own full JID, other case", "<message from='ALICE@localhost/{res}' to='bob@localhost'><body>x</body></message>", ""},
		// §4.9.3.13: XML that breaks [XML] or [XML-NAMES].
		{"mismatched tags", "<message><body></message>", "not-well-formed"},
		// FIXME(stanza): an unbound prefix breaks the Namespaces in XML
		// constraint "Prefix Declared", so RFC 6120 §4.9.3.13 calls it
		// not-well-formed; stanza.StreamErrorFor maps it to
		// invalid-namespace, which §4.9.3.10 reserves for the stream and
		// content namespaces of the header.
		{"unbound prefix", "<foo:message xmlns='jabber:client' to='bob@localhost'/>", "invalid-namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := srv.Login(t, "alice", "correct horse", "e-"+strings.ReplaceAll(tc.name, " ", "-"))
			c.Send(strings.ReplaceAll(tc.send, "{res}", c.JID.Resource()))
			if tc.want == "" {
				ping(t, c.Conn)
				return
			}
			if got := streamErrorCondition(t, c.Conn); got != tc.want {
				t.Errorf("stream error %s, want %s", got, tc.want)
			}
			c.ReadToStreamEnd(3 * time.Second)
		})
	}
}

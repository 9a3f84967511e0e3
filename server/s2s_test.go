package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// testCA is a certificate authority made for one test; its certificates
// are trusted by the servers given its file as [s2s] ca_file.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of the CA certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hearth test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{dir: t.TempDir(), cert: cert, key: key}
	ca.file = filepath.Join(ca.dir, "ca.pem")
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue returns the certificate and key files of a certificate for domain
// (DNS SANs domain and *.domain, server and client use).
func (ca *testCA) issue(t *testing.T, domain string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{domain, "*." + domain},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile = filepath.Join(ca.dir, domain+".crt")
	keyFile = filepath.Join(ca.dir, domain+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fedServer starts a federating server for domain: certificates from ca
// (nil: hearth's self-signed ones), s2s on a loopback port, extra TOML
// appended to the [s2s] section.
func fedServer(t *testing.T, domain string, ca *testCA, s2sTOML string) *xmpptest.Server {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "hosts = [%q]\n", domain)
	b.WriteString("[listen]\nc2s = [\"127.0.0.1:0\"]\ns2s = [\"127.0.0.1:0\"]\ns2s_tls = [\"127.0.0.1:0\"]\n")
	if ca != nil {
		cert, key := ca.issue(t, domain)
		fmt.Fprintf(&b, "[tls]\ncert = %q\nkey = %q\n", cert, key)
	}
	b.WriteString("[s2s]\n")
	if ca != nil {
		fmt.Fprintf(&b, "ca_file = %q\n", ca.file)
	}
	b.WriteString(s2sTOML)
	return xmpptest.NewServer(t, b.String())
}

// pin makes from reach to's domain at to's s2s listener.
func pin(from, to *xmpptest.Server) {
	from.S2S().Pin(to.Domain, to.Addrs("s2s")[0])
}

func isMessageFrom(from string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Name.Local == "message" && el.Get("from") == from }
}

// TestS2SExternal: two servers with certificates from a CA they trust
// federate with SASL EXTERNAL. b.example cannot reach a.example at first,
// so dialback (which needs b to call a back) cannot be what authenticates
// alice's server; then bob answers over the stream in the other direction.
func TestS2SExternal(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	a := fedServer(t, "a.example", ca, "")
	b := fedServer(t, "b.example", ca, "")
	a.AddUser(t, "alice", "pw-alice-1")
	b.AddUser(t, "bob", "pw-bob-123")
	pin(a, b)
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")

	alice.Send("<message to='bob@b.example/desk' type='chat' id='m1'><body>hello over s2s</body></message>")
	m := bob.Expect("alice's message", isMessageFrom("alice@a.example/laptop"))
	if m.ChildText(stanza.NSClient, "body") != "hello over s2s" || m.Get("to") != "bob@b.example/desk" || m.Get("id") != "m1" {
		t.Errorf("bob got %s", m)
	}
	if strings.Contains(m.String(), stanza.NSServer) {
		t.Errorf("jabber:server leaked to a client: %s", m)
	}

	pin(b, a)
	bob.Send("<message to='alice@a.example/laptop' type='chat' id='m2'><body>hi back</body></message>")
	m = alice.Expect("bob's reply", isMessageFrom("bob@b.example/desk"))
	if m.ChildText(stanza.NSClient, "body") != "hi back" {
		t.Errorf("alice got %s", m)
	}

	// IQ ping to the remote server and its answer.
	res := alice.IQ("<iq to='b.example' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "result" || res.Get("from") != "b.example" {
		t.Errorf("ping b.example: %s", res)
	}
	// A stanza the remote server bounces comes back as an error.
	res = alice.IQ("<iq to='nobody@b.example/x' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "error" || stanza.ParseError(res).Condition != "service-unavailable" {
		t.Errorf("ping to a missing resource: %s", res)
	}
}

// TestS2SPresenceSubscription walks an RFC 6121 subscription between
// accounts of two servers: request, approval, then presence.
func TestS2SPresenceSubscription(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	a := fedServer(t, "a.example", ca, "")
	b := fedServer(t, "b.example", ca, "")
	pin(a, b)
	pin(b, a)
	a.AddUser(t, "alice", "pw-alice-1")
	b.AddUser(t, "bob", "pw-bob-123")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	rosterItem(t, alice, "")
	rosterItem(t, bob, "")

	alice.Send("<presence to='bob@b.example' type='subscribe'/>")
	bob.Expect("subscription request", isPresence("alice@a.example", "subscribe"))
	bob.Send("<presence to='alice@a.example' type='subscribed'/>")
	alice.Expect("approval", isPresence("bob@b.example", "subscribed"))
	alice.Expect("bob's presence", isPresence("bob@b.example/desk", ""))
	if it := rosterItem(t, alice, "bob@b.example"); it == nil || it.Get("subscription") != "to" {
		t.Errorf("alice's roster item for bob: %v", it)
	}
	bob.Send("<presence><show>away</show></presence>")
	p := alice.Expect("bob's new presence", isPresence("bob@b.example/desk", ""))
	if p.ChildText(stanza.NSClient, "show") != "away" {
		t.Errorf("alice got %s", p)
	}
}

// TestS2SDialback: with certificates that do not validate (hearth's
// self-signed ones) and require_valid_certs = false, the servers
// authenticate each other with dialback over TLS; with the default
// (true) they refuse to, and the stanza bounces.
func TestS2SDialback(t *testing.T) {
	t.Parallel()
	a := fedServer(t, "a.example", nil, "require_valid_certs = false\n")
	b := fedServer(t, "b.example", nil, "require_valid_certs = false\n")
	strict := fedServer(t, "c.example", nil, "connect_timeout = 5\n")
	pin(a, b)
	pin(b, a)
	pin(a, strict)
	pin(strict, a)
	a.AddUser(t, "alice", "pw-alice-1")
	b.AddUser(t, "bob", "pw-bob-123")
	strict.AddUser(t, "carol", "pw-carol-1")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	carol := strict.LoginAvailable(t, "carol", "pw-carol-1", "desk")

	alice.Send("<message to='bob@b.example' type='chat' id='d1'><body>by dialback</body></message>")
	bob.Expect("alice's message", isMessageFrom("alice@a.example/laptop"))

	// c.example requires valid certificates: it does not send to a, and
	// does not accept a's dialback either.
	carol.Send("<message to='alice@a.example' type='chat' id='d2'><body>x</body></message>")
	e := carol.Expect("bounce", isMessageFrom("alice@a.example"))
	if e.Get("type") != "error" || stanza.ParseError(e).Condition != "remote-server-not-found" {
		t.Errorf("carol got %s", e)
	}
	alice.Send("<message to='carol@c.example' type='chat' id='d3'><body>x</body></message>")
	carol.ExpectNone("alice's message", isMessageFrom("alice@a.example/laptop"), 500*time.Millisecond)
}

// TestS2SBounce: a domain that cannot be reached, or does not answer in
// time, bounces the stanzas waiting for it.
func TestS2SBounce(t *testing.T) {
	t.Parallel()
	mute, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused.Close()
	a := fedServer(t, "a.example", nil, fmt.Sprintf("connect_timeout = 1\nstatic = { \"down.example\" = %q, \"mute.example\" = %q }\n", refused.Addr(), mute.Addr()))
	a.AddUser(t, "alice", "pw-alice-1")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")

	for _, c := range []struct{ domain, condition string }{
		{"down.example", "remote-server-not-found"},
		{"mute.example", "remote-server-timeout"},
	} {
		alice.Send("<message to='x@" + c.domain + "' type='chat' id='b-" + c.domain + "'><body>x</body></message>")
		e := alice.Expect("bounce from "+c.domain, isMessageFrom("x@"+c.domain))
		if e.Get("type") != "error" || stanza.ParseError(e).Condition != c.condition {
			t.Errorf("%s: got %s, want %s", c.domain, e, c.condition)
		}
	}
}

// s2sPeer is a raw server-to-server client for tests of the inbound side.
type s2sPeer struct {
	t   *testing.T
	nc  net.Conn
	dec *stanza.Decoder
}

// dialS2S opens a stream from 'from' to 'to' at addr, does STARTTLS with
// cert as client certificate and authenticates with SASL EXTERNAL.
func dialS2S(t *testing.T, addr, from, to string, cert tls.Certificate) *s2sPeer {
	t.Helper()
	p := dialS2SUpToAuth(t, addr, from, to, cert)
	if el := p.next(); el.Name.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	p.open(from, to)
	return p
}

func (p *s2sPeer) write(s string) {
	p.t.Helper()
	if _, err := p.nc.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// open sends a stream header and returns the features.
func (p *s2sPeer) open(from, to string) *stanza.Element {
	p.t.Helper()
	p.write(fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='%s' to='%s' version='1.0'>", from, to))
	if _, err := p.dec.StreamStart(); err != nil {
		p.t.Fatalf("stream header: %v", err)
	}
	return p.next()
}

func (p *s2sPeer) next() *stanza.Element {
	p.t.Helper()
	el, err := p.dec.Next()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return el
}

// expectStreamError reads until a stream error and checks its condition.
func (p *s2sPeer) expectStreamError(condition string) {
	p.t.Helper()
	for {
		el := p.next()
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			if el.Child(stanza.NSStreams, condition) == nil {
				p.t.Errorf("stream error %s, want %s", el, condition)
			}
			return
		}
	}
}

// TestS2SInboundAddressing: a stream authenticated for one domain may
// not carry stanzas from another, nor to a domain not served here, nor
// without addresses; a stanza from its own domain is delivered.
func TestS2SInboundAddressing(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	b := fedServer(t, "b.example", ca, "")
	b.AddUser(t, "bob", "pw-bob-123")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	certFile, keyFile := ca.issue(t, "evil.example")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, stanza, condition string }{
		{"spoofed from", "<message from='alice@a.example/x' to='bob@b.example' type='chat'><body>spoof</body></message>", "invalid-from"},
		{"unknown to", "<message from='eve@evil.example/x' to='x@elsewhere.example' type='chat'><body>x</body></message>", "host-unknown"},
		{"no from", "<message to='bob@b.example' type='chat'><body>x</body></message>", "improper-addressing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := dialS2S(t, b.Addrs("s2s")[0], "evil.example", "b.example", cert)
			p.write(c.stanza)
			p.expectStreamError(c.condition)
		})
	}
	bob.ExpectNone("a spoofed message", func(el *stanza.Element) bool { return el.Name.Local == "message" }, 200*time.Millisecond)

	p := dialS2S(t, b.Addrs("s2s")[0], "evil.example", "b.example", cert)
	p.write("<message from='eve@evil.example/x' to='bob@b.example/desk' type='chat'><body>legit</body></message>")
	bob.Expect("eve's message", isMessageFrom("eve@evil.example/x"))

	// SASL EXTERNAL for a domain the certificate does not cover fails.
	q := rawS2S(t, b.Addrs("s2s")[0])
	nc := q.nc
	q.open("a.example", "b.example")
	q.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	q.next()
	tc := tls.Client(nc, &tls.Config{ServerName: "b.example", InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	q.nc = tc
	q.dec.Reset(tc)
	if f := q.open("a.example", "b.example"); strings.Contains(f.String(), "EXTERNAL") {
		t.Errorf("EXTERNAL offered to a.example with evil.example's certificate: %s", f)
	}
	q.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
	if el := q.next(); el.Name.Local != "failure" {
		t.Errorf("EXTERNAL with a wrong certificate: %s", el)
	}
	// Stanzas before authentication end the stream.
	q.write("<message from='alice@a.example/x' to='bob@b.example' type='chat'><body>x</body></message>")
	q.expectStreamError("not-authorized")
}

// TestS2SArchiveAndOffline: a message from a remote user to an offline
// account is kept for it, and archived on both servers.
func TestS2SArchiveAndOffline(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	a := fedServer(t, "a.example", ca, "")
	b := fedServer(t, "b.example", ca, "")
	pin(a, b)
	pin(b, a)
	a.AddUser(t, "alice", "pw-alice-1")
	b.AddUser(t, "bob", "pw-bob-123")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	alice.Send("<message to='bob@b.example' type='chat' id='o1'><body>while you were out</body></message>")
	alice.ExpectNone("a bounce", func(el *stanza.Element) bool { return el.Get("id") == "o1" }, 300*time.Millisecond)

	bob := b.Login(t, "bob", "pw-bob-123", "desk")
	bob.Send("<presence/>")
	m := bob.Expect("alice's message", isMessageFrom("alice@a.example/laptop"))
	if m.ChildText(stanza.NSClient, "body") != "while you were out" {
		t.Errorf("bob got %s", m)
	}
	if got := mamQuery(t, bob, "").bodies(); got != "while you were out" {
		t.Errorf("bob's archive: %q", got)
	}
	if got := mamQuery(t, alice, "").bodies(); got != "while you were out" {
		t.Errorf("alice's archive: %q", got)
	}
}

// TestS2SLocalHostsStayLocal: with federation on, two hosts of one server
// still reach each other directly (nothing is pinned, so a stanza sent
// over s2s would bounce).
func TestS2SLocalHostsStayLocal(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts+"\n[listen]\nc2s = [\"127.0.0.1:0\"]\ns2s = [\"127.0.0.1:0\"]\n")
	if srv.S2S() == nil {
		t.Fatal("federation is off")
	}
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "desk")
	alice.Send("<message to='bob@b.example/desk' type='chat' id='l1'><body>next door</body></message>")
	bob.Expect("alice's message", isMessageFrom("alice@a.example/laptop"))
	res := alice.IQ("<iq to='b.example' type='get' id='l2'><ping xmlns='urn:xmpp:ping'/></iq>")
	if res.Get("type") != "result" {
		t.Errorf("ping b.example: %s", res)
	}
}

// TestS2SComponent: an external component of b.example talks with a user
// of a.example over federation, in both directions; b authenticates as
// the component's domain with its wildcard certificate.
func TestS2SComponent(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	a := fedServer(t, "a.example", ca, "")
	cert, key := ca.issue(t, "b.example")
	b := xmpptest.NewServer(t, fmt.Sprintf(`hosts = ["b.example"]
[listen]
c2s = ["127.0.0.1:0"]
s2s = ["127.0.0.1:0"]
component = ["127.0.0.1:0"]
[tls]
cert = %q
key = %q
[s2s]
ca_file = %q
[components]
"gw.b.example" = "s3cret-gw"
`, cert, key, ca.file))
	a.S2S().Pin("gw.b.example", b.Addrs("s2s")[0])
	pin(b, a)
	a.AddUser(t, "alice", "pw-alice-1")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	gw, hs := dialComponent(t, b.Addrs("component")[0], "gw.b.example", "s3cret-gw")
	if hs.Name.Local != "handshake" {
		t.Fatalf("handshake answered with %s", hs)
	}

	alice.Send("<message to='room@gw.b.example' type='chat' id='g1'><body>hello gateway</body></message>")
	m := gw.next()
	if m.Name.Local != "message" || m.Get("from") != "alice@a.example/laptop" || m.ChildText("jabber:component:accept", "body") != "hello gateway" {
		t.Errorf("component got %s", m)
	}
	gw.write("<message from='room@gw.b.example/bot' to='alice@a.example/laptop' type='chat' id='g2'><body>hello alice</body></message>")
	m = alice.Expect("the gateway's message", isMessageFrom("room@gw.b.example/bot"))
	if m.ChildText(stanza.NSClient, "body") != "hello alice" {
		t.Errorf("alice got %s", m)
	}
}

// TestS2SMetrics: streams, accepted connections and bounces are counted.
func TestS2SMetrics(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	cert, key := ca.issue(t, "a.example")
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused.Close()
	a := xmpptest.NewServer(t, fmt.Sprintf(`hosts = ["a.example"]
[listen]
c2s = ["127.0.0.1:0"]
s2s = ["127.0.0.1:0"]
metrics = ["127.0.0.1:0"]
[tls]
cert = %q
key = %q
[s2s]
ca_file = %q
static = { "down.example" = %q }
`, cert, key, ca.file, refused.Addr()))
	b := fedServer(t, "b.example", ca, "")
	pin(a, b)
	pin(b, a)
	addr := metricsAddr(t, a)
	if got := scrape(t, addr); got[`hearth_s2s_streams{direction="out"}`] != 0 || got[`hearth_connections_accepted_total{listener="s2s"}`] != 0 {
		t.Errorf("before any traffic: %v", got)
	}
	a.AddUser(t, "alice", "pw-alice-1")
	b.AddUser(t, "bob", "pw-bob-123")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	alice.Send("<message to='bob@b.example/desk' type='chat'><body>1</body></message>")
	bob.Expect("alice's message", isMessageFrom("alice@a.example/laptop"))
	bob.Send("<message to='alice@a.example/laptop' type='chat'><body>2</body></message>")
	alice.Expect("bob's message", isMessageFrom("bob@b.example/desk"))
	alice.Send("<message to='x@down.example' type='chat' id='m3'><body>3</body></message>")
	alice.Expect("bounce", func(el *stanza.Element) bool { return el.Get("id") == "m3" })

	got := scrape(t, addr)
	for series, want := range map[string]float64{
		`hearth_s2s_streams{direction="out"}`:                           1,
		`hearth_s2s_streams{direction="in"}`:                            1,
		`hearth_connections_accepted_total{listener="s2s"}`:             1,
		`hearth_s2s_bounces_total{condition="remote-server-not-found"}`: 1,
		`hearth_s2s_bounces_total{condition="remote-server-timeout"}`:   0,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
}

package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pion "github.com/pion/turn/v4"

	"hearth/stanza"
	"hearth/xmpptest"
)

const nsExtDisco = "urn:xmpp:extdisco:2"

// turnTOML enables the built-in TURN server on loopback. Relays are
// opened on loopback and may reach loopback peers (the test's), which the
// default denied_peers forbids.
const turnTOML = `
[turn]
enabled = true
udp = ["127.0.0.1:0"]
tcp = ["127.0.0.1:0"]
tls = ["127.0.0.1:0"]
relay_bind = "127.0.0.1"
min_port = 50000
max_port = 59999
denied_peers = []
`

// extService is one <service/> of an extdisco answer.
type extService struct {
	typ, host, transport, username, password, expires, restricted string
	port                                                          int
}

func extServices(t *testing.T, reply *stanza.Element, wrapper string) []extService {
	t.Helper()
	if reply.Get("type") != "result" {
		t.Fatalf("extdisco request failed: %s", reply)
	}
	list := reply.Child(nsExtDisco, wrapper)
	if list == nil {
		t.Fatalf("no <%s/> in %s", wrapper, reply)
	}
	var out []extService
	for _, el := range list.Elements() {
		port, _ := strconv.Atoi(el.Get("port"))
		out = append(out, extService{typ: el.Get("type"), host: el.Get("host"), transport: el.Get("transport"),
			username: el.Get("username"), password: el.Get("password"), expires: el.Get("expires"),
			restricted: el.Get("restricted"), port: port})
	}
	return out
}

func findService(t *testing.T, list []extService, typ, transport string) extService {
	t.Helper()
	for _, s := range list {
		if s.typ == typ && s.transport == transport {
			return s
		}
	}
	t.Fatalf("no %s/%s service in %+v", typ, transport, list)
	return extService{}
}

// turnREST computes TURN REST credentials independently of hearth.
func turnREST(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// relayRoundTrip allocates a relay on the TURN server over conn with the
// credentials, sends a datagram through it to a peer, which answers to
// the relay address, and checks both arrive. It returns the allocation
// error, if any.
func relayRoundTrip(t *testing.T, conn net.PacketConn, server, username, password, realm string, during ...func()) error {
	t.Helper()
	client := turnClient(t, conn, server, username, password, realm)
	defer client.Close()
	// STUN first: the server reports the address it sees us at.
	mapped, err := client.SendBindingRequest()
	if err != nil {
		t.Fatalf("STUN binding: %v", err)
	}
	if !strings.HasPrefix(mapped.String(), "127.0.0.1:") {
		t.Errorf("STUN mapped address %s", mapped)
	}
	relay, err := client.Allocate()
	if err != nil {
		return err
	}
	defer relay.Close()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	ping := []byte("media from the caller " + t.Name())
	// The first write creates the permission for the peer's address.
	if _, err := relay.WriteTo(ping, peer.LocalAddr()); err != nil {
		t.Fatalf("relay write: %v", err)
	}
	buf := make([]byte, 1500)
	peer.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	n, from, err := peer.ReadFrom(buf)
	if err != nil {
		t.Fatalf("peer got nothing through the relay: %v", err)
	}
	if !bytes.Equal(buf[:n], ping) {
		t.Fatalf("peer got %q", buf[:n])
	}
	if from.String() != relay.LocalAddr().String() {
		t.Errorf("datagram came from %s, the relay address is %s", from, relay.LocalAddr())
	}
	pong := []byte("media from the callee")
	if _, err := peer.WriteTo(pong, relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	relay.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	n, from, err = relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("caller got nothing back through the relay: %v", err)
	}
	if !bytes.Equal(buf[:n], pong) || from.String() != peer.LocalAddr().String() {
		t.Fatalf("caller got %q from %s", buf[:n], from)
	}
	for _, fn := range during {
		fn()
	}
	return nil
}

// scrapeTURNAllocations returns the value of hearth_turn_allocations on
// the metrics listener at addr.
func scrapeTURNAllocations(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "hearth_turn_allocations "); ok {
			return v
		}
	}
	return ""
}

// turnClient returns a listening TURN client for server over conn.
func turnClient(t *testing.T, conn net.PacketConn, server, username, password, realm string) *pion.Client {
	t.Helper()
	client, err := pion.NewClient(&pion.ClientConfig{
		STUNServerAddr: server, TURNServerAddr: server,
		Username: username, Password: password, Realm: realm,
		Conn: conn, RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Listen(); err != nil {
		client.Close()
		t.Fatal(err)
	}
	return client
}

func udpConn(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCallsBuiltinTURN: a user logs in, finds the built-in STUN/TURN
// server through XEP-0215 with credentials, and relays a datagram to a
// peer and back through it over UDP, TCP and TLS, as a calling app does.
func TestCallsBuiltinTURN(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[listen]\nc2s = [\"127.0.0.1:0\"]\nmetrics = [\"127.0.0.1:0\"]\n"+turnTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")

	info := alice.IQ(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, alice.NextID()))
	if !strings.Contains(info.String(), nsExtDisco) {
		t.Fatalf("disco#info does not list %s: %s", nsExtDisco, info)
	}
	list := extServices(t, alice.IQ(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'><services xmlns='%s'/></iq>`, alice.NextID(), nsExtDisco)), "services")
	if len(list) != 4 {
		t.Errorf("want stun/udp, turn/udp, turn/tcp, turns/tcp; got %+v", list)
	}
	port := func(kind string) int {
		_, p, _ := net.SplitHostPort(srv.Addrs(kind)[0])
		n, _ := strconv.Atoi(p)
		return n
	}
	stun := findService(t, list, "stun", "udp")
	if stun.host != "localhost" || stun.port != port("turn_udp") || stun.username != "" || stun.restricted != "" {
		t.Errorf("stun service %+v (udp listener %s)", stun, srv.Addrs("turn_udp")[0])
	}
	turnUDP := findService(t, list, "turn", "udp")
	turnTCP := findService(t, list, "turn", "tcp")
	turnTLS := findService(t, list, "turns", "tcp")
	if turnTCP.port != port("turn_tcp") || turnTLS.port != port("turn_tls") || turnUDP.port != port("turn_udp") {
		t.Errorf("ports %d %d %d, listeners %v %v %v", turnUDP.port, turnTCP.port, turnTLS.port,
			srv.Addrs("turn_udp"), srv.Addrs("turn_tcp"), srv.Addrs("turn_tls"))
	}
	for _, s := range []extService{turnUDP, turnTCP, turnTLS} {
		expiry, user, _ := strings.Cut(s.username, ":")
		exp, err := strconv.ParseInt(expiry, 10, 64)
		if err != nil || user != "alice@localhost" || s.password == "" || s.restricted != "1" {
			t.Fatalf("credentials %+v", s)
		}
		if d := time.Until(time.Unix(exp, 0)); d < 23*time.Hour || d > 25*time.Hour {
			t.Errorf("credentials valid for %v, want the default day", d)
		}
		if e, err := time.Parse(time.RFC3339, s.expires); err != nil || e.Unix() != exp || !strings.HasSuffix(s.expires, "Z") {
			t.Errorf("expires=%q, username expiry %d", s.expires, exp)
		}
	}

	// UDP, as a phone usually does; the relay shows in the metrics while
	// it is open.
	if err := relayRoundTrip(t, udpConn(t), srv.Addrs("turn_udp")[0], turnUDP.username, turnUDP.password, "localhost", func() {
		if got := scrapeTURNAllocations(t, srv.Addrs("metrics")[0]); got != "1" {
			t.Errorf("hearth_turn_allocations = %q during a call, want 1", got)
		}
	}); err != nil {
		t.Fatalf("UDP allocation: %v", err)
	}
	// TCP and TLS, for networks that block UDP.
	tcp, err := net.Dial("tcp", srv.Addrs("turn_tcp")[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := relayRoundTrip(t, pion.NewSTUNConn(tcp), srv.Addrs("turn_tcp")[0], turnTCP.username, turnTCP.password, "localhost"); err != nil {
		t.Fatalf("TCP allocation: %v", err)
	}
	tlsConn, err := tls.Dial("tcp", srv.Addrs("turn_tls")[0], xmpptest.ClientTLS("localhost"))
	if err != nil {
		t.Fatalf("TLS handshake with the turns listener: %v", err)
	}
	if err := relayRoundTrip(t, pion.NewSTUNConn(tlsConn), srv.Addrs("turn_tls")[0], turnTLS.username, turnTLS.password, "localhost"); err != nil {
		t.Fatalf("TLS allocation: %v", err)
	}

	// Closed relays are gone from the metrics (a client deallocates
	// when it closes).
	for deadline := time.Now().Add(5 * time.Second); scrapeTURNAllocations(t, srv.Addrs("metrics")[0]) != "0"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hearth_turn_allocations = %s after every relay closed", scrapeTURNAllocations(t, srv.Addrs("metrics")[0]))
		}
	}

	// The same username with a password from another secret is refused.
	if err := relayRoundTrip(t, udpConn(t), srv.Addrs("turn_udp")[0], turnUDP.username, turnREST("not-the-secret", turnUDP.username), "localhost"); err == nil {
		t.Fatal("allocation with a wrong password succeeded")
	}
	// A later expiry with the old password is refused too.
	forged := strconv.FormatInt(time.Now().Add(48*time.Hour).Unix(), 10) + ":alice@localhost"
	if err := relayRoundTrip(t, udpConn(t), srv.Addrs("turn_udp")[0], forged, turnUDP.password, "localhost"); err == nil {
		t.Fatal("allocation with a forged expiry succeeded")
	}
}

// TestCallsExternalServices: an operator's coturn entries are advertised
// with credentials computed from their secret, the type filter and the
// credentials request select services, expired credentials are refused
// by the built-in server, and only the host's own users get an answer.
func TestCallsExternalServices(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `
hosts = ["localhost", "other.localhost"]
[listen]
c2s = ["127.0.0.1:0"]
component = ["127.0.0.1:0"]
[components]
"gw.localhost" = "s3cret-gw"
`+turnTOML+`
host = "turn.localhost"
relay_address = "127.0.0.1"
secret = "built-in-shared-secret"
[extdisco]
credential_ttl = 600
[[extdisco.services]]
type = "turn"
host = "coturn.example.net"
secret = "coturn-secret"
[[extdisco.services]]
type = "turns"
host = "coturn.example.net"
port = 443
secret = "coturn-secret"
[[extdisco.services]]
type = "stun"
host = "stun.example.net"
port = 3479
`)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob@other.localhost", "pw-bob-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	get := func(c *xmpptest.Client, payload string) *stanza.Element {
		return c.IQ(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'>%s</iq>`, c.NextID(), payload))
	}

	list := extServices(t, get(alice, `<services xmlns='urn:xmpp:extdisco:2'/>`), "services")
	if len(list) != 7 {
		t.Errorf("want 4 built-in and 3 configured services, got %+v", list)
	}
	for _, s := range list[:4] {
		if s.host != "turn.localhost" {
			t.Errorf("built-in service at %q, want [turn] host", s.host)
		}
	}
	coturn := list[4]
	if coturn.host != "coturn.example.net" || coturn.port != 3478 || coturn.transport != "udp" || coturn.restricted != "1" {
		t.Errorf("coturn entry %+v", coturn)
	}
	if want := turnREST("coturn-secret", coturn.username); coturn.password != want {
		t.Errorf("coturn password %q, HMAC-SHA1 of %q is %q", coturn.password, coturn.username, want)
	}
	expiry, user, _ := strings.Cut(coturn.username, ":")
	exp, _ := strconv.ParseInt(expiry, 10, 64)
	if d := time.Until(time.Unix(exp, 0)); user != "alice@localhost" || d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("username %q: user %q, valid for %v (credential_ttl 600)", coturn.username, user, d)
	}
	if s := list[5]; s.typ != "turns" || s.port != 443 || s.transport != "tcp" || s.password != turnREST("coturn-secret", s.username) {
		t.Errorf("coturn turns entry %+v", s)
	}
	if s := list[6]; s.typ != "stun" || s.port != 3479 || s.username != "" || s.password != "" || s.restricted != "" {
		t.Errorf("stun entry %+v", s)
	}
	builtin := findService(t, list, "turn", "udp")
	if want := turnREST("built-in-shared-secret", builtin.username); builtin.password != want {
		t.Errorf("built-in password %q, want %q", builtin.password, want)
	}

	// Type filter.
	reply := get(alice, `<services xmlns='urn:xmpp:extdisco:2' type='stun'/>`)
	if reply.Child(nsExtDisco, "services").Get("type") != "stun" {
		t.Errorf("filtered answer does not echo the type: %s", reply)
	}
	stuns := extServices(t, reply, "services")
	if len(stuns) != 2 || stuns[0].typ != "stun" || stuns[1].host != "stun.example.net" {
		t.Errorf("type=stun gave %+v", stuns)
	}
	if none := extServices(t, get(alice, `<services xmlns='urn:xmpp:extdisco:2' type='ftp'/>`), "services"); len(none) != 0 {
		t.Errorf("type=ftp gave %+v", none)
	}

	// Credentials for one service (XEP-0215 §3.3), by host and type, then
	// by port as well.
	creds := extServices(t, get(alice, `<credentials xmlns='urn:xmpp:extdisco:2'><service host='coturn.example.net' type='turns'/></credentials>`), "credentials")
	if len(creds) != 1 || creds[0].port != 443 || creds[0].password != turnREST("coturn-secret", creds[0].username) {
		t.Errorf("credentials for coturn turns: %+v", creds)
	}
	creds = extServices(t, get(alice, fmt.Sprintf(`<credentials xmlns='urn:xmpp:extdisco:2'><service host='turn.localhost' type='turn' port='%d'/></credentials>`, builtin.port)), "credentials")
	if len(creds) != 1 || creds[0].transport != "udp" || creds[0].password != turnREST("built-in-shared-secret", creds[0].username) {
		t.Errorf("credentials for the built-in turn/udp: %+v", creds)
	}
	for payload, condition := range map[string]string{
		`<credentials xmlns='urn:xmpp:extdisco:2'><service host='nowhere.example' type='turn'/></credentials>`:             "item-not-found",
		`<credentials xmlns='urn:xmpp:extdisco:2'><service host='coturn.example.net' type='turn' port='9'/></credentials>`: "item-not-found",
		`<credentials xmlns='urn:xmpp:extdisco:2'><service type='turn'/></credentials>`:                                    "bad-request",
		`<credentials xmlns='urn:xmpp:extdisco:2'/>`:                                                                       "bad-request",
		`<credentials xmlns='urn:xmpp:extdisco:2'><service host='coturn.example.net' type='turn' port='x'/></credentials>`: "bad-request",
	} {
		if r := get(alice, payload); r.Get("type") != "error" || r.Child(stanza.NSClient, "error").Child(stanza.NSStanzas, condition) == nil {
			t.Errorf("%s: want %s, got %s", payload, condition, r)
		}
	}

	// Expired credentials, made with the right secret, are refused.
	expired := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10) + ":alice@localhost"
	if err := relayRoundTrip(t, udpConn(t), srv.Addrs("turn_udp")[0], expired, turnREST("built-in-shared-secret", expired), "turn.localhost"); err == nil {
		t.Fatal("allocation with expired credentials succeeded")
	}
	// The same, valid for a minute more, work: the refusal was the expiry.
	valid := strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10) + ":alice@localhost"
	if err := relayRoundTrip(t, udpConn(t), srv.Addrs("turn_udp")[0], valid, turnREST("built-in-shared-secret", valid), "turn.localhost"); err != nil {
		t.Fatalf("allocation with fresh credentials: %v", err)
	}

	// Before authentication the stream ends: no services, no credentials.
	anon := xmpptest.Dial(t, srv.C2S, "localhost", false)
	anon.OpenStream()
	anon.StartTLS()
	anon.Send(`<iq type='get' id='a1' to='localhost'><services xmlns='urn:xmpp:extdisco:2'/></iq>`)
	refused := false
	for _, el := range anon.ReadToStreamEnd(xmpptest.Timeout) {
		if el.Name.Local == "iq" || strings.Contains(el.String(), "password") {
			t.Errorf("unauthenticated client got %s", el)
		}
		refused = refused || isStreamError(el, "not-authorized")
	}
	if !refused {
		t.Error("unauthenticated extdisco request: no not-authorized stream error")
	}

	// A user of another host, and a component, are refused.
	bob := srv.Login(t, "bob@other.localhost", "pw-bob-1", "phone")
	for _, payload := range []string{`<services xmlns='urn:xmpp:extdisco:2'/>`, `<credentials xmlns='urn:xmpp:extdisco:2'><service host='coturn.example.net' type='turn'/></credentials>`} {
		if r := get(bob, payload); r.Get("type") != "error" || r.Child(stanza.NSClient, "error").Child(stanza.NSStanzas, "forbidden") == nil {
			t.Errorf("user of another host: want forbidden, got %s", r)
		}
	}
	comp, hs := dialComponent(t, srv.Addrs("component")[0], "gw.localhost", "s3cret-gw")
	if hs.Name.Local != "handshake" {
		t.Fatalf("component handshake: %s", hs)
	}
	comp.write(`<iq type='get' id='c1' from='gw.localhost' to='localhost'><services xmlns='urn:xmpp:extdisco:2'/></iq>`)
	if r := comp.next(); r.Get("type") != "error" || !strings.Contains(r.String(), "forbidden") || strings.Contains(r.String(), "password") {
		t.Errorf("component: want forbidden, got %s", r)
	}
}

// TestTURNDefaults: with only "enabled = true" (and loopback listeners),
// relays to the server's own network are refused, and the generated
// secret survives a restart, so credentials handed out stay valid.
func TestTURNDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const conf = `
[turn]
enabled = true
udp = ["127.0.0.1:0"]
tcp = []
tls = []
`
	srv, stop := xmpptest.NewServerAt(t, dir, conf)
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	list := extServices(t, alice.IQ(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'><services xmlns='%s'/></iq>`, alice.NextID(), nsExtDisco)), "services")
	if len(list) != 2 {
		t.Errorf("udp only: want stun and turn, got %+v", list)
	}
	cred := findService(t, list, "turn", "udp")

	client := turnClient(t, udpConn(t), srv.Addrs("turn_udp")[0], cred.username, cred.password, "localhost")
	defer client.Close()
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("allocation with default settings: %v", err)
	}
	defer relay.Close()
	if a := relay.LocalAddr().(*net.UDPAddr); a.Port < 49152 || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("relay address %s: want localhost's address and the default range", a)
	}
	if err := client.CreatePermission(&net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9}); err != nil {
		t.Errorf("permission for a public address refused: %v", err)
	}
	for _, peer := range []string{"127.0.0.1:9", "192.168.1.1:9", "10.1.2.3:9", "[::ffff:127.0.0.1]:9"} {
		addr, _ := net.ResolveUDPAddr("udp", peer)
		if err := client.CreatePermission(addr); err == nil {
			t.Errorf("permission to relay to %s granted", peer)
		}
	}
	relay.Close()
	client.Close()
	stop()

	srv2, _ := xmpptest.NewServerAt(t, dir, conf)
	again := turnClient(t, udpConn(t), srv2.Addrs("turn_udp")[0], cred.username, cred.password, "localhost")
	defer again.Close()
	relay, err = again.Allocate()
	if err != nil {
		t.Fatalf("credentials from before the restart: %v", err)
	}
	relay.Close()
}

// TestExtDiscoReload: the [extdisco] services and TTL change on a reload
// without a restart; turning [turn] on needs one, and says so.
func TestExtDiscoReload(t *testing.T) {
	t.Parallel()
	section := func(host string, ttl int) string {
		return fmt.Sprintf("[extdisco]\ncredential_ttl = %d\n[[extdisco.services]]\ntype = \"turn\"\nhost = %q\nsecret = \"s\"\n", ttl, host)
	}
	srv := xmpptest.NewServer(t, section("old.example.net", 600))
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	get := func() []extService {
		return extServices(t, alice.IQ(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'><services xmlns='%s'/></iq>`, alice.NextID(), nsExtDisco)), "services")
	}
	if l := get(); len(l) != 1 || l[0].host != "old.example.net" {
		t.Fatalf("before: %+v", l)
	}
	path := filepath.Join(t.TempDir(), "hearth.toml")
	conf := fmt.Sprintf("data_dir = %q\n[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = [\"127.0.0.1:0\"]\n[turn]\nenabled = true\n", srv.DataDir) +
		section("new.example.net", 7200)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := srv.Reload(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Applied, "module extdisco: settings reloaded") || !slices.Contains(res.NeedsRestart, "turn.enabled: false -> true") {
		t.Errorf("applied %q, needs restart %q", res.Applied, res.NeedsRestart)
	}
	l := get()
	if len(l) != 1 || l[0].host != "new.example.net" {
		t.Fatalf("after: %+v", l)
	}
	exp, _ := strconv.ParseInt(l[0].username[:strings.IndexByte(l[0].username, ':')], 10, 64)
	if d := time.Until(time.Unix(exp, 0)); d < 119*time.Minute || d > 121*time.Minute {
		t.Errorf("credentials valid for %v after the TTL became 7200s", d)
	}
}

package server_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/config"
	"hearth/server"
	"hearth/stanza"
	"hearth/xmpptest"
)

const nsBytestreams = "http://jabber.org/protocol/bytestreams"

// proxyServer starts a server with the proxy on a loopback port and the
// users alice and bob logged in (alice initiates, bob is the target).
func proxyServer(t *testing.T, proxyTOML string) (srv *xmpptest.Server, alice, bob *xmpptest.Client) {
	t.Helper()
	srv = xmpptest.NewServer(t, "[proxy65]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\n"+proxyTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-1")
	return srv, srv.Login(t, "alice", "pw-alice-1", "desk"), srv.Login(t, "bob", "pw-bob-1", "phone")
}

// discoverProxy finds the bytestreams proxy as a client does (XEP-0065
// §4): disco#items of the server, disco#info of each item, then the
// streamhost query. It returns the proxy's JID and SOCKS5 address.
func discoverProxy(t *testing.T, c *xmpptest.Client) (proxyJID, addr string) {
	t.Helper()
	items := c.IQ(fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>", c.NextID(), c.JID.Domain()))
	q := items.Child("http://jabber.org/protocol/disco#items", "query")
	if q == nil {
		t.Fatalf("disco#items: %s", items)
	}
	for _, it := range q.Elements() {
		info := c.IQ(fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", c.NextID(), it.Get("jid")))
		s := info.String()
		if !strings.Contains(s, `category="proxy"`) || !strings.Contains(s, `type="bytestreams"`) || !strings.Contains(s, `var="`+nsBytestreams+`"`) {
			continue
		}
		proxyJID = it.Get("jid")
		break
	}
	if proxyJID == "" {
		t.Fatalf("no proxy/bytestreams among %s", items)
	}
	res := c.IQ(fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", c.NextID(), proxyJID, nsBytestreams))
	sh := res.Child(nsBytestreams, "query").Child(nsBytestreams, "streamhost")
	if res.Get("type") != "result" || sh == nil || sh.Get("jid") != proxyJID || sh.Get("host") == "" || sh.Get("port") == "" {
		t.Fatalf("streamhost query: %s", res)
	}
	return proxyJID, net.JoinHostPort(sh.Get("host"), sh.Get("port"))
}

// s5Hash is the bytestream's SOCKS5 address of XEP-0065 §5.3.2.
func s5Hash(sid, requester, target string) string {
	sum := sha1.Sum([]byte(sid + requester + target))
	return hex.EncodeToString(sum[:])
}

// socksConnect opens a SOCKS5 connection to addr for the hash (or any
// DST.ADDR) and returns it with the reply code.
func socksConnect(t *testing.T, addr, dst string, port uint16) (net.Conn, byte) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(xmpptest.Timeout))
	nc.Write([]byte{5, 1, 0})
	var b [2]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil || b != [2]byte{5, 0} {
		t.Fatalf("method selection: %v %v", b, err)
	}
	req := append([]byte{5, 1, 0, 3, byte(len(dst))}, dst...)
	nc.Write(append(req, byte(port>>8), byte(port)))
	var head [4]byte
	if _, err := io.ReadFull(nc, head[:]); err != nil || head[0] != 5 {
		t.Fatalf("reply: %v %v", head, err)
	}
	var rest []byte
	switch head[3] {
	case 3:
		var n [1]byte
		io.ReadFull(nc, n[:])
		rest = make([]byte, int(n[0])+2)
	case 1:
		rest = make([]byte, 6)
	default:
		t.Fatalf("reply address type %d", head[3])
	}
	if _, err := io.ReadFull(nc, rest); err != nil {
		t.Fatalf("reply address: %v", err)
	}
	if head[1] == 0 && (head[3] != 3 || string(rest[:len(rest)-2]) != dst || rest[len(rest)-2] != 0 || rest[len(rest)-1] != 0) {
		t.Errorf("success reply does not repeat the request: % x", rest)
	}
	nc.SetDeadline(time.Time{})
	return nc, head[1]
}

// negotiateBytestream runs XEP-0065 §6 between alice and bob up to, not
// including, activation: the offer to bob, bob's SOCKS5 connection and
// streamhost-used, alice's connection. It returns both connections.
func negotiateBytestream(t *testing.T, alice, bob *xmpptest.Client, sid string) (aliceConn, bobConn net.Conn) {
	t.Helper()
	proxyJID, addr := discoverProxy(t, alice)
	offer := fmt.Sprintf("<iq type='set' id='%s' to='%s'><query xmlns='%s' sid='%s' mode='tcp'><streamhost jid='%s' host='%s' port='%s'/></query></iq>",
		"offer-"+sid, bob.JID, nsBytestreams, sid, proxyJID, strings.Split(addr, ":")[0], strings.Split(addr, ":")[1])
	alice.Send(offer)

	in := bob.Expect("the bytestream offer", func(el *stanza.Element) bool { return el.Get("id") == "offer-"+sid })
	sh := in.Child(nsBytestreams, "query").Child(nsBytestreams, "streamhost")
	if in.Get("from") != alice.JID.String() || sh == nil {
		t.Fatalf("bob got %s", in)
	}
	bobConn, code := socksConnect(t, net.JoinHostPort(sh.Get("host"), sh.Get("port")), s5Hash(sid, alice.JID.String(), bob.JID.String()), 0)
	if code != 0 {
		t.Fatalf("bob's SOCKS5 connect: reply %d", code)
	}
	bob.Send(fmt.Sprintf("<iq type='result' id='%s' to='%s'><query xmlns='%s'><streamhost-used jid='%s'/></query></iq>",
		in.Get("id"), alice.JID, nsBytestreams, sh.Get("jid")))
	used := alice.Expect("streamhost-used", func(el *stanza.Element) bool { return el.Get("id") == "offer-"+sid })
	if used.Get("type") != "result" {
		t.Fatalf("offer answered with %s", used)
	}
	aliceConn, code = socksConnect(t, addr, s5Hash(sid, alice.JID.String(), bob.JID.String()), 0)
	if code != 0 {
		t.Fatalf("alice's SOCKS5 connect: reply %d", code)
	}
	return aliceConn, bobConn
}

// openBytestream negotiates and activates the bytestream sid from
// initiator to target and returns their connections.
func openBytestream(t *testing.T, initiator, target *xmpptest.Client, sid string) (initiatorConn, targetConn net.Conn) {
	t.Helper()
	initiatorConn, targetConn = negotiateBytestream(t, initiator, target, sid)
	if r := activate(initiator, sid, target.JID.String()); r.Get("type") != "result" {
		t.Fatalf("activation of %s: %s", sid, r)
	}
	return initiatorConn, targetConn
}

// activate sends the activation of sid to the proxy of c's server.
func activate(c *xmpptest.Client, sid, target string) *stanza.Element {
	return c.IQ(fmt.Sprintf("<iq type='set' id='%s' to='proxy.%s'><query xmlns='%s' sid='%s'><activate>%s</activate></query></iq>",
		c.NextID(), c.JID.Domain(), nsBytestreams, sid, target))
}

func iqCondition(iq *stanza.Element) string {
	if iq.Get("type") != "error" {
		return ""
	}
	return stanza.ParseError(iq).Condition
}

// exchange sends a to b and b to a at the same time, each side closing
// its write half when done, and returns what each side read.
func exchange(t *testing.T, a, b net.Conn, toB, toA []byte) (gotA, gotB []byte) {
	t.Helper()
	var wg sync.WaitGroup
	send := func(c net.Conn, data []byte) {
		defer wg.Done()
		if _, err := c.Write(data); err != nil {
			t.Errorf("write: %v", err)
		}
		c.(*net.TCPConn).CloseWrite()
	}
	recv := func(c net.Conn, out *[]byte) {
		defer wg.Done()
		c.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
		var err error
		if *out, err = io.ReadAll(c); err != nil {
			t.Errorf("read: %v", err)
		}
	}
	wg.Add(4)
	go send(a, toB)
	go send(b, toA)
	go recv(a, &gotA)
	go recv(b, &gotB)
	wg.Wait()
	return gotA, gotB
}

// TestProxy65Transfer: both clients find proxy.localhost through disco,
// connect over SOCKS5 with the hash, the initiator activates, and 1 MiB
// of random bytes goes each way unchanged.
func TestProxy65Transfer(t *testing.T) {
	t.Parallel()
	_, alice, bob := proxyServer(t, "")
	if jid, _ := discoverProxy(t, bob); jid != "proxy.localhost" {
		t.Errorf("bob found the proxy at %s", jid)
	}
	aliceConn, bobConn := negotiateBytestream(t, alice, bob, "s1d-transfer")

	// Nothing is relayed before activation.
	aliceConn.Write([]byte("early"))
	bobConn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := bobConn.Read(make([]byte, 8)); n != 0 || !isTimeout(err) {
		t.Fatalf("before activation bob read %d bytes, %v", n, err)
	}
	if r := activate(alice, "s1d-transfer", bob.JID.String()); r.Get("type") != "result" {
		t.Fatalf("activation: %s", r)
	}
	bobConn.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	early := make([]byte, 5)
	if _, err := io.ReadFull(bobConn, early); err != nil || string(early) != "early" {
		t.Fatalf("bytes sent before activation: %q %v", early, err)
	}

	toBob, toAlice := make([]byte, 1<<20), make([]byte, 1<<20)
	rand.Read(toBob)
	rand.Read(toAlice)
	gotAlice, gotBob := exchange(t, aliceConn, bobConn, toBob, toAlice)
	if !bytes.Equal(gotBob, toBob) {
		t.Errorf("bob got %d bytes, not the %d alice sent", len(gotBob), len(toBob))
	}
	if !bytes.Equal(gotAlice, toAlice) {
		t.Errorf("alice got %d bytes, not the %d bob sent", len(gotAlice), len(toAlice))
	}
	// The bytestream is over: activating it again finds nothing.
	if c := iqCondition(activate(alice, "s1d-transfer", bob.JID.String())); c != "item-not-found" {
		t.Errorf("second activation: %q", c)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestProxy65Activation: the error cases of XEP-0065 §6.3.5. An unknown
// sid and the wrong requester get item-not-found, one connected party
// not-allowed, malformed requests bad-request or jid-malformed; none of
// them starts the relay, and the right requester still can.
func TestProxy65Activation(t *testing.T) {
	t.Parallel()
	srv, alice, bob := proxyServer(t, "")
	srv.AddUser(t, "mallory", "pw-mallory-1")
	mallory := srv.Login(t, "mallory", "pw-mallory-1", "evil")
	_, addr := discoverProxy(t, alice)

	if c := iqCondition(activate(alice, "no-such-sid", bob.JID.String())); c != "item-not-found" {
		t.Errorf("unknown sid: %q", c)
	}
	// Only bob is connected.
	if _, code := socksConnect(t, addr, s5Hash("half", alice.JID.String(), bob.JID.String()), 0); code != 0 {
		t.Fatalf("connect: %d", code)
	}
	if c := iqCondition(activate(alice, "half", bob.JID.String())); c != "not-allowed" {
		t.Errorf("one party connected: %q", c)
	}
	for _, bad := range []string{
		fmt.Sprintf("<query xmlns='%s'><activate>%s</activate></query>", nsBytestreams, bob.JID),
		fmt.Sprintf("<query xmlns='%s' sid='x'/>", nsBytestreams),
	} {
		r := alice.IQ(fmt.Sprintf("<iq type='set' id='%s' to='proxy.localhost'>%s</iq>", alice.NextID(), bad))
		if c := iqCondition(r); c != "bad-request" {
			t.Errorf("%s: %q", bad, c)
		}
	}
	if c := iqCondition(activate(alice, "x", "@bad@")); c != "jid-malformed" {
		t.Errorf("malformed target: %q", c)
	}

	aliceConn, bobConn := negotiateBytestream(t, alice, bob, "s1d-wrong")
	if c := iqCondition(activate(mallory, "s1d-wrong", bob.JID.String())); c != "item-not-found" {
		t.Errorf("activation by another account: %q", c)
	}
	aliceConn.Write([]byte("x"))
	bobConn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := bobConn.Read(make([]byte, 1)); n != 0 {
		t.Fatal("relaying after mallory's activation")
	}
	// A third connection with the same hash is refused.
	if _, code := socksConnect(t, addr, s5Hash("s1d-wrong", alice.JID.String(), bob.JID.String()), 0); code != 2 {
		t.Errorf("third connection: reply %d, want 2 (not allowed)", code)
	}
	if r := activate(alice, "s1d-wrong", bob.JID.String()); r.Get("type") != "result" {
		t.Fatalf("alice's activation: %s", r)
	}
	bobConn.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	if b := make([]byte, 1); func() bool { _, err := io.ReadFull(bobConn, b); return err != nil || b[0] != 'x' }() {
		t.Error("not relaying after alice's activation")
	}
}

// TestProxy65Refusals: SOCKS5 requests that are not a bytestream are
// answered with an error code or closed, pairs that are never activated
// time out, and the proxy goes on serving.
func TestProxy65Refusals(t *testing.T) {
	t.Parallel()
	_, alice, bob := proxyServer(t, "pair_timeout = 1\n")
	_, addr := discoverProxy(t, alice)

	if _, code := socksConnect(t, addr, "not-a-hash", 0); code != 4 {
		t.Errorf("bad hash: reply %d, want 4 (host unreachable)", code)
	}
	if _, code := socksConnect(t, addr, s5Hash("p", "a", "b"), 80); code != 2 {
		t.Errorf("port 80: reply %d, want 2 (not allowed)", code)
	}
	for name, greeting := range map[string][]byte{
		"http":         []byte("GET / HTTP/1.1\r\nHost: proxy\r\n\r\n"),
		"socks4":       {4, 1, 0, 80, 127, 0, 0, 1, 0},
		"no methods":   {5, 0},
		"auth only":    {5, 1, 2},
		"short":        {5},
		"bad request":  {5, 1, 0, 4, 1, 0, 3},
		"bind command": {5, 1, 0, 5, 2, 0, 3, 40},
	} {
		nc, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(greeting)
		if name == "short" {
			nc.(*net.TCPConn).CloseWrite()
		}
		nc.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
		got, err := io.ReadAll(nc)
		nc.Close()
		if isTimeout(err) {
			t.Errorf("%s: connection left open", name)
		}
		switch name {
		case "auth only":
			if !bytes.Equal(got, []byte{5, 0xff}) {
				t.Errorf("%s: got % x, want 05 ff", name, got)
			}
		case "bind command":
			if len(got) < 4 || got[2] != 5 || got[3] != 7 {
				t.Errorf("%s: got % x, want reply 7 (command not supported)", name, got)
			}
		default:
			if len(got) > 2 {
				t.Errorf("%s: got % x", name, got)
			}
		}
	}

	// A pair nobody activates is closed after pair_timeout.
	start := time.Now()
	nc, code := socksConnect(t, addr, s5Hash("lonely", alice.JID.String(), bob.JID.String()), 0)
	if code != 0 {
		t.Fatalf("connect: %d", code)
	}
	nc.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	if _, err := nc.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("unactivated connection still open: %v", err)
	} else if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("closed after %v, before pair_timeout", d)
	}
	if c := iqCondition(activate(alice, "lonely", bob.JID.String())); c != "item-not-found" {
		t.Errorf("activating a timed-out pair: %q", c)
	}

	// A connection that never finishes its greeting is closed too.
	slow, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write([]byte{5})
	slow.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	if _, err := slow.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("half a greeting: connection still open: %v", err)
	}

	// After all that, a bytestream still works.
	a, b := openBytestream(t, alice, bob, "s1d-after")
	gotA, gotB := exchange(t, a, b, []byte("ping"), []byte("pong"))
	if string(gotA) != "pong" || string(gotB) != "ping" {
		t.Errorf("after refusals: %q %q", gotA, gotB)
	}
}

// TestProxy65Limits: max_bytes ends a bytestream at exactly its size,
// max_streams_per_user refuses a second activation, and accounts of other
// domains (here a component's) are forbidden.
func TestProxy65Limits(t *testing.T) {
	t.Parallel()
	srv, alice, bob := proxyServer(t, "max_bytes = 1000\nmax_streams_per_user = 1\n"+
		"[listen]\nc2s = [\"127.0.0.1:0\"]\ncomponent = [\"127.0.0.1:0\"]\n[components]\n\"gw.localhost\" = \"s3cret-gw\"\n")

	a1, b1 := openBytestream(t, alice, bob, "s1d-one")
	a2, b2 := negotiateBytestream(t, alice, bob, "s1d-two")
	if c := iqCondition(activate(alice, "s1d-two", bob.JID.String())); c != "resource-constraint" {
		t.Errorf("second bytestream of alice: %q", c)
	}
	_, _ = a2, b2

	data := make([]byte, 5000)
	rand.Read(data)
	go a1.Write(data)
	b1.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	got, err := io.ReadAll(b1)
	if isTimeout(err) || !bytes.Equal(got, data[:1000]) {
		t.Errorf("max_bytes 1000: bob got %d bytes (%v)", len(got), err)
	}
	// The first bytestream ended: alice may activate the second.
	deadline := time.Now().Add(xmpptest.Timeout)
	for {
		r := activate(alice, "s1d-two", bob.JID.String())
		if r.Get("type") == "result" {
			break
		}
		if iqCondition(r) != "resource-constraint" || time.Now().After(deadline) {
			t.Fatalf("activation after the first ended: %s", r)
		}
		time.Sleep(20 * time.Millisecond)
	}

	gw, hs := dialComponent(t, srv.Addrs("component")[0], "gw.localhost", "s3cret-gw")
	if hs.Name.Local != "handshake" {
		t.Fatalf("component handshake: %s", hs)
	}
	gw.write("<iq type='get' id='g1' from='someone@gw.localhost' to='proxy.localhost'><query xmlns='" + nsBytestreams + "'/></iq>")
	r := gw.next()
	if r.Get("type") != "error" || stanza.ParseError(r).Condition != "forbidden" {
		t.Errorf("streamhost query from another domain: %s", r)
	}
	gw.write("<iq type='get' id='g2' from='someone@gw.localhost' to='proxy.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if r := gw.next(); r.Get("type") != "result" {
		t.Errorf("disco#info from another domain: %s", r)
	}
}

// TestProxy65Hosts: every virtual host has its proxy service, all on the
// one SOCKS5 listener of the server, and a user of one host sends to a
// user of another through it.
func TestProxy65Hosts(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "hosts = [\"localhost\", \"example.net\"]\n[proxy65]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "carol@example.net", "pw-carol-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "desk")
	carol := srv.Login(t, "carol@example.net", "pw-carol-1", "tablet")
	aliceProxy, aliceAddr := discoverProxy(t, alice)
	carolProxy, carolAddr := discoverProxy(t, carol)
	if aliceProxy != "proxy.localhost" || carolProxy != "proxy.example.net" || aliceAddr != carolAddr {
		t.Fatalf("proxies %s at %s and %s at %s: want one listener for both hosts", aliceProxy, aliceAddr, carolProxy, carolAddr)
	}
	c, a := openBytestream(t, carol, alice, "s1d-hosts")
	gotC, gotA := exchange(t, c, a, []byte("from carol"), []byte("from alice"))
	if string(gotA) != "from carol" || string(gotC) != "from alice" {
		t.Errorf("across hosts: %q %q", gotA, gotC)
	}
}

// TestProxy65Bandwidth: bytes_per_second paces a bytestream.
func TestProxy65Bandwidth(t *testing.T) {
	t.Parallel()
	_, alice, bob := proxyServer(t, "bytes_per_second = 100000\n")
	a, b := openBytestream(t, alice, bob, "s1d-slow")
	data := make([]byte, 250000)
	rand.Read(data)
	start := time.Now()
	_, got := exchange(t, a, b, data, nil)
	// A second's worth goes at once, the other 150000 bytes take 1.5 s.
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("250000 bytes at 100000/s took %v", d)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("bob got %d bytes, not what alice sent", len(got))
	}
}

// TestProxy65Idle: a bytestream moving bytes one way only is not idle; one
// where nothing moves for idle_timeout is closed.
func TestProxy65Idle(t *testing.T) {
	t.Parallel()
	_, alice, bob := proxyServer(t, "idle_timeout = 1\n")
	a, b := openBytestream(t, alice, bob, "s1d-idle")
	b.SetReadDeadline(time.Now().Add(xmpptest.Timeout))
	one := make([]byte, 1)
	for i := range 8 { // 2.4 s of a byte every 300 ms: bob never writes
		if _, err := a.Write([]byte{byte(i)}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if _, err := io.ReadFull(b, one); err != nil || one[0] != byte(i) {
			t.Fatalf("byte %d: %v %v", i, one, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	last := time.Now()
	if _, err := b.Read(one); err == nil || isTimeout(err) {
		t.Fatalf("idle bytestream still open: %v", err)
	}
	if d := time.Since(last); d < 600*time.Millisecond {
		t.Errorf("closed %v after the last byte, before idle_timeout", d)
	}
}

// TestProxy65PortInUse: a proxy65 listen address in use stops the server
// with a configuration error naming it, as a [listen] address does.
func TestProxy65PortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := config.Parse(fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = []\n[proxy65]\nenabled = true\nlisten = [%q]\n",
		t.TempDir(), ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Log: slog.New(slog.DiscardHandler)})
	if err == nil {
		srv.Close()
		t.Fatal("server started with the proxy65 port in use")
	}
	var ce *server.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "proxy65.listen") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("error %v (%T): want a ConfigError naming proxy65.listen and the address", err, err)
	}
}

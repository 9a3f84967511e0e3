package server_test

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// s2sCert issues a certificate for domain from ca, for SASL EXTERNAL.
func s2sCert(t *testing.T, ca *testCA, domain string) tls.Certificate {
	t.Helper()
	certFile, keyFile := ca.issue(t, domain)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestS2SDomainRate: the stanza rate of a remote domain is shared by all
// its streams; past it hearth reads that domain more slowly, while
// another domain's messages go through at once.
func TestS2SDomainRate(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	b := fedServer(t, "b.example", ca, "stanzas_per_second = 20\nburst_stanzas = 20\n")
	b.AddUser(t, "bob", "pw-bob-123")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	addr := b.Addrs("s2s")[0]
	evil, good := s2sCert(t, ca, "evil.example"), s2sCert(t, ca, "good.example")

	// 60 messages over two streams of evil.example: 20 pass at once,
	// the other 40 take two seconds at 20 per second.
	const perStream = 30
	streams := []*s2sPeer{dialS2S(t, addr, "evil.example", "b.example", evil), dialS2S(t, addr, "evil.example", "b.example", evil)}
	polite := dialS2S(t, addr, "good.example", "b.example", good)
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range streams {
		p.nc.SetDeadline(time.Now().Add(30 * time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var msgs strings.Builder
			for j := range perStream {
				fmt.Fprintf(&msgs, "<message from='eve@evil.example/x' to='bob@b.example/desk' type='chat'><body>flood %d-%d</body></message>", i, j)
			}
			p.nc.Write([]byte(msgs.String()))
		}()
	}
	// Once the flood has used its burst, a message from good.example
	// overtakes what is left of it.
	var flood, goodAt int
	for flood < 25 {
		bob.Expect("the flood", isMessageFrom("eve@evil.example/x"))
		flood++
	}
	polite.write("<message from='ann@good.example/x' to='bob@b.example/desk' type='chat'><body>hello</body></message>")
	for flood < 2*perStream {
		el := bob.Expect("a message", func(el *stanza.Element) bool { return el.Name.Local == "message" })
		switch el.Get("from") {
		case "eve@evil.example/x":
			flood++
		case "ann@good.example/x":
			goodAt = flood
		}
	}
	elapsed := time.Since(start)
	wg.Wait()
	if elapsed < 1500*time.Millisecond {
		t.Errorf("60 stanzas at 20/s (burst 20) over two streams took %v, want about 2 s: the rate is not per domain", elapsed)
	}
	if goodAt == 0 || goodAt > 2*perStream-10 {
		t.Errorf("good.example's message came after %d of %d flood messages, want well before the end", goodAt, 2*perStream)
	}
}

// TestS2SStreamsPerDomain: a domain may have streams_per_domain
// authenticated streams at once; one more ends with policy-violation,
// and a stream that closed frees its place.
func TestS2SStreamsPerDomain(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	b := fedServer(t, "b.example", ca, "streams_per_domain = 2\n")
	b.AddUser(t, "bob", "pw-bob-123")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	addr := b.Addrs("s2s")[0]
	cert := s2sCert(t, ca, "evil.example")
	p1 := dialS2S(t, addr, "evil.example", "b.example", cert)
	dialS2S(t, addr, "evil.example", "b.example", cert)

	third := dialS2SUpToAuth(t, addr, "evil.example", "b.example", cert)
	third.expectStreamError("policy-violation")

	// Another domain is not affected.
	other := dialS2S(t, addr, "other.example", "b.example", s2sCert(t, ca, "other.example"))
	other.write("<message from='o@other.example/x' to='bob@b.example/desk' type='chat'><body>o</body></message>")
	bob.Expect("other.example's message", isMessageFrom("o@other.example/x"))

	p1.nc.Close()
	deadline := time.Now().Add(xmpptest.Timeout)
	for {
		q := dialS2SUpToAuth(t, addr, "evil.example", "b.example", cert)
		el := q.next()
		if el.Name.Local == "success" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place for a new stream after one closed: %s", el)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rawS2S opens a TCP connection to addr for a raw s2s peer, closed at
// the end of the test.
func rawS2S(t *testing.T, addr string) *s2sPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(xmpptest.Timeout))
	return &s2sPeer{t: t, nc: nc, dec: stanza.NewDecoder(nc, stanza.Limits{})}
}

// dialS2SUpToAuth is dialS2S up to sending the SASL EXTERNAL <auth/>,
// whose answer the caller reads.
func dialS2SUpToAuth(t *testing.T, addr, from, to string, cert tls.Certificate) *s2sPeer {
	t.Helper()
	p := rawS2S(t, addr)
	nc := p.nc
	p.open(from, to)
	p.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	p.next()
	tc := tls.Client(nc, &tls.Config{ServerName: to, InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	p.nc = tc
	p.dec.Reset(tc)
	if f := p.open(from, to); !strings.Contains(f.String(), ">EXTERNAL<") {
		t.Fatalf("EXTERNAL not offered: %s", f)
	}
	p.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(from)) + "</auth>")
	return p
}

// greets opens a stream to b.example on nc and reads the answering
// header: it fails when the server closed the connection at once.
func greets(nc net.Conn) error {
	fmt.Fprintf(nc, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' version='1.0'>")
	_, err := stanza.NewDecoder(nc, stanza.Limits{}).StreamStart()
	return err
}

// TestS2SStreamsPerIP: connections from one address past streams_per_ip
// are closed before a byte is read; closing one makes room.
func TestS2SStreamsPerIP(t *testing.T) {
	t.Parallel()
	b := fedServer(t, "b.example", nil, "streams_per_ip = 3\n")
	addr := b.Addrs("s2s")[0]
	var open []net.Conn
	for range 3 {
		nc, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		open = append(open, nc)
	}
	// The three are served: each gets a stream header back.
	for _, nc := range open {
		nc.SetDeadline(time.Now().Add(xmpptest.Timeout))
		if err := greets(nc); err != nil {
			t.Fatalf("a stream within the limit: %v", err)
		}
	}
	extra, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(xmpptest.Timeout))
	if n, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a fourth connection from the same address: read %d bytes, %v; want it closed", n, err)
	}
	open[0].Close()
	deadline := time.Now().Add(xmpptest.Timeout)
	for {
		nc, err := net.DialTimeout("tcp", addr, xmpptest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(xmpptest.Timeout))
		err = greets(nc)
		nc.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no room for a connection after one closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestS2SStanzaSize: [s2s] max_stanza_size bounds a stanza from another
// server; a larger one ends the stream with policy-violation.
func TestS2SStanzaSize(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	b := fedServer(t, "b.example", ca, "max_stanza_size = 4096\n")
	b.AddUser(t, "bob", "pw-bob-123")
	bob := b.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	p := dialS2S(t, b.Addrs("s2s")[0], "evil.example", "b.example", s2sCert(t, ca, "evil.example"))
	p.write("<message from='eve@evil.example/x' to='bob@b.example/desk' type='chat'><body>" + strings.Repeat("a", 3000) + "</body></message>")
	bob.Expect("a message within the limit", isMessageFrom("eve@evil.example/x"))
	p.write("<message from='eve@evil.example/x' to='bob@b.example/desk' type='chat'><body>" + strings.Repeat("a", 5000) + "</body></message>")
	p.expectStreamError("policy-violation")
}

// TestS2SLimitsReload: a reload applies new [s2s] limits to new streams
// and says that other [s2s] keys need a restart.
func TestS2SLimitsReload(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	b := fedServer(t, "b.example", ca, "streams_per_domain = 1\n")
	addr := b.Addrs("s2s")[0]
	cert := s2sCert(t, ca, "evil.example")
	dialS2S(t, addr, "evil.example", "b.example", cert)
	dialS2SUpToAuth(t, addr, "evil.example", "b.example", cert).expectStreamError("policy-violation")

	path := filepath.Join(t.TempDir(), "hearth.toml")
	text := fmt.Sprintf("hosts = [\"b.example\"]\ndata_dir = %q\n[listen]\nc2s = [\"127.0.0.1:0\"]\ns2s = [\"127.0.0.1:0\"]\ns2s_tls = [\"127.0.0.1:0\"]\n"+
		"[tls]\ncert = %q\nkey = %q\n[s2s]\nca_file = %q\nstreams_per_domain = 2\nidle_timeout = 99\n", b.DataDir, b.Config.TLS.Cert, b.Config.TLS.Key, ca.file)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := b.Reload(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Applied, "s2s.streams_per_domain: 1 -> 2") {
		t.Errorf("applied %q, want the new streams_per_domain", res.Applied)
	}
	if !slices.Contains(res.NeedsRestart, "s2s.idle_timeout: 600 -> 99") {
		t.Errorf("needs restart %q, want s2s.idle_timeout", res.NeedsRestart)
	}
	if el := dialS2SUpToAuth(t, addr, "evil.example", "b.example", cert).next(); el.Name.Local != "success" {
		t.Errorf("a second stream after the reload: %s", el)
	}
}

// TestS2SAuthDeadline: a stream that does not authenticate within
// connect_timeout is cut with connection-timeout.
func TestS2SAuthDeadline(t *testing.T) {
	t.Parallel()
	b := fedServer(t, "b.example", nil, "connect_timeout = 1\n")
	p := rawS2S(t, b.Addrs("s2s")[0])
	start := time.Now()
	p.open("x.example", "b.example")
	p.expectStreamError("connection-timeout")
	if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
		t.Errorf("unauthenticated stream cut after %v, want about 1s", d)
	}
}

// TestS2SQueueLimitBounces: while the stream to a domain is being set
// up, queue_limit stanzas wait; more bounce at once with
// resource-constraint, and the waiting ones with remote-server-timeout
// when the set-up fails.
func TestS2SQueueLimitBounces(t *testing.T) {
	t.Parallel()
	mute, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	a := fedServer(t, "a.example", nil, fmt.Sprintf("connect_timeout = 2\nqueue_limit = 2\nstatic = { \"mute.example\" = %q }\n", mute.Addr()))
	a.AddUser(t, "alice", "pw-alice-1")
	alice := a.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	for i := range 4 {
		alice.Send(fmt.Sprintf("<message to='x@mute.example' type='chat' id='q%d'><body>x</body></message>", i))
	}
	got := map[string]string{}
	for range 4 {
		e := alice.Expect("a bounce", isMessageFrom("x@mute.example"))
		if e.Get("type") != "error" {
			t.Fatalf("not an error: %s", e)
		}
		got[e.Get("id")] = stanza.ParseError(e).Condition
	}
	want := map[string]string{"q0": "remote-server-timeout", "q1": "remote-server-timeout", "q2": "resource-constraint", "q3": "resource-constraint"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bounces %v, want %v", got, want)
	}
}

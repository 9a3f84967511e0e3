package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// hostileTOML makes the timeouts short enough for a test; the size limits
// are the defaults.
const hostileTOML = "[limits]\nnegotiation_timeout = 3\nidle_timeout = 2\nping_timeout = 2\nstanza_timeout = 1\nauth_failures_per_ip = 5\n"

const streamOpen = "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

// maxChatLatency bounds the delivery of every message between the
// well-behaved clients while the server is under attack.
const maxChatLatency = 2 * time.Second

// TestHostileClients attacks a server with malformed XML, oversized and
// deeply nested stanzas, garbage, slow senders, a flood of
// unauthenticated connections and password guessing, all at once, while
// two well-behaved clients keep chatting: every attacker must get the
// stream error its attack calls for (or be cut), and every chat message
// must arrive, once, within maxChatLatency.
func TestHostileClients(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, hostileTOML)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-1")
	srv.AddUser(t, "mallory", "pw-mallory-1")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-1", "phone")

	load := startChat(alice, bob)
	// Password guessing gets the address throttled, which would stop the
	// other attackers from logging in: it comes second.
	for _, phase := range [][]attack{hostileAttacks(srv), {{"password guessing", guessPasswords(srv)}}} {
		t.Run("attacks", func(t *testing.T) {
			for _, a := range phase {
				t.Run(a.name, func(t *testing.T) {
					t.Parallel()
					a.run(t)
				})
			}
		})
	}
	load.stopAndCheck(t)
}

type attack struct {
	name string
	run  func(t *testing.T)
}

func hostileAttacks(srv *xmpptest.Server) []attack {
	laughs := `<!DOCTYPE lolz [<!ENTITY lol "lol">` +
		`<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`
	// preAuth opens a plaintext stream (before STARTTLS) with raw bytes.
	preAuth := func(payload string, want ...string) func(t *testing.T) {
		return func(t *testing.T) {
			c := xmpptest.Dial(t, srv.C2S, "localhost", false)
			c.Send(payload)
			c.ReadHeader()
			expectStreamError(t, c, want...)
		}
	}
	// bound sends raw bytes on a logged-in stream. A large payload may
	// still be in flight when the server, having read up to its limit,
	// answers and closes: the kernel then resets the connection, and the
	// attacker may see the reset instead of the stream error. Either way
	// it was cut; the reset is accepted only for payloads over the limit.
	bound := func(user, payload string, want ...string) func(t *testing.T) {
		return func(t *testing.T) {
			// A resource of its own: the attacks run in parallel, and a
			// second bind of one resource would end the first (conflict).
			c := srv.Login(t, user, "pw-mallory-1", "attack-"+strings.ReplaceAll(t.Name(), "/", "-"))
			_, werr := c.NetConn().Write([]byte(payload))
			el, err := readStreamError(c.Conn)
			switch {
			case err == nil && slices.Contains(want, el):
			case err == nil:
				t.Errorf("stream error %s, want one of %v", el, want)
			case len(payload) > 256<<10 && (werr != nil || errors.Is(err, syscall.ECONNRESET)):
				t.Logf("cut with a reset (%v, %v)", werr, err)
			default:
				t.Errorf("no stream error: write %v, read %v", werr, err)
			}
		}
	}
	return []attack{
		{"billion laughs before the header", preAuth(`<?xml version='1.0'?>`+laughs+`<lolz>&lol3;</lolz>`, "restricted-xml")},
		{"external entity", preAuth(`<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`+streamOpen+`<iq>&xxe;</iq>`, "restricted-xml")},
		{"processing instruction", preAuth(streamOpen+`<?php system('id'); ?>`, "restricted-xml")},
		{"invalid UTF-8 before auth", preAuth(streamOpen+"<iq type='get' id='\xff\xfe'/>", "not-well-formed")},
		{"billion laughs in a bound stream", bound("mallory", laughs+`<message to='alice@localhost'><body>&lol3;</body></message>`, "restricted-xml", "not-well-formed")},
		{"undeclared entity", bound("mallory", `<message to='alice@localhost'><body>&lol3;</body></message>`, "restricted-xml", "not-well-formed")},
		{"huge attribute count", bound("mallory", "<message to='alice@localhost'"+manyAttrs(100000)+"/>", "policy-violation")},
		{"deep nesting", bound("mallory", "<message to='alice@localhost'>"+strings.Repeat("<a>", 100000), "policy-violation")},
		{"oversized stanza", bound("mallory", "<message to='alice@localhost'><body>"+strings.Repeat("x", 1<<20)+"</body></message>", "policy-violation")},
		{"invalid UTF-8 in a body", bound("mallory", "<message to='alice@localhost'><body>\xc3\x28</body></message>", "not-well-formed")},
		{"random garbage streams", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 20 {
				c := xmpptest.Dial(t, srv.C2S, "localhost", false)
				garbage := make([]byte, 1+rng.IntN(8192))
				for j := range garbage {
					garbage[j] = byte(rng.Uint32())
				}
				if i%2 == 1 {
					garbage = append([]byte(streamOpen), garbage...)
				}
				c.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
				c.NetConn().Write(garbage)
				// Cut at the first error, or by the negotiation timeout.
				c.ExpectConnClosed(10 * time.Second)
			}
		}},
		{"slowloris before auth", func(t *testing.T) {
			c := xmpptest.Dial(t, srv.C2S, "localhost", false)
			start := time.Now()
			trickle(c.NetConn(), streamOpen+"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", 200*time.Millisecond)
			c.ExpectConnClosed(10 * time.Second)
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("trickling client cut after %v; negotiation_timeout is 3s", d)
			}
		}},
		{"slowloris after auth", func(t *testing.T) {
			c := srv.Login(t, "mallory", "pw-mallory-1", "slow")
			c.Send("<message to='alice@localhost'><body>")
			go trickle(c.NetConn(), strings.Repeat("x", 40), 200*time.Millisecond)
			expectStreamError(t, c.Conn, "policy-violation")
		}},
		{"unauthenticated connection flood", func(t *testing.T) { unauthenticatedFlood(t, srv, 500) }},
	}
}

// guessPasswords tries passwords for alice until the server refuses to
// check more.
func guessPasswords(srv *xmpptest.Server) func(t *testing.T) {
	return func(t *testing.T) {
		refused := false
		for i := 0; i < 20 && !refused; i++ {
			c := xmpptest.Dial(t, srv.C2S, "localhost", false)
			c.OpenStream()
			c.StartTLS()
			for range 3 {
				f := c.Auth("PLAIN", "alice", "guess-"+strconv.Itoa(i))
				if f == nil {
					t.Fatal("a guessed password was accepted")
				}
				if f.Child("", "temporary-auth-failure") != nil {
					refused = true
					break
				}
			}
			c.Close()
		}
		if !refused {
			t.Error("60 wrong passwords from one address and never throttled")
		}
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d='%d'", i, i)
	}
	return b.String()
}

// trickle writes s one byte every interval until done or the write fails.
func trickle(nc net.Conn, s string, interval time.Duration) {
	for i := range len(s) {
		nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write([]byte{s[i]}); err != nil {
			return
		}
		time.Sleep(interval)
	}
}

// expectStreamError reads until a stream error and fails t unless its
// condition is one of want.
// readStreamError reads until a stream error and returns its condition,
// or the read error that ended the stream first.
func readStreamError(c *xmpptest.Conn) (string, error) {
	for {
		el, err := c.ReadElement(10 * time.Second)
		if err != nil {
			return "", err
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			for _, ch := range el.Elements() {
				if ch.Name.Space == stanza.NSStreams && ch.Name.Local != "text" {
					return ch.Name.Local, nil
				}
			}
			return "", errors.New("stream error without a condition")
		}
	}
}

func expectStreamError(t *testing.T, c *xmpptest.Conn, want ...string) {
	t.Helper()
	if got := streamErrorCondition(t, c); !slices.Contains(want, got) {
		t.Errorf("stream error %s, want one of %v", got, want)
	}
}

// unauthenticatedFlood opens n connections that send a stream header and
// then nothing, measures what the server holds for them (heap and stacks
// of the whole process, which also holds the client ends), and checks
// that the negotiation timeout closes them all.
func unauthenticatedFlood(t *testing.T, srv *xmpptest.Server, n int) {
	before := memInUse()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	buf := make([]byte, 4096)
	for range n {
		nc, err := net.DialTimeout("tcp", srv.C2S, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, nc)
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write([]byte(streamOpen)); err != nil {
			t.Fatalf("write: %v", err)
		}
		// Read up to the features: the server has then set the stream up.
		var got []byte
		for !bytes.Contains(got, []byte("</stream:features>")) {
			k, err := nc.Read(buf)
			if err != nil {
				t.Fatalf("reading features: %v", err)
			}
			got = append(got, buf[:k]...)
		}
	}
	after := memInUse()
	per := (int64(after) - int64(before)) / int64(n)
	t.Logf("%d unauthenticated connections: %d KiB in use (heap and stacks, both ends), %d bytes per connection", n, (int64(after)-int64(before))/1024, per)
	if per > 64<<10 {
		t.Errorf("%d bytes per unauthenticated connection", per)
	}
	// The negotiation timeout (3s) ends every one of them.
	deadline := time.Now().Add(10 * time.Second)
	for _, nc := range conns {
		nc.SetReadDeadline(deadline)
		for {
			if _, err := nc.Read(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("an unauthenticated connection outlived the negotiation timeout")
				}
				break
			}
		}
	}
}

func memInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// chatLoad keeps two clients sending each other numbered, timestamped
// messages until stopped.
type chatLoad struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	sent     map[string]int // by sender: messages sent
	received map[string][]int
	late     []string
	// maxLatency is the longest a message took.
	maxLatency time.Duration
	errs       []error
}

const chatInterval = 20 * time.Millisecond

func startChat(a, b *xmpptest.Client) *chatLoad {
	ch := &chatLoad{stop: make(chan struct{}), sent: map[string]int{}, received: map[string][]int{}}
	for _, pair := range [][2]*xmpptest.Client{{a, b}, {b, a}} {
		ch.wg.Add(2)
		go ch.send(pair[0], pair[1])
		go ch.receive(pair[1], pair[0])
	}
	return ch
}

func (ch *chatLoad) fail(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.errs = append(ch.errs, err)
}

func (ch *chatLoad) send(from, to *xmpptest.Client) {
	defer ch.wg.Done()
	tick := time.NewTicker(chatInterval)
	defer tick.Stop()
	for i := 0; ; i++ {
		body := fmt.Sprintf("%d %d", i, time.Now().UnixNano())
		select {
		case <-ch.stop:
			body = "done " + strconv.Itoa(i)
		case <-tick.C:
		}
		msg := fmt.Sprintf("<message to='%s' type='chat' id='c%d'><body>%s</body></message>", to.JID.Bare(), i, body)
		from.NetConn().SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := from.NetConn().Write([]byte(msg)); err != nil {
			ch.fail(fmt.Errorf("%s sending: %w", from.JID, err))
			return
		}
		if strings.HasPrefix(body, "done") {
			ch.mu.Lock()
			ch.sent[from.JID.Bare().String()] = i
			ch.mu.Unlock()
			return
		}
	}
}

func (ch *chatLoad) receive(c, from *xmpptest.Client) {
	defer ch.wg.Done()
	sender := from.JID.Bare().String()
	for {
		el, err := c.ReadElement(30 * time.Second)
		if err != nil {
			ch.fail(fmt.Errorf("%s reading: %w", c.JID, err))
			return
		}
		if el.Name.Local == "iq" && el.Get("type") == "get" {
			// A ping from the server (idle_timeout): answer it.
			c.NetConn().Write(stanza.Append(nil, stanza.ResultReply(el, nil), stanza.NSClient))
			continue
		}
		if el.Name.Local != "message" || el.Get("from") == "" || !strings.HasPrefix(el.Get("from"), sender) {
			continue
		}
		body := el.ChildText("", "body")
		if strings.HasPrefix(body, "done ") {
			return
		}
		var i int
		var sentAt int64
		if _, err := fmt.Sscanf(body, "%d %d", &i, &sentAt); err != nil {
			ch.fail(fmt.Errorf("%s: odd body %q", c.JID, body))
			continue
		}
		d := time.Since(time.Unix(0, sentAt))
		ch.mu.Lock()
		ch.received[sender] = append(ch.received[sender], i)
		ch.maxLatency = max(ch.maxLatency, d)
		if d > maxChatLatency {
			ch.late = append(ch.late, fmt.Sprintf("%s message %d took %v", sender, i, d))
		}
		ch.mu.Unlock()
	}
}

func (ch *chatLoad) stopAndCheck(t *testing.T) {
	t.Helper()
	close(ch.stop)
	ch.wg.Wait()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, err := range ch.errs {
		t.Error(err)
	}
	for sender, n := range ch.sent {
		got := ch.received[sender]
		if len(got) != n {
			t.Errorf("%s sent %d messages, %d arrived", sender, n, len(got))
		}
		for i, v := range got {
			if v != i {
				t.Errorf("%s: message %d arrived as number %d (lost, duplicated or reordered)", sender, i, v)
				break
			}
		}
		t.Logf("%s: %d messages delivered during the attacks", sender, len(got))
	}
	if len(ch.sent) != 2 {
		t.Errorf("senders finished: %v", ch.sent)
	}
	t.Logf("longest delivery: %v", ch.maxLatency)
	for _, l := range ch.late {
		t.Error(l)
	}
}

package server_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hearth/jid"
	"hearth/stanza"
	"hearth/xmpptest"
)

// TestSoak runs 8 clients (HEARTH_SOAK_CLIENTS) that message each other
// for HEARTH_SOAK (default 10s; -short skips the test) while dropping
// their connections at random moments and resuming their sessions (XEP-0198),
// resending what the server had not acknowledged. Every message must
// reach its recipient exactly once, and once all have logged out the
// server's goroutines must be back to what they were before.
//
// The test is not parallel: it counts the process's goroutines, which
// other tests running at the same time would change.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	duration := 10 * time.Second
	if s := os.Getenv("HEARTH_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("HEARTH_SOAK: %v", err)
		}
		duration = d
	}
	soakClients := 8
	if s := os.Getenv("HEARTH_SOAK_CLIENTS"); s != "" {
		soakClients, _ = strconv.Atoi(s)
	}
	srv, stop := xmpptest.NewServerAt(t, t.TempDir(), "")
	s := &soak{srv: srv, received: map[string]int{}, expected: map[string]string{}}
	for i := range soakClients {
		srv.AddUser(t, soakUser(i), "pw-soak-1")
	}
	time.Sleep(100 * time.Millisecond) // let the listeners settle
	baseGoroutines, baseHeap := busyGoroutines(), heapInUse()

	s.sendersLeft.Store(int64(soakClients))
	s.ackedAll = make(chan struct{})
	// Plain goroutines, not parallel subtests: -parallel would run only
	// some of the clients at a time, and they wait for each other.
	// Everyone has stream management on before anyone sends: what
	// arrives before <enabled/> is not counted by the server.
	conns := make([]*soakConn, soakClients)
	for i := range conns {
		sc := &soakConn{t: goroutineTB{t}, s: s, user: soakUser(i)}
		cl := srv.Login(t, sc.user, "pw-soak-1", "soak")
		sc.c, sc.id = cl.Conn, enableSM(t, cl)
		conns[i] = sc
	}
	var wg sync.WaitGroup
	for i, sc := range conns {
		wg.Go(func() { sc.run(i, soakClients, duration) })
	}
	wg.Wait()

	s.mu.Lock()
	for body, to := range s.expected {
		if n := s.received[body]; n != 1 {
			t.Errorf("%s to %s arrived %d times", body, to, n)
		}
	}
	t.Logf("%d clients, %v: %d messages, %d received, %d resumptions", soakClients, duration, len(s.expected), len(s.received), s.resumptions.Load())
	s.mu.Unlock()

	// Every client closed its stream: no session may stay (hibernating
	// sessions hold no goroutine, so the count below would not see one).
	deadline := time.Now().Add(15 * time.Second)
	for i := range soakClients {
		bare, err := jid.Parse(soakUser(i) + "@localhost")
		if err != nil {
			t.Fatal(err)
		}
		for len(srv.Router().Sessions(bare)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := len(srv.Router().Sessions(bare)); n > 0 {
			t.Errorf("%s has %d sessions after closing its stream", bare, n)
		}
	}
	// Closed streams linger for their close grace (2s); then everything
	// the sessions started must be gone.
	for busyGoroutines() > baseGoroutines && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := busyGoroutines(); n > baseGoroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the soak, %d before\n%s", n, baseGoroutines, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("heap in use: %d KiB before, %d KiB after", baseHeap>>10, heapInUse()>>10)

	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(8 * time.Second):
		buf := make([]byte, 1<<20)
		t.Errorf("the server takes more than 8s to shut down after the soak\n%s", buf[:runtime.Stack(buf, true)])
		<-stopped
	}
}

// goroutineTB lets a goroutine other than the test's fail the test:
// Fatal marks the test failed and ends only the calling goroutine.
type goroutineTB struct{ testing.TB }

func (g goroutineTB) Fatal(args ...any) {
	g.TB.Helper()
	g.TB.Error(args...)
	runtime.Goexit()
}

func (g goroutineTB) Fatalf(format string, args ...any) {
	g.TB.Helper()
	g.TB.Errorf(format, args...)
	runtime.Goexit()
}

func (g goroutineTB) FailNow() {
	g.TB.Fail()
	runtime.Goexit()
}

func soakUser(i int) string { return "soak" + strconv.Itoa(i) }

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

type soak struct {
	srv *xmpptest.Server

	mu       sync.Mutex
	expected map[string]string // body -> recipient
	received map[string]int    // body -> times received by its recipient

	resumptions atomic.Int64
	sendersLeft atomic.Int64
	ackedAll    chan struct{} // closed when every client's messages are acknowledged
}

// soakConn is one client's view of its XEP-0198 session.
type soakConn struct {
	t      testing.TB
	s      *soak
	user   string
	c      *xmpptest.Conn
	id     string   // resumption id
	inH    uint32   // stanzas received since <enable/>
	outH   uint32   // stanzas the server acknowledged
	unaked []string // sent, not yet acknowledged, in order
}

// run sends messages to random clients for d, dropping the connection
// now and then, then waits until every message is acknowledged and
// received, and logs out.
func (sc *soakConn) run(i, n int, d time.Duration) {
	s, t := sc.s, sc.t
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))

	end := time.Now().Add(d)
	for seq := 0; time.Now().Before(end); seq++ {
		peer := rng.IntN(n)
		body := fmt.Sprintf("%s-%d", sc.user, seq)
		s.mu.Lock()
		s.expected[body] = soakUser(peer)
		s.mu.Unlock()
		sc.send(fmt.Sprintf("<message to='%s@localhost/soak' type='chat'><body>%s</body></message>", soakUser(peer), body))
		if seq%3 == 2 {
			sc.write("<r xmlns='urn:xmpp:sm:3'/>")
		}
		sc.drain(time.Duration(5+rng.IntN(20)) * time.Millisecond)
		if rng.IntN(60) == 0 {
			sc.cutAndResume()
		}
	}
	// Everything sent must be acknowledged, then everyone's messages
	// received, before anyone logs out.
	for len(sc.unaked) > 0 {
		sc.write("<r xmlns='urn:xmpp:sm:3'/>")
		sc.drain(50 * time.Millisecond)
	}
	if s.sendersLeft.Add(-1) == 0 {
		close(s.ackedAll)
	}
	wait := time.After(30 * time.Second)
	for {
		select {
		case <-wait:
			t.Fatal("messages still missing after 30s")
		case <-s.ackedAll:
			if s.allReceived() {
				// Acknowledge everything before closing (XEP-0198 §4):
				// what a session ends with unacknowledged is redelivered.
				sc.drain(100 * time.Millisecond)
				sc.close()
				return
			}
		default:
		}
		sc.drain(20 * time.Millisecond)
	}
}

// close acknowledges what it received and closes the stream, reading
// until the server closes its side: closing a socket with unread input
// resets the connection, and the server would take the reset for a drop
// and keep the session for resumption.
func (sc *soakConn) close() {
	sc.write(fmt.Sprintf("<a xmlns='urn:xmpp:sm:3' h='%d'/></stream:stream>", sc.inH))
	for {
		if _, err := sc.c.ReadElement(5 * time.Second); err != nil {
			if !errors.Is(err, stanza.ErrStreamEnd) {
				sc.t.Errorf("%s: closing: %v", sc.user, err)
			}
			sc.c.NetConn().Close()
			return
		}
	}
}

func (s *soak) allReceived() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for body := range s.expected {
		if s.received[body] == 0 {
			return false
		}
	}
	return true
}

func (sc *soakConn) send(xml string) {
	sc.unaked = append(sc.unaked, xml)
	sc.write(xml)
}

// write writes raw XML with a fresh deadline: after a write timed out, a
// TLS connection writes nothing more.
func (sc *soakConn) write(xml string) {
	sc.c.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := sc.c.NetConn().Write([]byte(xml)); err != nil {
		sc.t.Fatalf("%s: write: %v", sc.user, err)
	}
}

// acked drops what the server's h acknowledges.
func (sc *soakConn) acked(h string) {
	n, err := strconv.ParseUint(h, 10, 32)
	if err != nil || uint32(n)-sc.outH > uint32(len(sc.unaked)) {
		sc.t.Fatalf("%s: server acknowledged h=%s; %d acknowledged, %d outstanding", sc.user, h, sc.outH, len(sc.unaked))
	}
	sc.unaked = sc.unaked[uint32(n)-sc.outH:]
	sc.outH = uint32(n)
}

// drain reads what arrives within d, answering the server's <r/>.
func (sc *soakConn) drain(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		el, err := sc.c.ReadElement(left)
		if err != nil {
			if strings.Contains(err.Error(), "timeout") {
				return
			}
			sc.t.Fatalf("%s: read: %v", sc.user, err)
		}
		sc.handle(el)
	}
}

func (sc *soakConn) handle(el *stanza.Element) {
	if el.Name.Space == nsSM {
		switch el.Name.Local {
		case "r":
			sc.write(fmt.Sprintf("<a xmlns='urn:xmpp:sm:3' h='%d'/>", sc.inH))
		case "a":
			sc.acked(el.Get("h"))
		default:
			sc.t.Fatalf("%s: unexpected %s", sc.user, el)
		}
		return
	}
	sc.inH++
	if el.Name.Local != "message" {
		return
	}
	if el.Get("type") == "error" {
		sc.t.Errorf("%s: message bounced: %s", sc.user, el)
		return
	}
	body := el.ChildText("", "body")
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	if to, ok := sc.s.expected[body]; !ok || to != sc.user {
		sc.t.Errorf("%s: unexpected message %s", sc.user, el)
		return
	}
	sc.s.received[body]++
}

// cutAndResume drops the TCP connection without closing the stream,
// resumes the session on a new one and resends what the server had not
// handled.
func (sc *soakConn) cutAndResume() {
	sc.c.NetConn().Close()
	c, resumed := resume(sc.t, sc.s.srv, sc.user, "pw-soak-1", sc.id, int(sc.inH))
	if resumed.Name.Local != "resumed" {
		sc.t.Fatalf("%s: resume: %s", sc.user, resumed)
	}
	sc.c = c
	sc.s.resumptions.Add(1)
	sc.acked(resumed.Get("h"))
	for _, xml := range sc.unaked {
		sc.write(xml)
	}
}

// busyGoroutines counts the goroutines, leaving out the stream package's
// workers that wait for a job (stream/idle.go keeps up to 64 of them).
func busyGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && !(strings.Contains(g, "[chan receive") && strings.Contains(g, "hearth/stream.apartWorker(")) {
			n++
		}
	}
	return n
}

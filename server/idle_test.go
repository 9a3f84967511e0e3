package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
	"hearth/xmpptest"
)

// idleClientsEnv makes the test binary a client process for
// BenchmarkIdleSession instead of running tests: "addr n password".
const idleClientsEnv = "HEARTH_IDLE_CLIENTS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(idleClientsEnv); spec != "" {
		os.Exit(runIdleClients(spec))
	}
	os.Exit(m.Run())
}

// BenchmarkIdleSession reports the server's memory per idle authenticated
// TLS session (issue 10): HEARTH_IDLE_SESSIONS sessions (default 500) of
// as many accounts log in over STARTTLS with SCRAM, fetch the roster, send
// initial presence and stay idle. The clients run in a child process so
// that only the server's memory counts. Reported per session: live heap
// after a GC (heap-B/session), goroutine stacks (stack-B/session) and
// their sum (B/session). The process's RSS also counts the garbage the
// collector lets grow up to its goal (about as much again as the live
// heap with GOGC=100): compare with hearth-bench -scenario idle.
//
//	go test ./server -run '^$' -bench IdleSession -benchtime 1x
func BenchmarkIdleSession(b *testing.B) {
	n := 500
	if v, err := strconv.Atoi(os.Getenv("HEARTH_IDLE_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	const password = "idle-password"
	srv := xmpptest.NewServer(b, "")
	for i := range n {
		srv.AddUser(b, "idle"+strconv.Itoa(i), password)
	}
	for range b.N {
		heap, stack := idleSessionMemory(b, srv.C2S, n, password)
		b.ReportMetric(heap, "heap-B/session")
		b.ReportMetric(stack, "stack-B/session")
		b.ReportMetric(heap+stack, "B/session")
	}
}

// idleSessionMemory holds n idle sessions from a child process and returns
// the growth of the live heap and of the stacks, per session.
func idleSessionMemory(b *testing.B, addr string, n int, password string) (heap, stack float64) {
	b.Helper()
	before := liveMemory()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", idleClientsEnv, addr, n, password))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		in.Close() // the clients hang up
		cmd.Wait()
	}()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-ready:
		if line != "ready" {
			b.Fatalf("client process: %q", line)
		}
	case <-time.After(5 * time.Minute):
		b.Fatal("client process not ready after 5 minutes")
	}
	time.Sleep(500 * time.Millisecond) // the last replies are written
	after := liveMemory()
	if path := os.Getenv("HEARTH_IDLE_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	return float64(after.heap-before.heap) / float64(n), float64(after.stack-before.stack) / float64(n)
}

// writeHeapProfile writes the in-use heap to path (after the GCs of
// liveMemory), for go tool pprof -inuse_space.
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

type memory struct{ heap, stack int64 }

func liveMemory() memory {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{heap: int64(ms.HeapAlloc), stack: int64(ms.StackInuse)}
}

// runIdleClients is the child process of BenchmarkIdleSession: it logs in
// the sessions, says "ready" and holds them until its stdin closes.
func runIdleClients(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 3 {
		fmt.Println("bad spec", spec)
		return 2
	}
	addr, password := f[0], f[2]
	n, err := strconv.Atoi(f[1])
	if err != nil {
		fmt.Println("bad count", f[1])
		return 2
	}
	ctx := context.Background()
	sessions := make([]*client.Session, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := idleLogin(ctx, addr, "idle"+strconv.Itoa(i)+"@localhost", password)
			if err != nil {
				errs <- err
				return
			}
			sessions[i] = s
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fmt.Println("login:", err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, s := range sessions {
		s.Close()
	}
	return 0
}

func idleLogin(ctx context.Context, addr, user, password string) (*client.Session, error) {
	s, err := client.Dial(ctx, client.Config{Addr: addr, JID: jid.MustParse(user), Password: password, Resource: "idle", Insecure: true, Timeout: time.Minute})
	if err != nil {
		return nil, err
	}
	roster := stanza.New(stanza.NSClient, "iq", "type", stanza.Get).Append(stanza.New("jabber:iq:roster", "query"))
	if _, err := s.SendIQ(ctx, roster); err != nil {
		return nil, err
	}
	return s, s.Send(stanza.New(stanza.NSClient, "presence"))
}

// chunkConn writes in pieces of at most size bytes with a pause between
// them, so that the server gets TLS records and stanzas in parts.
type chunkConn struct {
	net.Conn
	size int
}

func (c chunkConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(c.size, len(p))
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
		time.Sleep(2 * time.Millisecond)
	}
	return n, nil
}

// TestIdleStreamSplitInput: a bound stream that waits for input between
// bursts (stream/idle.go) reads TLS records and stanzas that arrive in
// pieces, several stanzas in one record, and answers each.
func TestIdleStreamSplitInput(t *testing.T) {
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "alice-password")
	nc, err := net.DialTimeout("tcp", srv.C2STLS, xmpptest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tc := tls.Client(chunkConn{nc, 7}, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}})
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	dec := stanza.NewDecoder(tc, stanza.Limits{})
	open := func() {
		t.Helper()
		io.WriteString(tc, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>")
		if _, err := dec.StreamStart(); err != nil {
			t.Fatal(err)
		}
		if f, err := dec.Next(); err != nil || f.Name.Local != "features" {
			t.Fatalf("features: %v %v", f, err)
		}
	}
	next := func(what string) *stanza.Element {
		t.Helper()
		el, err := dec.Next()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return el
	}
	open()
	io.WriteString(tc, plainAuth("", "alice", "alice-password"))
	if el := next("auth"); el.Name.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	dec.Restart()
	open()
	io.WriteString(tc, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	if el := next("bind"); el.Get("type") != "result" {
		t.Fatalf("bind: %s", el)
	}
	time.Sleep(50 * time.Millisecond) // the stream is idle: its reader waits
	// One record in pieces, then three stanzas in one record.
	io.WriteString(tc, "<iq type='get' id='p0'><ping xmlns='urn:xmpp:ping'/></iq>")
	io.WriteString(tc, "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='p3'><ping xmlns='urn:xmpp:ping'/></iq>")
	// A stanza in two records, with a pause between them.
	io.WriteString(tc, "<iq type='get' id='p4'><ping xmlns='urn:")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(tc, "xmpp:ping'/></iq>")
	for i := range 5 {
		el := next("ping")
		if want := "p" + strconv.Itoa(i); el.Get("id") != want || el.Get("type") != "result" {
			t.Fatalf("reply %d: %s, want the result of %s", i, el, want)
		}
	}
}

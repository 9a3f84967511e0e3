package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/storage"
	"hearth/storage/sqlstore"
	"hearth/xmpptest"
)

// TestCrashConsistency runs the real hearth binary on SQLite, kills it
// with SIGKILL at random moments while alice sends messages to bob
// (online, stream management on) and carol (never online), and restarts
// it, for HEARTH_CRASH_ROUNDS rounds (default 3). Afterwards the database
// must pass PRAGMA integrity_check, every message the server acknowledged
// (XEP-0198 <a/>) to carol must be in her offline store, every one
// acknowledged to bob must be stored for him (offline store or archive:
// the acknowledgement waits for the archive writes, docs/durability.md),
// every acknowledged message must be in alice's archive, and no archive
// holds a message twice.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server binary; skipped with -short")
	}
	t.Parallel()
	rounds := 3
	if s := os.Getenv("HEARTH_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	bin := hearthBinary(t)
	addr, tlsAddr := freeAddr(t), freeAddr(t)
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "hearth.toml")
	body := fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = [%q]\nc2s_tls = [%q]\n[offline]\nmax_messages = 100000\n", data, addr, tlsAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if code, _, errOut := runCLI(t, "pw-"+u+"-1\n", "adduser", u+"@localhost", "-c", cfg, "--password-stdin"); code != 0 {
			t.Fatalf("adduser %s: %s", u, errOut)
		}
	}

	var l ledger
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	srv := &xmpptest.Server{C2S: addr, Domain: "localhost"}
	for round := range rounds {
		cmd := exec.Command(bin, "serve", "-c", cfg)
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitListening(t, addr)
		l.round(t, srv, round, time.Duration(100+rng.IntN(1400))*time.Millisecond, cmd)
		cmd.Wait()
	}

	st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(data, "hearth.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("opening the database after the last crash: %v", err)
	}
	defer st.Close()
	checkIntegrity(t, filepath.Join(data, "hearth.db"))
	stored := func(archive, owner string) map[string]int {
		res, err := st.Archive(archive).Query(context.Background(), owner, storage.Query{})
		if err != nil {
			t.Fatalf("%s of %s: %v", archive, owner, err)
		}
		bodies := map[string]int{}
		for _, it := range res.Items {
			if b := bodyOf(string(it.Data)); b != "" {
				bodies[b]++
			}
		}
		return bodies
	}
	carolOffline, carolMAM := stored("offline", "carol@localhost"), stored("mam", "carol@localhost")
	bobOffline, bobMAM, aliceMAM := stored("offline", "bob@localhost"), stored("mam", "bob@localhost"), stored("mam", "alice@localhost")

	var lost, deliveredNotArchived int
	for _, m := range l.acked {
		if l.bounced[m.body] {
			continue // answered with an error: not the server's to keep
		}
		if aliceMAM[m.body] == 0 {
			lost++
			t.Errorf("%s to %s was acknowledged but is not in alice's archive", m.body, m.to)
		}
		switch m.to {
		case "carol":
			if carolOffline[m.body] == 0 {
				lost++
				t.Errorf("%s to carol was acknowledged but is not in her offline store", m.body)
			}
		case "bob":
			if bobOffline[m.body] == 0 && bobMAM[m.body] == 0 {
				lost++
				t.Errorf("%s to bob was acknowledged but is neither in his archive nor in his offline store (delivered: %v)", m.body, l.received[m.body] > 0)
			}
		}
	}
	for b := range l.received {
		if bobMAM[b] == 0 {
			deliveredNotArchived++
		}
	}
	for name, a := range map[string]map[string]int{"carol's offline store": carolOffline, "carol's archive": carolMAM,
		"bob's offline store": bobOffline, "bob's archive": bobMAM, "alice's archive": aliceMAM} {
		for b, n := range a {
			if n > 1 {
				t.Errorf("%s holds %s %d times", name, b, n)
			}
		}
	}
	for b, n := range l.received {
		if n > 1 {
			t.Logf("bob received %s %d times (at-least-once delivery across a crash)", b, n)
		}
	}
	t.Logf("%d rounds: %d messages sent, %d acknowledged, %d bounced, %d delivered to bob; %d lost; %d delivered but not in bob's archive (only unacknowledged ones may be)",
		rounds, l.sent, len(l.acked), len(l.bounced), len(l.received), lost, deliveredNotArchived)
}

// ledger records what the clients sent, saw acknowledged and received.
type ledger struct {
	mu       sync.Mutex
	sent     int
	acked    []sentMessage
	received map[string]int  // bodies bob received
	bounced  map[string]bool // ids of alice's messages answered with an error
}

type sentMessage struct{ to, body string }

// round logs bob and alice in, lets alice send until the kill after d,
// and records what the server acknowledged and delivered.
func (l *ledger) round(t *testing.T, srv *xmpptest.Server, round int, d time.Duration, cmd *exec.Cmd) {
	t.Helper()
	if l.received == nil {
		l.received, l.bounced = map[string]int{}, map[string]bool{}
	}
	bob := srv.Login(t, "bob", "pw-bob-1", "phone")
	bob.Send("<enable xmlns='urn:xmpp:sm:3'/><presence/>")
	alice := srv.Login(t, "alice", "pw-alice-1", "laptop")
	alice.Send("<enable xmlns='urn:xmpp:sm:3'/>")

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // bob reads until the connection dies
		defer wg.Done()
		for {
			el, err := bob.ReadElement(30 * time.Second)
			if err != nil {
				return
			}
			if el.Name.Local == "message" {
				if b := el.ChildText("", "body"); b != "" {
					l.mu.Lock()
					l.received[b]++
					l.mu.Unlock()
				}
			}
			if el.Name.Local == "r" {
				// What bob received does not matter here: a dropped
				// connection sends the unacknowledged messages to offline
				// storage, and bob reads them at his next login.
				bob.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
				bob.NetConn().Write([]byte("<a xmlns='urn:xmpp:sm:3' h='0'/>"))
			}
		}
	}()
	var mu sync.Mutex
	var sent []sentMessage
	acked := 0
	go func() { // alice reads acknowledgements
		defer wg.Done()
		for {
			el, err := alice.ReadElement(30 * time.Second)
			if err != nil {
				return
			}
			if el.Name.Local == "message" && el.Get("type") == "error" {
				l.mu.Lock()
				l.bounced[el.Get("id")] = true
				l.mu.Unlock()
			}
			if el.Name.Local == "a" {
				// h counts the stanzas handled since <enable/>: alice
				// sends nothing but these messages after it.
				h, _ := strconv.Atoi(el.Get("h"))
				mu.Lock()
				l.mu.Lock()
				for ; acked < min(h, len(sent)); acked++ {
					l.acked = append(l.acked, sent[acked])
				}
				l.mu.Unlock()
				mu.Unlock()
			}
		}
	}()
	go func() { // alice sends until the connection dies
		defer wg.Done()
		for i := 0; ; i++ {
			to := "bob"
			if i%2 == 1 {
				to = "carol"
			}
			m := sentMessage{to: to, body: fmt.Sprintf("r%d-m%d", round, i)}
			mu.Lock()
			sent = append(sent, m)
			mu.Unlock()
			out := fmt.Sprintf("<message to='%s@localhost' type='chat' id='%s'><body>%s</body></message>", to, m.body, m.body)
			if i%4 == 3 {
				out += "<r xmlns='urn:xmpp:sm:3'/>"
			}
			alice.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := alice.NetConn().Write([]byte(out)); err != nil {
				return
			}
			l.mu.Lock()
			l.sent++
			l.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(d)
	cmd.Process.Kill()
	wg.Wait()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server not listening on %s", addr)
}

func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("PRAGMA integrity_check: %q, %v", res, err)
	}
}

// bodyOf returns the text of the first <body> in a serialised message.
func bodyOf(data string) string {
	_, rest, ok := strings.Cut(data, "<body>")
	if !ok {
		return ""
	}
	b, _, _ := strings.Cut(rest, "</body>")
	return b
}

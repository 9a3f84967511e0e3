package server_test

import (
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

func isPing(el *stanza.Element) bool {
	return el.Name.Local == "iq" && el.Get("type") == "get" && el.FirstElement() != nil && el.FirstElement().Name.Space == "urn:xmpp:ping"
}

// TestIdlePing: a silent bound stream is pinged after idle_timeout; an
// answer keeps it, silence after the ping ends it with connection-timeout,
// and the account can log in again at once.
func TestIdlePing(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nidle_timeout = 1\nping_timeout = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")

	ping := alice.Expect("a ping", isPing)
	if ping.Get("from") != "localhost" || ping.Get("to") != alice.JID.String() {
		t.Errorf("ping %s", ping)
	}
	alice.Send("<iq type='result' id='" + ping.Get("id") + "' to='localhost'/>")
	// Answered: the stream lives on and is pinged again later.
	alice.Expect("a second ping", isPing)
	if got := streamErrorCondition(t, alice.Conn); got != "connection-timeout" {
		t.Errorf("silent stream ended with %s, want connection-timeout", got)
	}
	again := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	again.Send("<message to='alice@localhost/phone' type='chat'><body>back</body></message>")
	again.Expect("own message", isMessage("back"))
}

// TestSlowlorisCut: an element started and never finished ends the stream
// with policy-violation once idle_timeout and stanza_timeout have passed,
// however slowly bytes keep trickling in.
func TestSlowlorisCut(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nidle_timeout = 1\nping_timeout = 30\nstanza_timeout = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	start := time.Now()
	alice.Send("<message to='alice@localhost' type='chat'><body>")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 8 {
			time.Sleep(400 * time.Millisecond)
			if _, err := alice.NetConn().Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	if got := streamErrorCondition(t, alice.Conn); got != "policy-violation" {
		t.Errorf("stalled element ended the stream with %s, want policy-violation", got)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("cut after %v, before idle_timeout + stanza_timeout", d)
	}
	<-done
}

// TestStanzaRateLimit: a connection over stanzas_per_second is read more
// slowly, and nothing it sent is lost.
func TestStanzaRateLimit(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nstanzas_per_second = 10\nburst_stanzas = 10\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	const n = 30
	var b strings.Builder
	for i := range n {
		b.WriteString("<iq type='get' id='p" + string(rune('a'+i)) + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	}
	start := time.Now()
	alice.Send(b.String())
	for range n {
		alice.Expect("a ping result", func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.Get("type") == "result" })
	}
	// 10 at once, then 10 per second: the last is read after 2 s at least.
	if d := time.Since(start); d < 1800*time.Millisecond {
		t.Errorf("%d stanzas answered in %v; the limit allows no faster than 2s", n, d)
	}
}

// TestByteRateLimit: bytes_per_second slows a connection the same way.
func TestByteRateLimit(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nbytes_per_second = 4096\nburst_bytes = 4096\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	body := strings.Repeat("y", 2000)
	start := time.Now()
	for range 6 {
		alice.Send("<message to='alice@localhost/phone' type='chat'><body>" + body + "</body></message>")
	}
	for range 6 {
		alice.Expect("own message", isMessage(body))
	}
	// About 12.4 KB at 4 KiB/s after a 4 KiB burst: 2 s at least.
	if d := time.Since(start); d < 1800*time.Millisecond {
		t.Errorf("12 KB read in %v at 4 KiB/s", d)
	}
}

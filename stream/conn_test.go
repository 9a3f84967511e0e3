package stream

import (
	"net"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
)

// TestWriterOnlyWhileQueued: a connection runs a writer goroutine only
// while it has output queued; Close still drains the queue and the tail.
func TestWriterOnlyWhileQueued(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	c := newConn(server, stanza.Limits{}, 1<<20, time.Second)
	got := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				got <- string(buf[:n])
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	writing := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.writing
	}

	c.Send(stanza.New(stanza.NSClient, "message", "id", "early"))
	if writing() {
		t.Fatal("a writer runs before negotiation ended")
	}
	c.startWriters()
	if s := <-got; !strings.Contains(s, "early") {
		t.Fatalf("read %q", s)
	}
	waitFor(t, "the writer to return", func() bool { return !writing() })

	c.Send(stanza.New(stanza.NSClient, "message", "id", "later"))
	if s := <-got; !strings.Contains(s, "later") {
		t.Fatalf("read %q", s)
	}
	waitFor(t, "the writer to return", func() bool { return !writing() })

	c.Close(&stanza.StreamError{Condition: "system-shutdown"})
	var rest strings.Builder
	for s := range got {
		rest.WriteString(s)
		if strings.HasSuffix(rest.String(), "</stream:stream>") {
			break
		}
	}
	if !strings.Contains(rest.String(), "system-shutdown") {
		t.Fatalf("after Close read %q", rest.String())
	}
	select {
	case <-c.drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not drain")
	}
	if c.Send(stanza.New(stanza.NSClient, "message")) {
		t.Error("Send accepted after Close")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

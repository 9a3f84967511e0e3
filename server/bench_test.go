package server_test

import (
	"strings"
	"testing"

	"hearth/xmpptest"
)

// BenchmarkLocalChat measures one chat message through the whole server:
// TLS read, parse, route to a local full JID, encode, TLS write, with the
// sending and receiving clients in the same process.
func BenchmarkLocalChat(b *testing.B) {
	srv := xmpptest.NewServer(b, "[limits]\nbytes_per_second = 0") // measure the server, not its shaper
	srv.AddUser(b, "alice", "pw-alice-1")
	srv.AddUser(b, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(b, "alice", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(b, "bob", "pw-bob-123", "phone")
	msg := "<message to='bob@localhost/phone' type='chat' id='x'><body>Hello Bob, this is a typical chat message of moderate length.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
	// Send in batches so the benchmark measures throughput, not round trips.
	const batch = 50
	payload := strings.Repeat(msg, batch)
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan int)
	go func() {
		n := 0
		for n < b.N {
			if el := bob.Next(); el.Name.Local == "message" {
				n++
			}
		}
		done <- n
	}()
	for sent := 0; sent < b.N; sent += batch {
		if b.N-sent < batch {
			alice.Send(strings.Repeat(msg, b.N-sent))
		} else {
			alice.Send(payload)
		}
	}
	<-done
}

package server_test

import (
	"net"
	"testing"
	"time"

	"hearth/xmpptest"
)

// TestConnectionsPerIP: over [limits] connections_per_ip the server closes
// a new connection before reading anything; once one closes, the address
// may connect again.
func TestConnectionsPerIP(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[limits]\nconnections_per_ip = 2\nexempt_networks = []\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	first := srv.Login(t, "alice", "pw-alice-1", "one")
	srv.Login(t, "alice", "pw-alice-1", "two")

	// open connects and returns how many bytes the server answers a
	// stream header with (0 when it closes the connection).
	open := func() int {
		nc, err := net.Dial("tcp", srv.C2S)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := nc.Read(make([]byte, 512))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("a connection was left open without an answer")
		}
		return n
	}
	if n := open(); n != 0 {
		t.Fatalf("the third connection got %d bytes, want it closed", n)
	}
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for open() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no connection admitted after one closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

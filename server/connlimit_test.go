package server

import (
	"net"
	"testing"
	"time"

	"hearth/config"
)

func TestConnLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newConnLimiter(config.Limits{ConnectionsPerIP: 3, NewConnsPerIP: 4, ExemptNetworks: []string{"127.0.0.0/8"}})
	l.now = func() time.Time { return now }
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}
	b := &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 1}

	var held []func()
	for i := range 3 {
		release, ok := l.admit(a)
		if !ok {
			t.Fatalf("connection %d refused", i)
		}
		held = append(held, release)
	}
	if _, ok := l.admit(a); ok {
		t.Fatal("a fourth connection at once was admitted (connections_per_ip = 3)")
	}
	if _, ok := l.admit(b); !ok {
		t.Fatal("another address was refused")
	}
	held[0]()
	held[0]() // idempotent
	release, ok := l.admit(a)
	if !ok {
		t.Fatal("refused after one closed")
	}
	release()
	// The fifth new connection within the minute is over the rate of 4.
	if _, ok := l.admit(a); ok {
		t.Fatal("a fifth new connection in a minute was admitted (new_connections_per_ip = 4)")
	}
	now = now.Add(30 * time.Second) // two tokens back; 2 are open
	if _, ok := l.admit(a); !ok {
		t.Fatal("refused after the bucket refilled")
	}
	if _, ok := l.admit(a); ok {
		t.Fatal("admitted while 3 are open")
	}
	// Loopback is exempt.
	lo := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}
	for range 20 {
		if _, ok := l.admit(lo); !ok {
			t.Fatal("loopback was limited")
		}
	}
	// Idle addresses leave the table.
	now = now.Add(time.Hour)
	l.admit(b)
	if len(l.byIP) > 2 {
		t.Errorf("%d addresses kept", len(l.byIP))
	}
}

package turn

import (
	"net"
	"testing"
	"time"
)

// BenchmarkRelayRoundTrip measures one datagram of call media (200 bytes,
// an Opus frame with headers) through a UDP relay to a peer that echoes
// it, and back: the server relays two packets per round trip.
func BenchmarkRelayRoundTrip(b *testing.B) {
	s := startServer(b, Config{})
	_, relay, err := allocate(b, s, "alice@example.org", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			peer.WriteTo(buf[:n], from)
		}
	}()
	msg := make([]byte, 200)
	buf := make([]byte, 1500)
	// The first write creates the permission.
	relay.WriteTo(msg, peer.LocalAddr())
	relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := relay.ReadFrom(buf); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
			b.Fatal(err)
		}
		relay.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := relay.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
	// Client, server and peer run in this process: the CPU time is the
	// whole path's, an upper bound of the server's share.
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

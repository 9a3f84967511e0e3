package proxy65

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkRelay moves 64 KiB per op one way through an activated
// bytestream over loopback: the relay's cost per byte (allocations, and
// CPU time when run under a CPU-time measure).
func BenchmarkRelay(b *testing.B) {
	r, err := newRelay([]string{"127.0.0.1:0"}, limits{maxStreams: 10, pairTimeout: time.Minute, idleTimeout: time.Minute}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var served sync.WaitGroup
	served.Go(func() { r.serve(ctx) })
	defer func() { cancel(); served.Wait() }()
	hash := strings.Repeat("ab", 20)
	dial := func() net.Conn {
		nc, err := net.Dial("tcp", r.addrs()[0].String())
		if err != nil {
			b.Fatal(err)
		}
		nc.Write(request(hash, 0, 5, 1, 0))
		if _, err := io.ReadFull(nc, make([]byte, 2+5+hashLen+2)); err != nil {
			b.Fatal(err)
		}
		return nc
	}
	src, dst := dial(), dial()
	defer src.Close()
	defer dst.Close()
	if err := r.activate(hash, "user@example.org"); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	n := b.N
	go func() {
		for range n {
			src.Write(chunk)
		}
	}()
	buf := make([]byte, len(chunk))
	for range n {
		if _, err := io.ReadFull(dst, buf); err != nil {
			b.Fatal(err)
		}
	}
}

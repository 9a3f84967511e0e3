package server_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"testing"

	"hearth/xmpptest"
)

// BenchmarkUpload100MB measures the upload of a 100 MB file: one PUT over
// https into a slot, stored under data_dir (MB/s in the -bench output).
func BenchmarkUpload100MB(b *testing.B) {
	const size = 100_000_000
	srv := xmpptest.NewServer(b, webTOML+"\n[upload]\nmax_file_size = 200000000\nquota = 0\ndaily_quota = 0\n")
	srv.AddUser(b, "alice", "pw-alice-1")
	alice := srv.Login(b, "alice", "pw-alice-1", "bench")
	data := make([]byte, size)
	rand.Read(data)
	client := insecureHTTP()
	client.Timeout = 0
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		reply := requestSlot(alice, "big.bin", size, "application/octet-stream")
		put, _ := slotURLs(b, reply)
		put = localURL(srv, put)
		req, _ := http.NewRequest("PUT", put, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/octet-stream")
		b.StartTimer()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT: %s", resp.Status)
		}
	}
}

package stream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestTLSBuffersFound: the tls.Conn fields tlsbuf.go empties are where it
// looks for them. When a Go release changes them this fails, and idle TLS
// streams keep their handshake buffers (3.5 KiB each) until tlsbuf.go
// follows.
func TestTLSBuffersFound(t *testing.T) {
	if tlsFields == nil {
		t.Fatal("crypto/tls.Conn has no rawInput, input and hand fields of the expected types")
	}
}

// tlsPair returns the two ends of a TLS connection over loopback TCP,
// handshake done.
func tlsPair(t *testing.T) (server, client *tls.Conn) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		accepted <- nc
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	server = tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	client = tls.Client(cc, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
	t.Cleanup(func() { server.Close(); client.Close() })
	server.SetDeadline(time.Now().Add(10 * time.Second))
	client.SetDeadline(time.Now().Add(10 * time.Second))
	errc := make(chan error, 1)
	go func() { errc <- client.Handshake() }()
	if err := server.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return server, client
}

// TestReleaseTLSBuffers: after the handshake and between bursts the
// server's input buffers are emptied when they hold nothing, kept when
// they hold decrypted input not yet read, and the connection reads on.
func TestReleaseTLSBuffers(t *testing.T) {
	server, client := tlsPair(t)
	rawInput, input, hand := tlsInputs(server)
	if rawInput.Cap() == 0 || hand.Cap() == 0 {
		t.Fatalf("after the handshake: record buffer %d, handshake buffer %d bytes; want both grown", rawInput.Cap(), hand.Cap())
	}
	releaseTLSBuffers(server)
	if rawInput.Cap() != 0 || hand.Cap() != 0 {
		t.Fatalf("released: record buffer %d, handshake buffer %d bytes, want 0", rawInput.Cap(), hand.Cap())
	}
	read := func(want string) {
		t.Helper()
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(server, buf); err != nil || string(buf) != want {
			t.Fatalf("read %q, %v; want %q", buf, err, want)
		}
	}
	for i, msg := range []string{"first burst", "second burst"} {
		if _, err := io.WriteString(client, msg); err != nil {
			t.Fatal(err)
		}
		read(msg)
		releaseTLSBuffers(server)
		if rawInput.Cap() != 0 || input.Len() != 0 {
			t.Fatalf("burst %d: record buffer %d bytes after release, want 0", i, rawInput.Cap())
		}
	}
	// A record read in part: the rest stays for the next burst.
	io.WriteString(client, "half and half")
	read("half ")
	releaseTLSBuffers(server)
	if input.Len() != len("and half") || rawInput.Cap() == 0 {
		t.Fatalf("unread input %d bytes, record buffer %d after release; want %d kept", input.Len(), rawInput.Cap(), len("and half"))
	}
	read("and half")
	releaseTLSBuffers(server)
	if rawInput.Cap() != 0 {
		t.Fatalf("record buffer %d bytes after release, want 0", rawInput.Cap())
	}
}

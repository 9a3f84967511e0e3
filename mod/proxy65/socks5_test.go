package proxy65

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"hearth/jid"
)

// rw is a client's bytes to read and what the server wrote.
type rw struct {
	in  io.Reader
	out bytes.Buffer
}

func (c *rw) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *rw) Write(p []byte) (int, error) { return c.out.Write(p) }

func request(hash string, port uint16, prefix ...byte) []byte {
	b := append(prefix, 5, 1, 0, 3, byte(len(hash)))
	return append(append(b, hash...), byte(port>>8), byte(port))
}

func TestNegotiate(t *testing.T) {
	hash := strings.Repeat("ab", 20)
	greet := []byte{5, 2, 2, 0} // offers user/password and no-auth
	ok := []byte{5, 0}
	for _, tc := range []struct {
		name    string
		in      []byte
		hash    string
		refusal byte // 0: no refusal
		wrote   []byte
	}{
		{name: "ok", in: request(hash, 0, greet...), hash: hash, wrote: ok},
		{name: "uppercase hash", in: request(strings.ToUpper(hash), 0, greet...), hash: hash, wrote: ok},
		{name: "bad hash", in: request("example.org", 0, greet...), refusal: replyHostUnreachable},
		{name: "hash with g", in: request(strings.Repeat("g", 40), 0, greet...), refusal: replyHostUnreachable},
		{name: "port", in: request(hash, 5000, greet...), refusal: replyNotAllowed},
		{name: "ipv4", in: append(greet, 5, 1, 0, 1, 127, 0, 0, 1, 0, 0), refusal: replyAddressNotSupported},
		{name: "udp associate", in: append(greet, 5, 3, 0, 3), refusal: replyCommandNotSupported},
		{name: "no no-auth", in: []byte{5, 1, 2}, wrote: []byte{5, 0xff}},
		{name: "socks4", in: []byte{4, 1, 0, 80}},
		{name: "zero methods", in: []byte{5, 0}},
		{name: "http", in: []byte("GET / HTTP/1.0\r\n\r\n")},
		{name: "truncated methods", in: []byte{5, 3, 0}},
		{name: "truncated address", in: request(hash, 0, greet...)[:20], wrote: ok},
		{name: "request version", in: append(greet, 4, 1, 0, 3), wrote: ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rw{in: bytes.NewReader(tc.in)}
			got, err := negotiate(c)
			if tc.hash != "" {
				if err != nil || got != tc.hash {
					t.Fatalf("negotiate = %q, %v", got, err)
				}
			} else if err == nil {
				t.Fatalf("negotiate accepted %q", got)
			}
			var ref *refusal
			if errors.As(err, &ref) != (tc.refusal != 0) || tc.refusal != 0 && ref.code != tc.refusal {
				t.Fatalf("error %v, want refusal %d", err, tc.refusal)
			}
			wrote := c.out.Bytes()
			if tc.refusal != 0 {
				if len(wrote) < 4 || !bytes.Equal(wrote[:2], ok) || wrote[3] != tc.refusal {
					t.Errorf("wrote % x, want a reply with code %d", wrote, tc.refusal)
				}
				return
			}
			if !bytes.Equal(wrote, tc.wrote) {
				t.Errorf("wrote % x, want % x", wrote, tc.wrote)
			}
		})
	}
}

func TestNegotiateReadsOnlyTheRequest(t *testing.T) {
	hash := strings.Repeat("0f", 20)
	r := bytes.NewReader(append(request(hash, 0, 5, 1, 0), "payload"...))
	if _, err := negotiate(&rw{in: r}); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "payload" {
		t.Errorf("left %q after the request", rest)
	}
}

func TestHash(t *testing.T) {
	// XEP-0065's example JIDs; the expected value is SHA-1 of the
	// concatenation, computed independently (sha1sum).
	// The JIDs are prepared first: case in the localpart and domain does
	// not change the hash.
	req, _ := jid.Parse("Requester@EXAMPLE.com/foo")
	tgt, _ := jid.Parse("target@example.org/bar")
	if got := Hash("vxf9n471bn46", req, tgt); got != "98b8d688d0f5d895fd41c5e7309a2e9e33ba32ff" {
		t.Errorf("Hash = %s", got)
	}
}

func TestBucket(t *testing.T) {
	b := newBucket(1000)
	done := make(chan struct{})
	start := time.Now()
	for range 5 {
		if !b.wait(500, done) {
			t.Fatal("wait returned false")
		}
	}
	// 2500 bytes at 1000/s with a full bucket of 1000: 1.5 s.
	if d := time.Since(start); d < 1400*time.Millisecond || d > 5*time.Second {
		t.Errorf("2500 bytes took %v", d)
	}
	close(done)
	b.wait(1000, done) // in debt again
	start = time.Now()
	if b.wait(1000, done) || time.Since(start) > time.Second {
		t.Error("wait did not stop when done closed")
	}
}

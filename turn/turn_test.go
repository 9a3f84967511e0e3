package turn

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	pion "github.com/pion/turn/v4"
)

const testSecret = "turn-test-secret"

// startServer runs a server on loopback with cfg's bounds.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	cfg.UDP, cfg.TCP = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}
	cfg.Realm, cfg.Secret = "example.org", []byte(testSecret)
	cfg.RelayAddress, cfg.RelayBind = "127.0.0.1", netip.MustParseAddr("127.0.0.1")
	cfg.MinPort, cfg.MaxPort = 40000, 49999
	if cfg.MaxAllocations == 0 {
		cfg.MaxAllocations = 100
	}
	if cfg.MaxAllocationsPerUser == 0 {
		cfg.MaxAllocationsPerUser = 100
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 100
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// creds computes TURN REST credentials the way a client gets them.
func creds(user string, valid time.Duration) (string, string) {
	username := strconv.FormatInt(time.Now().Add(valid).Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(testSecret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// allocate allocates a UDP relay for user over UDP; the client closes
// with the test.
func allocate(t testing.TB, s *Server, user string, valid time.Duration) (*pion.Client, net.PacketConn, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	username, password := creds(user, valid)
	c, err := pion.NewClient(&pion.ClientConfig{
		TURNServerAddr: s.Addrs("udp")[0].String(), Username: username, Password: password,
		Realm: "example.org", Conn: conn, RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err == nil {
		t.Cleanup(func() { relay.Close() })
	}
	return c, relay, err
}

// TestQuota: a user holds at most MaxAllocationsPerUser relays whatever
// credentials it uses, the server MaxAllocations in all, and a closed
// relay frees its place.
func TestQuota(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{MaxAllocations: 3, MaxAllocationsPerUser: 2})
	if _, _, err := allocate(t, s, "alice@example.org", time.Hour); err != nil {
		t.Fatal(err)
	}
	_, second, err := allocate(t, s, "alice@example.org", 2*time.Hour) // fresh credentials, same user
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := allocate(t, s, "alice@example.org", 3*time.Hour); err == nil {
		t.Fatal("third relay of one user allowed (max_allocations_per_user = 2)")
	}
	if _, _, err := allocate(t, s, "bob@example.org", time.Hour); err != nil {
		t.Fatalf("another user refused: %v", err)
	}
	if _, _, err := allocate(t, s, "carol@example.org", time.Hour); err == nil {
		t.Fatal("fourth relay allowed (max_allocations = 3)")
	}
	second.Close() // deallocates (a refresh with lifetime 0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := allocate(t, s, "carol@example.org", time.Hour)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed relay did not free its place: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAuth: credentials must carry an expiry in the future and the
// password of the secret.
func TestAuth(t *testing.T) {
	a := &auth{secret: []byte(testSecret), now: time.Now, log: pionLogger{slog.New(slog.DiscardHandler)}}
	username, password := creds("alice@example.org", time.Minute)
	key, ok := a.key(username, "example.org", nil)
	if want := pion.GenerateAuthKey(username, "example.org", password); !ok || string(key) != string(want) {
		t.Errorf("valid credentials: ok=%v", ok)
	}
	expired, _ := creds("alice@example.org", -time.Second)
	for _, u := range []string{expired, "alice@example.org", "", ":alice", "12x:alice"} {
		if _, ok := a.key(u, "example.org", nil); ok {
			t.Errorf("username %q accepted", u)
		}
	}
	// Without a user part (what pion's own generator makes) is fine.
	if _, ok := a.key(strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10), "example.org", nil); !ok {
		t.Error("bare expiry refused")
	}
}

// TestConnections: TCP connections beyond MaxConnections are closed at
// once, and Close closes those that are open.
func TestConnections(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{MaxConnections: 1})
	addr := s.Addrs("tcp")[0].String()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The first is accepted once the server counts it; a second is then
	// closed without an answer.
	time.Sleep(100 * time.Millisecond)
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("connection over the limit: read %v, want it closed", err)
	}
	s.Close()
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("after Close: read %v, want the connection closed", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// TestListenError: an address in use is an error that names the key, and
// nothing stays open.
func TestListenError(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = Listen(Config{UDP: []string{"127.0.0.1:0"}, TCP: []string{busy.Addr().String()}, Secret: []byte("x"), MaxConnections: 1})
	if err == nil || !strings.Contains(err.Error(), "turn.tcp") {
		t.Fatalf("err = %v", err)
	}
}

// TestPublicAddr: a name is resolved again after relayLookupInterval, and
// a failed lookup keeps the last address.
func TestPublicAddr(t *testing.T) {
	answers := []string{"198.51.100.7", "", "198.51.100.8"}
	calls := 0
	p := newPublicAddr("home.example.org")
	p.lookup = func(_ context.Context, network, host string) ([]net.IP, error) {
		if network != "ip4" || host != "home.example.org" {
			t.Errorf("lookup(%s, %s)", network, host)
		}
		a := answers[calls]
		calls++
		if a == "" {
			return nil, errors.New("no answer")
		}
		return []net.IP{net.ParseIP(a)}, nil
	}
	for i, want := range []string{"198.51.100.7", "198.51.100.7", "198.51.100.8"} {
		ip, err := p.get()
		if err != nil || ip.String() != want {
			t.Fatalf("lookup %d: %v %v, want %s", i, ip, err, want)
		}
		// Within the interval, the answer is cached.
		if ip, err := p.get(); err != nil || ip.String() != want || calls != i+1 {
			t.Fatalf("cached %d: %v %v after %d lookups", i, ip, err, calls)
		}
		p.when = p.when.Add(-2 * relayLookupInterval) // let it expire
	}
	static := newPublicAddr("203.0.113.1")
	static.lookup = func(context.Context, string, string) ([]net.IP, error) {
		t.Error("an address literal was looked up")
		return nil, nil
	}
	if ip, err := static.get(); err != nil || ip.String() != "203.0.113.1" {
		t.Errorf("literal: %v %v", ip, err)
	}
	none := newPublicAddr("nowhere.invalid")
	none.lookup = func(context.Context, string, string) ([]net.IP, error) { return nil, errors.New("NXDOMAIN") }
	if _, err := none.get(); err == nil {
		t.Error("an unresolvable relay address gave an address")
	}
}

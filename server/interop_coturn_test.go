package server_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/xmpptest"
)

// requireCoturn returns the paths of Debian's coturn server and its test
// client. In CI their absence fails the test (scripts/test installs
// coturn); elsewhere the test is skipped, loudly.
func requireCoturn(t *testing.T) (server, client string) {
	t.Helper()
	server, err1 := exec.LookPath("turnserver")
	client, err2 := exec.LookPath("turnutils_uclient")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("coturn is not installed (scripts/test installs it)")
		}
		t.Skip("SKIPPING INTEROP TEST: coturn is not installed; run scripts/test or apt-get install coturn")
	}
	return server, client
}

// echoPeer is the other end of a call: it sends every datagram back.
func echoPeer(t *testing.T) *net.UDPAddr {
	t.Helper()
	pc := udpConn(t)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr)
}

// uclient runs coturn's test client against the TURN server at
// 127.0.0.1:port with the credentials: it allocates a relay and sends 5
// datagrams to peer, which echoes them. It reports whether all 5 came
// back, with the client's output; it retries while the server starts.
func uclient(t *testing.T, client string, port int, username, password string, peer *net.UDPAddr) (bool, string) {
	t.Helper()
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ = exec.CommandContext(ctx, client, "-c", "-n", "5", "-u", username, "-w", password,
			"-p", strconv.Itoa(port), "-e", peer.IP.String(), "-r", strconv.Itoa(peer.Port), "127.0.0.1").CombinedOutput()
		cancel()
		if strings.Contains(string(out), "tot_send_msgs=5, tot_recv_msgs=5") {
			return true, string(out)
		}
		// Refused, not starting: coturn answers 401 to wrong
		// credentials, pion 400 (a pion quirk; RFC 8489 says 401).
		if strings.Contains(string(out), "Cannot complete Allocation") || strings.Contains(string(out), "error 40") {
			return false, string(out)
		}
	}
	return false, string(out)
}

// freeUDPTCPPort returns a port free on 127.0.0.1 for both UDP and TCP,
// as coturn listens on both.
func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc := udpConn(t)
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// TestCoturnInterop checks the TURN REST credentials against coturn, the
// TURN server most XMPP servers use: an operator's coturn configured as
// an [[extdisco.services]] entry accepts the credentials hearth hands
// out, and coturn's own client (not pion) relays through hearth's
// built-in server with them; wrong ones are refused by both.
func TestCoturnInterop(t *testing.T) {
	t.Parallel()
	turnserver, client := requireCoturn(t)
	dir := t.TempDir()
	port := freeUDPTCPPort(t)
	const secret = "coturn-static-auth-secret"
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, turnserver, "-n", "--listening-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port),
		"--relay-ip=127.0.0.1", "--min-port=46000", "--max-port=46999", "--use-auth-secret", "--static-auth-secret="+secret,
		"--realm=coturn.localhost", "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
		"--log-file=stdout", "--simple-log", "--pidfile="+filepath.Join(dir, "pid"), "--db="+filepath.Join(dir, "turndb"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("coturn log:\n%s", log.String())
		}
	})

	srv := xmpptest.NewServer(t, turnTOML+fmt.Sprintf(`
[[extdisco.services]]
type = "turn"
host = "127.0.0.1"
port = %d
secret = %q
`, port, secret))
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	list := extServices(t, alice.IQ(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'><services xmlns='%s' type='turn'/></iq>`, alice.NextID(), nsExtDisco)), "services")
	var builtin, coturn extService
	for _, s := range list {
		switch {
		case s.host == "127.0.0.1" && s.port == port:
			coturn = s
		case s.host == "localhost" && s.transport == "udp":
			builtin = s
		}
	}
	if coturn.username == "" || builtin.username == "" {
		t.Fatalf("services %+v", list)
	}
	peer := echoPeer(t)

	if ok, out := uclient(t, client, port, coturn.username, coturn.password, peer); !ok {
		t.Fatalf("coturn refused or did not relay with hearth's credentials:\n%s", out)
	}
	if ok, out := uclient(t, client, port, coturn.username, builtin.password, peer); ok {
		t.Fatalf("coturn accepted the built-in server's password:\n%s", out)
	}
	builtinPort, _ := strconv.Atoi(srv.Addrs("turn_udp")[0][strings.LastIndexByte(srv.Addrs("turn_udp")[0], ':')+1:])
	if ok, out := uclient(t, client, builtinPort, builtin.username, builtin.password, peer); !ok {
		t.Fatalf("coturn's client could not relay through hearth's TURN server:\n%s", out)
	}
	if ok, out := uclient(t, client, builtinPort, builtin.username, coturn.password, peer); ok {
		t.Fatalf("hearth's TURN server accepted coturn's password:\n%s", out)
	}
}

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package stream

import (
	"io"
	"net"
	"os"
	"syscall"
)

// waitConn is a TCP connection that can wait for input without reading
// it, and read without waiting (see idle.go).
type waitConn struct {
	net.Conn
	rc syscall.RawConn
	// nonblocking is set once, before the first burst of the bound
	// stream (each burst starts after the last one ended, so the bursts'
	// goroutines see it). Before, reads wait as usual.
	nonblocking bool

	// One non-blocking read, in fields so that the callbacks given to
	// rc are allocated once per connection.
	p        []byte
	n        int
	err      error
	peekByte [1]byte
	readFn   func(fd uintptr) bool
	peekFn   func(fd uintptr) bool
}

func newWaitConn(nc net.Conn) *waitConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	wc := &waitConn{Conn: nc, rc: rc}
	wc.readFn = wc.readNow
	wc.peekFn = wc.peek
	return wc
}

// Read reads as net.Conn does before the stream is bound. After, it
// returns errWouldBlock instead of waiting for input.
func (wc *waitConn) Read(p []byte) (int, error) {
	if !wc.nonblocking || len(p) == 0 {
		return wc.Conn.Read(p)
	}
	wc.p = p
	err := wc.rc.Read(wc.readFn) // fails for a passed deadline or a closed connection
	n, rerr := wc.n, wc.err
	wc.p, wc.n, wc.err = nil, 0, nil
	switch {
	case err != nil:
		return 0, err
	case rerr == syscall.EAGAIN:
		return 0, errWouldBlock
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: wc.LocalAddr(), Addr: wc.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readNow is the rc.Read callback of Read: one read that does not wait.
func (wc *waitConn) readNow(fd uintptr) bool {
	for {
		n, err := syscall.Read(int(fd), wc.p)
		if err == syscall.EINTR {
			continue
		}
		wc.n, wc.err = max(n, 0), err
		return true
	}
}

// waitInput returns once the connection has input, an end or an error
// to read, or its read deadline passed: the next Read tells which.
func (wc *waitConn) waitInput() {
	wc.rc.Read(wc.peekFn)
}

// peek reports whether a read would not wait: the rc.Read callback of
// waitInput, which waits for the socket to become readable while it
// reports false.
func (wc *waitConn) peek(fd uintptr) bool {
	for {
		_, _, err := syscall.Recvfrom(int(fd), wc.peekByte[:], syscall.MSG_PEEK)
		if err == syscall.EINTR {
			continue
		}
		return err != syscall.EAGAIN
	}
}

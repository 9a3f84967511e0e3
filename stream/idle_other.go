//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package stream

import "net"

// waitConn exists only where a socket can be polled without reading it;
// elsewhere every stream waits in its reads.
type waitConn struct {
	net.Conn
	nonblocking bool
}

func newWaitConn(net.Conn) *waitConn { return nil }

func (*waitConn) waitInput() {}

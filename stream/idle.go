package stream

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
)

// An idle bound stream holds as little memory as Go allows: one parked
// goroutine with a small stack, and no read buffer of its own.
//
// A goroutine blocked in a read keeps the stack it grew on the way there
// (decoder, TLS record layer) and on the way before (TLS handshake, SASL,
// stanza handlers), and the runtime shrinks it only by halves at garbage
// collections, never below four times the depth in use. So over a TCP
// connection (a waitConn) the stream does not wait in a read:
//
//   - negotiation, and then each burst of input, run on a goroutine of
//     their own (runApart), whose stack is freed when it ends;
//   - after binding, the waitConn under TLS reads without waiting: when
//     the socket has nothing, its Read fails with errWouldBlock, which TLS
//     and the decoder pass up without losing what they hold (they treat it
//     as a temporary error, like a read deadline), and the burst ends;
//   - the goroutine that runs ServeC2S, which never runs anything deep,
//     then waits for the socket to become readable (or for the read
//     deadline: the liveness checks run in the next burst) and starts the
//     next burst.
//
// Connections that are not TCP (WebSocket, BOSH, tests' pipes) are read
// by one goroutine that waits in its reads.

// errWouldBlock is returned by a waitConn's Read in non-blocking mode when
// no input is there. It is a net.Error that is temporary but no timeout:
// crypto/tls keeps the connection usable after it, and the liveness
// checks do not take it for a read deadline.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "stream: no input ready" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

var _ net.Error = wouldBlock{}

// TLSServer returns tls.Server(nc, cfg) for a direct TLS stream, with a
// waitConn between the two when nc allows it, so that ServeC2S can let the
// stream wait for input without a deep stack.
func TLSServer(nc net.Conn, cfg *tls.Config) *tls.Conn {
	if wc := newWaitConn(nc); wc != nil {
		nc = wc
	}
	return tls.Server(nc, cfg)
}

// waitConnOf prepares nc for ServeC2S: it returns the connection to use
// and the waitConn beneath it (nil when nc is neither a connection
// newWaitConn accepts nor a tls.Conn from TLSServer).
func waitConnOf(nc net.Conn) (net.Conn, *waitConn) {
	if tc, ok := nc.(*tls.Conn); ok {
		wc, _ := tc.NetConn().(*waitConn)
		return nc, wc
	}
	if wc := newWaitConn(nc); wc != nil {
		return wc, wc
	}
	return nc, nil
}

// runApart runs f on another goroutine and returns once f has returned:
// whatever stack f grows stays with that goroutine, not with the caller's.
// done must be empty; it is empty again on return.
//
// The other goroutine is a worker of apartPool when one is idle: a
// worker's stack has grown already (a TLS handshake, SASL, the storage
// engine and the stanza handlers need tens of KiB), so reusing one saves
// the copies a new goroutine's stack goes through as it grows from its
// first 2 KiB; a new goroutine for every burst of input spent about 6% of
// a login's CPU and more of a chat message's in those copies. At most
// maxIdleApart workers wait for work; the others end, and the garbage
// collector halves the stacks of waiting workers (which use little of
// them), so the pool holds a bounded and shrinking amount of memory.
func runApart(f func(), done chan struct{}) {
	j := apartJob{f: f, done: done}
	select {
	case apartPool <- j:
	default:
		go apartWorker(j)
	}
	<-done
}

// maxIdleApart bounds the workers that wait for a job.
const maxIdleApart = 64

type apartJob struct {
	f    func()
	done chan struct{}
}

var (
	apartPool = make(chan apartJob) // unbuffered: a send reaches a waiting worker or none
	apartIdle atomic.Int32          // workers waiting on apartPool
)

// apartWorker runs j, then jobs from apartPool while no more than
// maxIdleApart workers wait.
func apartWorker(j apartJob) {
	for {
		j.f()
		j.done <- struct{}{}
		j = apartJob{} // a waiting worker must not keep the last job's session alive
		if apartIdle.Add(1) > maxIdleApart {
			apartIdle.Add(-1)
			return
		}
		j = <-apartPool
		apartIdle.Add(-1)
	}
}

// serveInput runs loop, the bound stream's read loop, until it returns
// anything but errWouldBlock. Over a waitConn each run is one burst of
// input on a goroutine of its own, and this goroutine waits for the next
// input in between.
func (c *Conn) serveInput(loop func() error) error {
	if c.wc == nil {
		return loop()
	}
	c.wc.nonblocking = true
	tc, _ := c.nc.(*tls.Conn)
	var err error
	done := make(chan struct{}, 1)
	burst := func() { err = loop() }
	for {
		runApart(burst, done)
		if tc != nil {
			releaseTLSBuffers(tc) // tlsbuf.go
		}
		if !errors.Is(err, errWouldBlock) {
			return err
		}
		c.wc.waitInput()
	}
}

package webstream

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	ws "github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol of XMPP (RFC 7395 §3.1).
const Subprotocol = "xmpp"

// Options configure the WebSocket and BOSH handlers.
type Options struct {
	// Serve runs one client stream on nc until it ends (stream.ServeC2S),
	// as on a connection encrypted with direct TLS.
	Serve func(nc net.Conn)
	// Go runs fn in a goroutine the server waits for at shutdown (a BOSH
	// session outlives the request that created it). It is called from
	// the request's handler. Default: a plain goroutine.
	Go func(fn func())
	// Secure reports whether a request reached the server encrypted.
	Secure func(r *http.Request) bool
	// RemoteAddr returns the client's address for a request (the peer, or
	// behind a proxy the address it forwarded).
	RemoteAddr func(r *http.Request) string
	// MaxMessageBytes bounds one message (WebSocket) or request body
	// (BOSH) from the client: the largest stanza allowed plus room for
	// its framing.
	MaxMessageBytes int64
	// BOSHMaxWait bounds how long a BOSH request is held waiting for
	// something to send (the client's 'wait', default 60s);
	// BOSHInactivity is how long a BOSH session may have no request
	// pending before it is considered gone (default 60s).
	BOSHMaxWait    time.Duration
	BOSHInactivity time.Duration
	// Stopping, when closed, makes held BOSH requests answer at once (the
	// server is shutting down). Nil: never.
	Stopping <-chan struct{}
	// MaxQueueBytes bounds what a BOSH session holds for its client
	// between requests (default 1 MiB).
	MaxQueueBytes int
	Log           *slog.Logger
}

func (o *Options) defaults() {
	if o.Go == nil {
		o.Go = func(fn func()) { go fn() }
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.BOSHMaxWait == 0 {
		o.BOSHMaxWait = 60 * time.Second
	}
	if o.BOSHInactivity == 0 {
		o.BOSHInactivity = 60 * time.Second
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = 1 << 20
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 256 << 10
	}
}

// WebSocket returns the handler of the RFC 7395 endpoint: it upgrades the
// request, negotiates the xmpp subprotocol and serves the stream until it
// ends. A request that is not encrypted gets 403: XMPP over plain
// WebSocket would let passwords cross the network in the clear.
func WebSocket(opts Options) http.Handler {
	opts.defaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !opts.Secure(r) {
			http.Error(w, "XMPP over WebSocket needs wss://", http.StatusForbidden)
			return
		}
		c, err := ws.Accept(w, r, &ws.AcceptOptions{
			Subprotocols: []string{Subprotocol},
			// Any origin may connect: a stream authenticates with SASL
			// inside the stream, never with the browser's cookies, so a
			// foreign page gains nothing a direct connection would not.
			InsecureSkipVerify: true,
		})
		if err != nil {
			// Accept has answered the request (400 or 426).
			opts.Log.Debug("websocket upgrade failed", "err", err)
			return
		}
		if c.Subprotocol() != Subprotocol {
			// RFC 7395 §3.1: without the xmpp subprotocol the server
			// closes the connection.
			c.Close(ws.StatusPolicyViolation, "the xmpp subprotocol is required")
			return
		}
		c.SetReadLimit(opts.MaxMessageBytes)
		var local net.Addr
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			local = a
		}
		nc := newConn(c, local, addr(opts.RemoteAddr(r)))
		defer nc.Close()
		opts.Serve(nc)
	})
}

// Package websocket implements RFC 7395: An Extensible Messaging and
// Presence Protocol (XMPP) Subprotocol for WebSocket. It translates the
// framing (<open/>, <close/>, one element per message) to and from a
// TCP-style XML stream and hands the result to the server's client stream
// machinery as a net.Conn, so that WebSocket sessions negotiate, bind,
// use stream management and resume exactly as TCP ones do.
package websocket

import (
	"log/slog"
	"net"
	"net/http"

	ws "github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol of XMPP (RFC 7395 §3.1).
const Subprotocol = "xmpp"

// Options configure a Handler.
type Options struct {
	// Serve runs one client stream on nc until it ends (stream.ServeC2S),
	// as on a connection encrypted with direct TLS.
	Serve func(nc net.Conn)
	// Secure reports whether a request reached the server encrypted.
	Secure func(r *http.Request) bool
	// RemoteAddr returns the client's address for a request (the peer, or
	// behind a proxy the address it forwarded).
	RemoteAddr func(r *http.Request) string
	// MaxMessageBytes bounds one message from the client: the largest
	// stanza allowed plus room for its framing.
	MaxMessageBytes int64
	Log             *slog.Logger
}

// Handler returns the handler of the WebSocket endpoint: it upgrades the
// request, negotiates the xmpp subprotocol and serves the stream until it
// ends. A request that is not encrypted gets 403: XMPP over plain
// WebSocket would let passwords cross the network in the clear.
func Handler(opts Options) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
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

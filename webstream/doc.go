// Package webstream carries client XML streams over the web: RFC 7395
// (XMPP over WebSocket) and XEP-0124/XEP-0206 (BOSH). Both translate their
// framing to and from a TCP-style XML stream and hand it to the server's
// client stream machinery as a net.Conn, so that web sessions negotiate,
// bind, use stream management and resume exactly as TCP ones do.
package webstream

package client

import (
	"crypto/tls"

	"hearth/stanza"
)

// Features returns the stream features the server offered on the
// authenticated stream, the set a client binds from (RFC 6120 §7):
// resource binding, stream management (XEP-0198), client state
// indication (XEP-0352), roster versioning (RFC 6121 §2.6), entity
// capabilities (XEP-0115 §6.3). The element must not be changed.
func (s *Session) Features() *stanza.Element { return s.features }

// PreAuthFeatures returns the stream features offered on the encrypted
// stream before authentication: the SASL mechanisms (RFC 6120 §6) and
// in-band registration (XEP-0077), among others. The element must not be
// changed.
func (s *Session) PreAuthFeatures() *stanza.Element { return s.preAuth }

// Mechanisms returns the SASL mechanisms the server offered, in its order.
func (s *Session) Mechanisms() []string {
	return (&negotiation{features: s.preAuth}).mechanisms()
}

// TLSState returns the state of the session's TLS connection; ok is false
// when the connection is not TLS (which Dial never returns).
func (s *Session) TLSState() (state tls.ConnectionState, ok bool) {
	tc, ok := s.conn.(*tls.Conn)
	if !ok {
		return tls.ConnectionState{}, false
	}
	return tc.ConnectionState(), true
}

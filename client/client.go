// Package client is a small XMPP client used by hearth's tools: the load
// benchmark and, later, the compliance self-test.
//
// Dial connects to a server, secures the stream (STARTTLS, RFC 6120 §5, or
// direct TLS, XEP-0368), optionally registers the account (XEP-0077),
// authenticates with SASL SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN (RFC 6120
// §6, RFC 5802, RFC 7677, RFC 4616), binds a resource (RFC 6120 §7) and
// returns a Session whose read loop delivers every stanza it receives to
// the configured Handler, except IQ responses to SendIQ, which go to their
// caller.
//
// The package does deliberately little: no roster, presence or stream
// management logic. Callers build stanzas with hearth/stanza.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// Security says how a stream is encrypted.
type Security int

const (
	// StartTLS connects in the clear and upgrades with STARTTLS (RFC 6120
	// §5); a server that does not offer it is an error.
	StartTLS Security = iota
	// DirectTLS starts TLS as soon as the TCP connection is up (XEP-0368),
	// with ALPN "xmpp-client".
	DirectTLS
)

// Mechanism names this package implements.
const (
	SCRAMSHA256 = "SCRAM-SHA-256"
	SCRAMSHA1   = "SCRAM-SHA-1"
	Plain       = "PLAIN"
)

// DefaultTimeout bounds Dial's negotiation and Register when
// Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// closeTimeout is how long Close waits for the server's closing stream
// tag before it closes the connection anyway.
const closeTimeout = 2 * time.Second

// Handler receives the stanzas of a session.
type Handler interface {
	// HandleStanza is called from the session's read loop, one stanza
	// at a time and in the order received; the read loop waits until it
	// returns, so it should not block for long. el must not be changed
	// (Copy it first).
	HandleStanza(s *Session, el *stanza.Element)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(s *Session, el *stanza.Element)

// HandleStanza calls f(s, el).
func (f HandlerFunc) HandleStanza(s *Session, el *stanza.Element) { f(s, el) }

// Config says how to reach and log in to a server. JID and Addr are
// required; every other field has a usable zero value.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// JID is the account: its domain is the stream's 'to', its localpart
	// the SASL username. A resource, if any, is ignored (see Resource).
	JID jid.JID
	// Password is used as given: callers pass it already prepared with
	// the OpaqueString profile (RFC 8265), which is the identity for
	// ASCII.
	Password string
	// Resource is the resource to request at bind; empty lets the
	// server choose.
	Resource string
	// LocalAddr, when set, is the source IP address of the TCP
	// connection (the port is chosen by the kernel).
	LocalAddr net.IP
	// Security selects STARTTLS (the default) or direct TLS.
	Security Security
	// Insecure accepts any server certificate, for self-signed test and
	// benchmark servers. Without it the certificate must be valid for
	// the JID's domain.
	Insecure bool
	// TLSConfig, when set, is used (cloned) instead of the default:
	// ServerName is the domain, TLS 1.2 or later. Insecure still applies.
	TLSConfig *tls.Config
	// Mechanism forces one SASL mechanism. Empty picks the first offered
	// of SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN.
	Mechanism string
	// Keys, when set, caches SCRAM salted passwords across logins, as
	// clients that remember an account do: a login whose salt and
	// iteration count the cache has seen skips PBKDF2. Nil derives every
	// time.
	Keys *KeyCache
	// Register creates the account with XEP-0077 before authenticating.
	// An account that already exists (conflict) is not an error: Dial
	// then logs in with Password.
	Register bool
	// Timeout bounds the whole negotiation, from dial to bound resource
	// (default DefaultTimeout). The context given to Dial bounds it too.
	Timeout time.Duration
	// Handler receives the stanzas of the session, starting with the
	// first one after bind. Nil discards them.
	Handler Handler
	// Limits bound what the session's decoder accepts (zero: defaults).
	Limits stanza.Limits
	// Raw, when set, sees the bytes of each element the session reads
	// before it is parsed, from the first one after bind; an element Raw
	// takes (returns true for) is neither parsed nor given to Handler.
	// The bytes are valid only during the call and are not checked
	// beyond being one complete element. It lets a reader that needs a
	// few attributes of most stanzas (a load generator) skip parsing
	// them; it must leave IQ responses and stream errors to the session.
	Raw func(s *Session, raw []byte) bool
}

// Session is a negotiated, bound client stream. Its methods are safe for
// concurrent use.
type Session struct {
	conn   net.Conn
	dec    *stanza.Decoder
	jid    jid.JID
	domain string
	h      Handler
	raw    func(*Session, []byte) bool
	// features and preAuth are the stream features offered after
	// authentication and before it (after TLS); read-only.
	features, preAuth *stanza.Element
	resumed           *stanza.Element // the <resumed/> of Resume; read-only

	wmu  sync.Mutex // guards wbuf, writes to conn and closed
	wbuf []byte
	// closing is set once Close sent the closing tag: the peer's end of
	// stream is then expected, not an error.
	closing bool

	nextID  atomic.Uint64
	pmu     sync.Mutex // guards pending
	pending map[string]chan *stanza.Element

	done    chan struct{} // closed when the read loop ends
	err     error         // why the read loop ended; read after done
	closeMu sync.Once
}

// JID returns the full JID the server bound.
func (s *Session) JID() jid.JID { return s.jid }

// Domain returns the server's domain (the bound JID's domainpart).
func (s *Session) Domain() string { return s.domain }

// Done is closed when the session has ended: the read loop has stopped
// because the peer closed the stream, a read failed, or Close was called.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: nil after Close (whether or not the
// server answered with its closing tag in time), stanza.ErrStreamEnd when
// the server closed the stream first, a *stanza.StreamError for a stream
// error from the server, or the read error. It returns nil while the
// session runs.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// ErrClosed is returned by writes after the session ended or Close
// began.
var ErrClosed = errors.New("client: session closed")

// Send encodes el in the jabber:client namespace and writes it. Writes
// from concurrent callers are not interleaved.
func (s *Session) Send(el *stanza.Element) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closing {
		return ErrClosed
	}
	s.wbuf = stanza.Append(s.wbuf[:0], el, stanza.NSClient)
	_, err := s.conn.Write(s.wbuf)
	if cap(s.wbuf) > maxKeptBuffer {
		s.wbuf = nil // a rare large stanza should not pin its buffer
	}
	return err
}

// maxKeptBuffer is the largest encoding buffer a session keeps between
// Sends.
const maxKeptBuffer = 16 << 10

// SendRaw writes b as it is; the caller is responsible for it being one
// or more complete stanzas in the jabber:client namespace.
func (s *Session) SendRaw(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closing {
		return ErrClosed
	}
	_, err := s.conn.Write(b)
	return err
}

// NewID returns an id unique within the session, for stanzas the caller
// builds.
func (s *Session) NewID() string {
	return "c" + strconv.FormatUint(s.nextID.Add(1), 36)
}

// Close ends the stream: it sends the closing tag, waits up to a short
// bound for the server's, then closes the connection. It returns the
// session's error (see Err); closing twice is harmless.
func (s *Session) Close() error {
	s.closeMu.Do(func() {
		s.wmu.Lock()
		s.closing = true
		s.conn.SetWriteDeadline(time.Now().Add(closeTimeout))
		_, werr := s.conn.Write([]byte("</stream:stream>"))
		s.wmu.Unlock()
		if werr == nil {
			select {
			case <-s.done:
			case <-time.After(closeTimeout):
			}
		}
		s.conn.Close()
	})
	<-s.done
	return s.err
}

// readLoop runs until the stream ends, dispatching stanzas.
func (s *Session) readLoop() {
	defer close(s.done)
	defer s.failPending()
	for {
		el, err := s.next()
		if err != nil {
			s.wmu.Lock()
			closing := s.closing
			s.wmu.Unlock()
			switch {
			case errors.Is(err, stanza.ErrStreamEnd) && closing:
				s.err = nil
			case closing:
				// The connection was closed under us after the
				// closing tag was sent: a close without the peer's tag.
				s.err = nil
			default:
				s.err = err
			}
			// Answer the peer's closing tag and release the socket.
			s.wmu.Lock()
			if !s.closing {
				s.closing = true
				s.conn.SetWriteDeadline(time.Now().Add(closeTimeout))
				s.conn.Write([]byte("</stream:stream>"))
			}
			s.wmu.Unlock()
			s.conn.Close()
			return
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			s.err = parseStreamError(el)
			s.wmu.Lock()
			s.closing = true
			s.wmu.Unlock()
			s.conn.Close()
			return
		}
		if el.Name.Local == "iq" && s.deliverResponse(el) {
			continue
		}
		if s.h != nil {
			s.h.HandleStanza(s, el)
		}
	}
}

// next returns the next element to dispatch, after giving the ones Raw
// takes to it.
func (s *Session) next() (*stanza.Element, error) {
	for s.raw != nil {
		b, err := s.dec.Peek()
		if err != nil {
			return nil, err
		}
		if !s.raw(s, b) {
			break
		}
		s.dec.Skip()
	}
	return s.dec.Next()
}

// parseStreamError reads a <stream:error/> element.
func parseStreamError(el *stanza.Element) *stanza.StreamError {
	se := &stanza.StreamError{Condition: "undefined-condition"}
	for _, c := range el.Elements() {
		if c.Name.Space != stanza.NSStreams {
			se.App = c
			continue
		}
		if c.Name.Local == "text" {
			se.Text = c.Text()
		} else {
			se.Condition = c.Name.Local
		}
	}
	return se
}

// Dial connects, negotiates and binds as cfg says, then starts the
// session's read loop. On error the connection is closed; a SASL failure
// is an *AuthError, a stream error a *stanza.StreamError, a refused
// registration or bind a *stanza.Error.
func Dial(ctx context.Context, cfg Config) (*Session, error) {
	n, err := negotiate(ctx, cfg, false, nil)
	if err != nil {
		return nil, err
	}
	return start(n, cfg), nil
}

// start makes the session of a negotiated stream and starts its read
// loop.
func start(n *negotiation, cfg Config) *Session {
	s := &Session{
		conn:     n.conn,
		dec:      n.dec,
		jid:      n.bound,
		domain:   n.bound.Domain(),
		h:        cfg.Handler,
		raw:      cfg.Raw,
		features: n.features,
		preAuth:  n.preAuth,
		pending:  make(map[string]chan *stanza.Element),
		done:     make(chan struct{}),
	}
	go s.readLoop()
	return s
}

// Register creates the account cfg.JID with password cfg.Password by
// XEP-0077 in-band registration on a fresh stream, then closes it. An
// account that already exists gives a *stanza.Error with condition
// "conflict"; a server that does not offer registration gives
// ErrNoRegistration.
func Register(ctx context.Context, cfg Config) error {
	_, err := negotiate(ctx, cfg, true, nil)
	return err
}

// ErrNoRegistration is returned when registration was asked for and the
// server does not offer XEP-0077 before authentication.
var ErrNoRegistration = errors.New("client: server does not offer in-band registration")

// AuthError is a SASL failure (RFC 6120 §6.5).
type AuthError struct {
	Mechanism string
	Condition string // e.g. "not-authorized"
	Text      string
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("client: %s authentication failed: %s", e.Mechanism, e.Condition)
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

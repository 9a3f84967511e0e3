package xmpptest

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/stanza"
)

// ClientTLS returns the TLS configuration the harness's clients use for
// domain: TLS 1.2 or later, the server's self-signed certificate accepted.
// Tests change a copy to try other versions.
func ClientTLS(domain string) *tls.Config { return clientTLS(domain) }

// DialTLSConfig connects to a direct TLS listener with cfg and returns the
// handshake error instead of failing the test (for tests of refused
// versions). A nil cfg is ClientTLS(domain) with ALPN "xmpp-client".
func DialTLSConfig(t testing.TB, addr, domain string, cfg *tls.Config) (*Conn, error) {
	t.Helper()
	if cfg == nil {
		cfg = clientTLS(domain, "xmpp-client")
	}
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	tc := tls.Client(nc, cfg)
	tc.SetDeadline(time.Now().Add(Timeout))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	tc.SetDeadline(time.Time{})
	return &Conn{t: t, nc: tc, dec: stanza.NewDecoder(tc, stanza.Limits{}), domain: domain}, nil
}

// StartTLSConfig negotiates STARTTLS with cfg after features offered it.
// It returns the handshake error instead of failing the test; on success
// it reopens the stream and returns the new features.
func (c *Conn) StartTLSConfig(cfg *tls.Config) (*stanza.Element, error) {
	c.t.Helper()
	c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if el := c.Next(); el.Name.Local != "proceed" {
		c.t.Fatalf("expected <proceed/>, got %s", el)
	}
	if err := c.HandshakeTLS(cfg); err != nil {
		return nil, err
	}
	return c.OpenStream(), nil
}

// HandshakeTLS runs the client side of a TLS handshake on the connection
// (after the server's <proceed/>) with cfg, nil meaning ClientTLS, and
// makes the decoder expect a new stream header. Nothing is sent after the
// handshake: the test opens the stream itself.
func (c *Conn) HandshakeTLS(cfg *tls.Config) error {
	if cfg == nil {
		cfg = clientTLS(c.domain)
	}
	tc := tls.Client(c.nc, cfg)
	tc.SetDeadline(time.Now().Add(Timeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	c.nc = tc
	c.dec.Reset(tc)
	return nil
}

// TLSState returns the state of the connection's TLS layer; it fails the
// test when the connection is not (yet) TLS.
func (c *Conn) TLSState() tls.ConnectionState {
	c.t.Helper()
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		c.t.Fatalf("connection is not TLS")
	}
	return tc.ConnectionState()
}

// AuthSCRAM runs a SCRAM exchange for mechanism with a conversation the
// test built (with or without channel binding) and reports the server's
// answer: nil on success, else the failure element. On success the
// server's signature is checked and the stream is ready to be reopened.
func (c *Conn) AuthSCRAM(mechanism string, conv *scram.ClientConversation) *stanza.Element {
	c.t.Helper()
	first, err := conv.Step("")
	if err != nil {
		c.t.Fatalf("scram: %v", err)
	}
	c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mechanism + "'>" + base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>")
	for {
		el := c.Next()
		data, _ := base64.StdEncoding.DecodeString(el.Text())
		switch el.Name.Local {
		case "challenge":
			resp, err := conv.Step(string(data))
			if err != nil {
				c.t.Fatalf("scram step: %v", err)
			}
			c.Send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>")
		case "success":
			if _, err := conv.Step(string(data)); err != nil {
				c.t.Fatalf("server signature rejected: %v", err)
			}
			c.dec.Reset(c.nc)
			return nil
		default:
			return el
		}
	}
}

// ResetDecoder makes the client's decoder expect a new stream header, as
// after SASL success, for tests that drive the restart themselves.
func (c *Conn) ResetDecoder() { c.dec.Reset(c.nc) }

// ReadToStreamEnd reads until the server closes its stream with
// </stream:stream> and returns the elements read before it. It fails the
// test if the stream does not end within d or the connection breaks
// before the closing tag.
func (c *Conn) ReadToStreamEnd(d time.Duration) []*stanza.Element {
	c.t.Helper()
	var got []*stanza.Element
	deadline := time.Now().Add(d)
	for {
		el, err := c.ReadElement(time.Until(deadline))
		if errors.Is(err, stanza.ErrStreamEnd) {
			return got
		}
		if err != nil {
			c.t.Fatalf("waiting for </stream:stream>: %v (got meanwhile: %v)", err, got)
		}
		got = append(got, el)
	}
}

// ExpectConnClosed fails the test unless the server closes the connection
// within d. Whatever bytes arrive meanwhile are discarded.
func (c *Conn) ExpectConnClosed(d time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open after %v", d)
		}
		return
	}
}

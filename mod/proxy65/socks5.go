package proxy65

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The part of SOCKS5 (RFC 1928) that XEP-0065 uses: no authentication,
// CONNECT to a domain name that is the bytestream's hash, port 0.
const (
	socksVersion  = 5
	methodNoAuth  = 0x00
	methodNone    = 0xff // no acceptable method
	cmdConnect    = 0x01
	atypIPv4      = 0x01
	atypDomain    = 0x03
	hashLen       = 40 // DST.ADDR: hex SHA-1 of SID + requester JID + target JID
	socksHeader   = 4  // VER CMD RSV ATYP
	socksPortSize = 2
)

// SOCKS5 reply codes (RFC 1928 §6).
const (
	replySucceeded           = 0x00
	replyFailure             = 0x01 // general failure: the proxy is full
	replyNotAllowed          = 0x02 // a third connection for a hash, a port other than 0
	replyHostUnreachable     = 0x04 // DST.ADDR is not a bytestream hash
	replyCommandNotSupported = 0x07
	replyAddressNotSupported = 0x08
)

// errGreeting is a connection that does not speak SOCKS5 (or not the part
// XEP-0065 uses) before a request: it is closed without a reply.
var errGreeting = errors.New("proxy65: not a SOCKS5 greeting")

// refusal is a SOCKS5 request the proxy answers with reply code and closes.
type refusal struct {
	code byte
	why  string
}

func (r *refusal) Error() string { return "proxy65: request refused: " + r.why }

// negotiate runs the server side of the SOCKS5 exchange up to the reply:
// it reads the greeting, accepts "no authentication", reads the CONNECT
// request and returns the bytestream hash it names (lowercase hex). It
// reads exactly the bytes of the exchange, so nothing the client sends
// after its request is consumed. A request the proxy refuses is
// answered (writeReply with the *refusal's code) before the error is
// returned; a greeting that is not SOCKS5 gets errGreeting and no reply.
func negotiate(rw io.ReadWriter) (string, error) {
	var head [2]byte
	if _, err := io.ReadFull(rw, head[:]); err != nil {
		return "", err
	}
	if head[0] != socksVersion || head[1] == 0 {
		return "", errGreeting
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(rw, methods); err != nil {
		return "", err
	}
	if !slices.Contains(methods, methodNoAuth) {
		rw.Write([]byte{socksVersion, methodNone})
		return "", fmt.Errorf("%w: no-authentication not offered", errGreeting)
	}
	if _, err := rw.Write([]byte{socksVersion, methodNoAuth}); err != nil {
		return "", err
	}

	var req [socksHeader]byte
	if _, err := io.ReadFull(rw, req[:]); err != nil {
		return "", err
	}
	if req[0] != socksVersion {
		return "", fmt.Errorf("%w: request version %d", errGreeting, req[0])
	}
	if req[1] != cmdConnect {
		return "", refuse(rw, "", replyCommandNotSupported, fmt.Sprintf("command %d", req[1]))
	}
	if req[3] != atypDomain {
		return "", refuse(rw, "", replyAddressNotSupported, fmt.Sprintf("address type %d", req[3]))
	}
	var n [1]byte
	if _, err := io.ReadFull(rw, n[:]); err != nil {
		return "", err
	}
	addr := make([]byte, int(n[0])+socksPortSize)
	if _, err := io.ReadFull(rw, addr); err != nil {
		return "", err
	}
	hash := strings.ToLower(string(addr[:n[0]]))
	port := addr[n[0]:]
	if !isHash(hash) {
		return "", refuse(rw, "", replyHostUnreachable, "address is not a SHA-1 hash")
	}
	if port[0] != 0 || port[1] != 0 {
		return "", refuse(rw, hash, replyNotAllowed, "port is not 0")
	}
	return hash, nil
}

// refuse answers a request with code and returns the refusal.
func refuse(w io.Writer, hash string, code byte, why string) error {
	writeReply(w, hash, code)
	return &refusal{code, why}
}

// writeReply writes the reply to a CONNECT request. XEP-0065 §5.3.2 says
// BND.ADDR and BND.PORT repeat the request: the hash and port 0. Without a
// hash (a request refused before it was read) the address is 0.0.0.0.
func writeReply(w io.Writer, hash string, code byte) error {
	var b []byte
	if hash == "" {
		b = []byte{socksVersion, code, 0, atypIPv4, 0, 0, 0, 0, 0, 0}
	} else {
		b = append([]byte{socksVersion, code, 0, atypDomain, byte(len(hash))}, hash...)
		b = append(b, 0, 0)
	}
	_, err := w.Write(b)
	return err
}

// isHash reports whether s is a lowercase hex SHA-1.
func isHash(s string) bool {
	if len(s) != hashLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

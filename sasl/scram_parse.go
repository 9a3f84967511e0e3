package sasl

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// RFC 5802 §7 server-error-values, used as Failure.Text for SCRAM.
const (
	scramErrInvalidEncoding          = "invalid-encoding"
	scramErrExtensionsNotSupported   = "extensions-not-supported"
	scramErrInvalidProof             = "invalid-proof"
	scramErrChannelBindingsDontMatch = "channel-bindings-dont-match"
	scramErrServerDoesSupportCB      = "server-does-support-channel-binding"
	scramErrChannelBindingNotSupp    = "channel-binding-not-supported"
	scramErrUnsupportedCBType        = "unsupported-channel-binding-type"
	scramErrInvalidUsernameEncoding  = "invalid-username-encoding"
	scramErrOther                    = "other-error"
)

// scramDefinedAttributes are the attribute names RFC 5802 §5.1 gives a
// fixed place; seen where extensions go they are a malformed message.
const scramDefinedAttributes = "aceimnprsv"

// clientFirst is a parsed client-first-message (RFC 5802 §7).
type clientFirst struct {
	gs2Header string // exactly as sent, trailing comma included
	cbFlag    byte   // 'n', 'y' or 'p'
	cbType    string // with cbFlag 'p'
	authzID   string // decoded
	username  string // decoded
	nonce     string // c-nonce
	bare      string // client-first-message-bare, for AuthMessage
}

// clientFinal is a parsed client-final-message (RFC 5802 §7).
type clientFinal struct {
	channelBinding []byte // decoded c= value
	nonce          string
	proof          []byte // decoded p= value
	withoutProof   string // client-final-message-without-proof, for AuthMessage
}

// malformed returns a malformed-request failure with an RFC 5802
// server-error-value and a detail for the logs.
func malformed(text, format string, args ...any) *Failure {
	return &Failure{Condition: CondMalformedRequest, Text: text, Err: fmt.Errorf(format, args...)}
}

// checkMessage rejects what no SCRAM message may contain: invalid UTF-8 and
// NUL (value-safe-char excludes it everywhere).
func checkMessage(msg string) error {
	if !utf8.ValidString(msg) {
		return malformed(scramErrInvalidEncoding, "scram: message is not UTF-8")
	}
	if strings.IndexByte(msg, 0) >= 0 {
		return malformed(scramErrInvalidEncoding, "scram: message contains NUL")
	}
	return nil
}

func parseClientFirst(msg string) (clientFirst, error) {
	var m clientFirst
	if err := checkMessage(msg); err != nil {
		return m, err
	}
	// gs2-header = gs2-cbind-flag "," [ authzid ] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return m, malformed(scramErrInvalidEncoding, "scram: no gs2 header")
	}
	switch {
	case flag == "n" || flag == "y":
		m.cbFlag = flag[0]
	case strings.HasPrefix(flag, "p="):
		m.cbFlag = 'p'
		m.cbType = flag[len("p="):]
		if !validCBName(m.cbType) {
			return m, malformed(scramErrInvalidEncoding, "scram: bad channel binding name %q", m.cbType)
		}
	default:
		return m, malformed(scramErrInvalidEncoding, "scram: bad gs2-cbind-flag %q", flag)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return m, malformed(scramErrInvalidEncoding, "scram: gs2 header not terminated")
	}
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return m, malformed(scramErrInvalidEncoding, "scram: bad authzid attribute")
		}
		name, err := decodeSASLName(v)
		if err != nil {
			return m, malformed(scramErrInvalidUsernameEncoding, "scram: authzid: %w", err)
		}
		m.authzID = name
	}
	m.gs2Header = msg[:len(msg)-len(bare)]
	m.bare = bare

	// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		return m, &Failure{
			Condition: CondMalformedRequest,
			Text:      scramErrExtensionsNotSupported,
			Err:       errors.New("scram: mandatory extension"),
		}
	}
	if len(attrs) < 2 {
		return m, malformed(scramErrInvalidEncoding, "scram: client-first-message-bare too short")
	}
	v, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return m, malformed(scramErrInvalidEncoding, "scram: no username attribute")
	}
	name, err := decodeSASLName(v)
	if err != nil {
		return m, malformed(scramErrInvalidUsernameEncoding, "scram: username: %w", err)
	}
	m.username = name
	v, ok = strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return m, malformed(scramErrInvalidEncoding, "scram: no nonce attribute")
	}
	if !validNonce(v) {
		return m, malformed(scramErrInvalidEncoding, "scram: client nonce is not printable")
	}
	m.nonce = v
	if err := checkExtensions(attrs[2:]); err != nil {
		return m, err
	}
	return m, nil
}

func parseClientFinal(msg string) (clientFinal, error) {
	var m clientFinal
	if err := checkMessage(msg); err != nil {
		return m, err
	}
	// client-final-message = channel-binding "," nonce ["," extensions] "," proof
	attrs := strings.Split(msg, ",")
	if len(attrs) < 3 {
		return m, malformed(scramErrInvalidEncoding, "scram: client-final-message too short")
	}
	v, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return m, malformed(scramErrInvalidEncoding, "scram: no channel binding attribute")
	}
	cb, err := decodeBase64(v)
	if err != nil {
		return m, &Failure{Condition: CondIncorrectEncoding, Text: scramErrInvalidEncoding, Err: fmt.Errorf("scram: channel binding: %w", err)}
	}
	m.channelBinding = cb
	v, ok = strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return m, malformed(scramErrInvalidEncoding, "scram: no nonce attribute")
	}
	m.nonce = v
	last := attrs[len(attrs)-1]
	v, ok = strings.CutPrefix(last, "p=")
	if !ok {
		return m, malformed(scramErrInvalidEncoding, "scram: proof is not the last attribute")
	}
	proof, err := decodeBase64(v)
	if err != nil {
		return m, &Failure{Condition: CondIncorrectEncoding, Text: scramErrInvalidEncoding, Err: fmt.Errorf("scram: proof: %w", err)}
	}
	m.proof = proof
	if err := checkExtensions(attrs[2 : len(attrs)-1]); err != nil {
		return m, err
	}
	m.withoutProof = msg[:len(msg)-len(",")-len(last)]
	return m, nil
}

// checkExtensions checks extension attributes (attr-val = ALPHA "=" value).
// RFC 5802 lets the server ignore extensions it does not know, but "m"
// (reserved-mext) must fail the exchange, and an attribute with a fixed
// place turning up again is taken as malformed rather than ignored.
func checkExtensions(attrs []string) error {
	for _, a := range attrs {
		if len(a) < len("x=v") || !isAlpha(a[0]) || a[1] != '=' {
			return malformed(scramErrInvalidEncoding, "scram: bad extension attribute")
		}
		if a[0] == 'm' {
			return &Failure{
				Condition: CondMalformedRequest,
				Text:      scramErrExtensionsNotSupported,
				Err:       errors.New("scram: mandatory extension"),
			}
		}
		if strings.IndexByte(scramDefinedAttributes, a[0]) >= 0 {
			return malformed(scramErrInvalidEncoding, "scram: attribute %q out of place", a[:1])
		}
	}
	return nil
}

// decodeSASLName decodes a saslname (RFC 5802 §5.1): "=2C" stands for ","
// and "=3D" for "="; any other "=" is an error, and so is an empty name.
// The prose of RFC 5802 names the upper-case forms only, so "=2c" is an
// error too.
func decodeSASLName(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty saslname")
	}
	if strings.IndexByte(s, '=') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("bad escape in saslname")
		}
		i += len("2C")
	}
	return b.String(), nil
}

// validNonce reports whether s is a non-empty run of printable
// characters: %x21-2B / %x2D-7E, printable ASCII but ",".
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// validCBName reports whether s is a cb-name: 1*(ALPHA / DIGIT / "." / "-").
func validCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && (c < '0' || c > '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// decodeBase64 decodes standard, padded base64 strictly. encoding/base64
// skips CR and LF, which the SCRAM base64 production does not allow, so
// they are rejected first.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// Package sasl implements the server side of the SASL mechanisms hearth
// offers (RFC 6120 §6): SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants
// (RFC 5802, RFC 7677, with tls-exporter RFC 9266 and tls-server-end-point
// RFC 5929 channel binding), and PLAIN (RFC 4616), plus derivation of the
// SCRAM credentials that are the only form in which passwords are stored.
package sasl

import (
	"context"
	"errors"
)

// DefaultIterations is the SCRAM iteration count used when none is configured.
const DefaultIterations = 4096

// SCRAMKey is the stored form of a password for one SCRAM hash (RFC 5802 §3).
type SCRAMKey struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// Credentials are what hearth stores for an account: SCRAM keys for both
// hashes, derived from the same password (with separate salts).
type Credentials struct {
	SHA1   SCRAMKey
	SHA256 SCRAMKey
}

// NewCredentials prepares password with SASLprep (RFC 4013 / OpaqueString)
// and derives fresh-salted SCRAM-SHA-1 and SCRAM-SHA-256 keys with the given
// iteration count (DefaultIterations when <= 0).
func NewCredentials(password string, iterations int) (Credentials, error) { panic("unimplemented") }

// Verify reports, in constant time with respect to the stored keys, whether
// password matches c (used by PLAIN).
func (c Credentials) Verify(password string) bool { panic("unimplemented") }

// ErrUnknownUser is returned by a Lookup for a username without account.
var ErrUnknownUser = errors.New("sasl: unknown user")

// Lookup returns the stored credentials of a username as the client sent it
// (SCRAM saslname already unescaped); the Lookup normalises it and returns
// ErrUnknownUser for a name that is invalid or has no account. Mechanisms must not reveal through errors or timing whether
// the user exists: on ErrUnknownUser they continue with fake credentials
// and fail at the end with not-authorized.
type Lookup func(ctx context.Context, username string) (Credentials, error)

// Failure is a SASL failure; Condition is an RFC 6120 §6.5 condition
// (aborted, account-disabled, credentials-expired, encryption-required,
// incorrect-encoding, invalid-authzid, invalid-mechanism,
// malformed-request, mechanism-too-weak, not-authorized,
// temporary-auth-failure).
type Failure struct {
	Condition string
	Text      string
}

func (f *Failure) Error() string { panic("unimplemented") }

// ChannelBinding supplies channel binding data for a TLS connection.
type ChannelBinding struct {
	// Types lists the channel binding types available on this connection,
	// preferred first (e.g. "tls-exporter", "tls-server-end-point"); empty
	// when the connection has no TLS.
	Types []string
	// Data returns the binding data for one of Types.
	Data func(cbType string) ([]byte, error)
}

// Config is what a mechanism needs about the connection and the accounts.
type Config struct {
	Lookup  Lookup
	Binding ChannelBinding
	// PlusAdvertised tells SCRAM that -PLUS variants were offered, so a
	// client flag "y" means a downgrade attack (RFC 5802 §6).
	PlusAdvertised bool
}

// Negotiator runs one authentication exchange.
type Negotiator interface {
	// Step consumes the client's next message (the initial response first,
	// possibly empty) and returns the server's next challenge, or, when done
	// is true, the additional data to send with success (may be nil). A
	// non-nil error is a *Failure and ends the exchange.
	Step(ctx context.Context, response []byte) (challenge []byte, done bool, err error)
	// Username returns the username (authcid) the client authenticated as,
	// exactly as passed to Lookup, after success.
	Username() string
	// AuthzID returns the authorization identity the client requested, or "".
	AuthzID() string
}

// Mechanism is a server mechanism.
type Mechanism struct {
	Name string // e.g. "SCRAM-SHA-256-PLUS"
	// NeedsTLS means the mechanism may only be offered on a TLS connection
	// (PLAIN, and -PLUS which need channel binding data).
	NeedsTLS bool
	New      func(cfg Config) Negotiator
}

// Mechanisms returns the mechanisms hearth implements, strongest first:
// SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN.
func Mechanisms() []Mechanism { panic("unimplemented") }

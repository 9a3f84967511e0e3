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

// ErrUnknownUser is returned by a Lookup for a username without account.
var ErrUnknownUser = errors.New("sasl: unknown user")

// Lookup returns the stored credentials of a username as the client sent it
// (SCRAM saslname already unescaped); the Lookup normalises it and returns
// ErrUnknownUser for a name that is invalid or has no account. Mechanisms must not reveal through errors or timing whether
// the user exists: on ErrUnknownUser they continue with fake credentials
// and fail at the end with not-authorized.
//
// Any other error fails the exchange with temporary-auth-failure. The
// mechanisms can only hide what happens after Lookup returns: a Lookup
// should take about as long for unknown users as for existing ones.
type Lookup func(ctx context.Context, username string) (Credentials, error)

// Failure is a SASL failure; Condition is an RFC 6120 §6.5 condition
// (aborted, account-disabled, credentials-expired, encryption-required,
// incorrect-encoding, invalid-authzid, invalid-mechanism,
// malformed-request, mechanism-too-weak, not-authorized,
// temporary-auth-failure).
//
// Text, when not empty, is fit to send to the peer in the failure's <text/>
// element: for SCRAM it is the RFC 5802 server-error-value (e.g.
// "invalid-proof", "channel-bindings-dont-match"), since XMPP has no other
// way to carry the "e=" attribute. It never tells an unknown user from a
// wrong password. Err is the underlying cause (e.g. a storage error behind
// temporary-auth-failure), for logging only: never send it to the peer.
type Failure struct {
	Condition string
	Text      string
	Err       error
}

// The RFC 6120 §6.5 conditions the mechanisms of this package return:
//
//   - CondMalformedRequest: a message breaks the mechanism's syntax or
//     protocol (including a SCRAM mandatory extension "m=", channel binding
//     requested with a non-PLUS mechanism or missing with a -PLUS one), or
//     Step is called after the exchange ended.
//   - CondIncorrectEncoding: bad base64 inside a SCRAM attribute.
//   - CondNotAuthorized: wrong password, unknown user, account without a
//     usable key, channel binding mismatch or unavailable type, a "y"
//     flag while -PLUS was advertised (downgrade), a wrong nonce.
//   - CondTemporaryAuthFailure: Lookup failed other than with
//     ErrUnknownUser, channel binding data could not be had, or Config
//     lacks a Lookup.
const (
	CondIncorrectEncoding    = "incorrect-encoding"
	CondMalformedRequest     = "malformed-request"
	CondNotAuthorized        = "not-authorized"
	CondTemporaryAuthFailure = "temporary-auth-failure"
)

// Error returns "sasl: " followed by the condition, the text in
// parentheses when there is one, and the underlying error when there is one.
func (f *Failure) Error() string {
	s := "sasl: " + f.Condition
	if f.Text != "" {
		s += " (" + f.Text + ")"
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns f.Err, so errors.Is sees through a Failure to, for
// instance, context.Canceled from a Lookup.
func (f *Failure) Unwrap() error { return f.Err }

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
// The zero values of the optional fields are safe defaults.
type Config struct {
	Lookup  Lookup
	Binding ChannelBinding
	// PlusAdvertised tells SCRAM that -PLUS variants were offered, so a
	// client flag "y" means a downgrade attack (RFC 5802 §6).
	PlusAdvertised bool
	// Iterations is the iteration count accounts are created with
	// (DefaultIterations when <= 0). Unknown users are shown this count
	// with their fake salt, so it should match what NewCredentials is given.
	Iterations int
	// FakeSecret keys the derivation of the fake salts shown for unknown
	// users. Set it from persistent configuration (32 random bytes) so that
	// those salts survive restarts like real ones do; when empty a random
	// per-process key is used, and an unknown user's salt changes when the
	// server restarts.
	FakeSecret []byte
	// Advertised, when not nil, is what the server offered; SCRAM then
	// adds the XEP-0474 downgrade protection hash to its server-first
	// message.
	Advertised *Advertisement
	// Tokens looks up FAST tokens for the HT mechanisms (TokenMechanisms).
	Tokens TokenLookup
}

// Negotiator runs one authentication exchange. A Negotiator is not safe for
// concurrent use.
type Negotiator interface {
	// Step consumes the client's next message (the initial response first,
	// possibly empty) and returns the server's next challenge, or, when done
	// is true, the additional data to send with success (may be nil). A
	// non-nil error is a *Failure and ends the exchange.
	//
	// An empty first message means the client sent no initial response: the
	// mechanisms return an empty, non-nil challenge and expect the client's
	// first message in the next Step. Calling Step after the exchange has
	// ended returns a malformed-request Failure.
	Step(ctx context.Context, response []byte) (challenge []byte, done bool, err error)
	// Username returns the username (authcid) the client authenticated as,
	// exactly as passed to Lookup, after success. Before success it returns
	// the username the client claims, once its message has been parsed, or
	// "": that name is not authenticated, and is only good for logging and
	// throttling failed attempts.
	Username() string
	// AuthzID returns the authorization identity the client requested, or "".
	// It is set once the client's first message has been parsed and is not
	// checked here: authorising it is up to the caller.
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
// Each call returns a new slice that the caller may modify.
func Mechanisms() []Mechanism {
	return []Mechanism{
		scramMechanism(sha256Spec, true),
		scramMechanism(sha1Spec, true),
		scramMechanism(sha256Spec, false),
		scramMechanism(sha1Spec, false),
		{Name: "PLAIN", NeedsTLS: true, New: func(cfg Config) Negotiator { return newPlain(cfg) }},
	}
}

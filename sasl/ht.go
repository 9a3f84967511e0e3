package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// The Hashed Token mechanisms (draft-schmaus-kitten-sasl-ht) that FAST
// (XEP-0484) authenticates with: one message each way, the client proving
// possession of a server-issued token by an HMAC over a fixed label and
// the channel binding data of its connection.
const (
	HTNone = "HT-SHA-256-NONE" // no channel binding
	HTExpr = "HT-SHA-256-EXPR" // tls-exporter (RFC 9266)
	HTUniq = "HT-SHA-256-UNIQ" // tls-unique (RFC 5929; not defined for TLS 1.3)
	HTEndp = "HT-SHA-256-ENDP" // tls-server-end-point (RFC 5929)
)

// htBinding maps each HT mechanism to the channel binding type it uses.
var htBinding = map[string]string{
	HTNone: "",
	HTExpr: "tls-exporter",
	HTUniq: "tls-unique",
	HTEndp: "tls-server-end-point",
}

// TokenLookup returns the HMAC keys of the tokens that username may
// authenticate with using mechanism (an HT mechanism), for the client
// the caller has in mind (XEP-0484 binds tokens to a client). An unknown
// user or one without tokens is an empty result, not an error; an error
// fails the exchange with temporary-auth-failure.
//
// The key of a token is what HMAC-SHA-256 uses as key when the token is
// the key: the token itself, or SHA-256 of it when it is longer than the
// hash's 64-byte block (RFC 2104 §2), which is how servers may keep only
// a hash of long tokens (TokenKey).
type TokenLookup func(ctx context.Context, username, mechanism string) ([][]byte, error)

// TokenKey returns the HMAC key of token: SHA-256 of token when it is
// longer than 64 bytes (HMAC hashes such keys first, so both give the same
// MACs), else token itself.
func TokenKey(token string) []byte {
	if len(token) > sha256.BlockSize {
		sum := sha256.Sum256([]byte(token))
		return sum[:]
	}
	return []byte(token)
}

// TokenMechanisms returns the HT mechanisms usable on a connection with
// the channel binding types b offers: HT-SHA-256-NONE always, and each
// channel binding variant whose type b has. Their negotiators need
// Config.Tokens; they are offered for FAST only, never in the SASL
// mechanism list, since a token is no password.
func TokenMechanisms(b ChannelBinding) []Mechanism {
	var out []Mechanism
	for _, name := range []string{HTEndp, HTExpr, HTUniq, HTNone} {
		cb := htBinding[name]
		if cb != "" && !slices.Contains(b.Types, cb) {
			continue
		}
		out = append(out, Mechanism{Name: name, NeedsTLS: cb != "", New: func(cfg Config) Negotiator { return newHT(cfg, name) }})
	}
	return out
}

// ht is the server side of one HT exchange.
type ht struct {
	cfg      Config
	name     string
	ended    bool
	username string
	matched  []byte
}

var _ Negotiator = (*ht)(nil)

func newHT(cfg Config, name string) *ht { return &ht{cfg: cfg, name: name} }

// Username implements Negotiator.
func (h *ht) Username() string { return h.username }

// AuthzID implements Negotiator: HT carries none.
func (h *ht) AuthzID() string { return "" }

// MatchedKey returns the key, as TokenLookup returned it, of the token the
// client proved it holds, after success; nil before.
func (h *ht) MatchedKey() []byte { return h.matched }

// TokenNegotiator is implemented by the negotiators of token mechanisms.
type TokenNegotiator interface {
	Negotiator
	// MatchedKey returns the key of the token used, once Step succeeded.
	MatchedKey() []byte
}

// Step implements Negotiator. The only message is authcid NUL
// HMAC(key, "Initiator" || cb-data); the success data is
// HMAC(key, "Responder" || cb-data), proving the server knows the token.
func (h *ht) Step(ctx context.Context, msg []byte) ([]byte, bool, error) {
	if h.ended {
		return nil, false, &Failure{Condition: CondMalformedRequest, Err: errors.New("ht: exchange has ended")}
	}
	h.ended = true
	user, proof, ok := bytes.Cut(msg, []byte{0})
	if !ok || len(user) == 0 || !utf8.Valid(user) || len(proof) != sha256.Size {
		return nil, false, &Failure{Condition: CondMalformedRequest, Err: errors.New("ht: want authcid NUL hmac")}
	}
	h.username = string(user)
	var cb []byte
	if t := htBinding[h.name]; t != "" {
		if !slices.Contains(h.cfg.Binding.Types, t) || h.cfg.Binding.Data == nil {
			return nil, false, &Failure{Condition: CondNotAuthorized, Err: fmt.Errorf("ht: channel binding %q not available", t)}
		}
		data, err := h.cfg.Binding.Data(t)
		if err != nil {
			return nil, false, &Failure{Condition: CondTemporaryAuthFailure, Err: fmt.Errorf("ht: channel binding data: %w", err)}
		}
		cb = data
	}
	if h.cfg.Tokens == nil {
		return nil, false, &Failure{Condition: CondTemporaryAuthFailure, Err: errors.New("ht: no token lookup configured")}
	}
	keys, err := h.cfg.Tokens(ctx, h.username, h.name)
	if err != nil {
		return nil, false, &Failure{Condition: CondTemporaryAuthFailure, Err: fmt.Errorf("ht: lookup: %w", err)}
	}
	if len(keys) == 0 {
		// The same work as for a real key, so that timing tells nothing.
		keys = [][]byte{make([]byte, sha256.Size)}
		htMAC(keys[0], "Initiator", cb)
		return nil, false, &Failure{Condition: CondNotAuthorized}
	}
	for _, k := range keys {
		if subtle.ConstantTimeCompare(htMAC(k, "Initiator", cb), proof) == 1 {
			h.matched = k
			return htMAC(k, "Responder", cb), true, nil
		}
	}
	return nil, false, &Failure{Condition: CondNotAuthorized}
}

func htMAC(key []byte, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}

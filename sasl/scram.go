package sasl

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// serverNonceLen is how many random bytes the server appends (base64
// encoded) to the client's nonce; RFC 5802 asks for an unpredictable value
// and 24 bytes (192 bits) is comfortably above the usual 18.
const serverNonceLen = 24

// plusSuffix marks the channel binding variant of a SCRAM mechanism.
const plusSuffix = "-PLUS"

func scramMechanism(h *hashSpec, plus bool) Mechanism {
	name := "SCRAM-" + h.name
	if plus {
		name += plusSuffix
	}
	return Mechanism{
		Name:     name,
		NeedsTLS: plus,
		New:      func(cfg Config) Negotiator { return newSCRAM(cfg, h, plus) },
	}
}

// scram is the server side of one SCRAM exchange (RFC 5802 §5). Each state
// is a method; state holds the one expecting the next message.
type scram struct {
	cfg   Config
	h     *hashSpec
	plus  bool
	state func(ctx context.Context, msg []byte) ([]byte, bool, error)
	// serverNonce returns the server's part of the nonce; tests replace it
	// to reproduce the RFC examples.
	serverNonce func() string

	first       clientFirst
	cbData      []byte   // expected c= value: gs2 header plus binding data
	key         SCRAMKey // the user's, or fake
	known       bool     // key is the user's own
	serverFirst string
	nonce       string // client nonce plus server nonce

}

var _ Negotiator = (*scram)(nil)

func newSCRAM(cfg Config, h *hashSpec, plus bool) *scram {
	s := &scram{cfg: cfg, h: h, plus: plus, serverNonce: randomNonce}
	s.state = s.stepInitial
	return s
}

func randomNonce() string {
	b := make([]byte, serverNonceLen)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.StdEncoding.EncodeToString(b)
}

// Step implements Negotiator.
func (s *scram) Step(ctx context.Context, msg []byte) ([]byte, bool, error) {
	challenge, done, err := s.state(ctx, msg)
	if err != nil || done {
		s.state = s.stepEnded
	}
	return challenge, done, err
}

// Username implements Negotiator.
func (s *scram) Username() string { return s.first.username }

// AuthzID implements Negotiator.
func (s *scram) AuthzID() string { return s.first.authzID }

// stepInitial takes the initial response, which may be absent.
func (s *scram) stepInitial(ctx context.Context, msg []byte) ([]byte, bool, error) {
	if len(msg) == 0 {
		s.state = s.stepClientFirst
		return []byte{}, false, nil
	}
	return s.stepClientFirst(ctx, msg)
}

// stepClientFirst takes client-first-message and answers server-first-message.
func (s *scram) stepClientFirst(ctx context.Context, msg []byte) ([]byte, bool, error) {
	first, err := parseClientFirst(string(msg))
	if err != nil {
		return nil, false, err
	}
	s.first = first
	if err := s.checkChannelBinding(); err != nil {
		return nil, false, err
	}
	if err := s.lookup(ctx); err != nil {
		return nil, false, err
	}
	s.nonce = first.nonce + s.serverNonce()
	s.serverFirst = "r=" + s.nonce +
		",s=" + base64.StdEncoding.EncodeToString(s.key.Salt) +
		",i=" + strconv.Itoa(s.key.Iterations)
	if s.cfg.Advertised != nil {
		// XEP-0474: an optional attribute (RFC 5802 §5.1), signed by the
		// proof like the rest of server-first-message.
		s.serverFirst += ",h=" + s.h.ssdpHash(s.cfg.Advertised)
	}
	s.state = s.stepClientFinal
	return []byte(s.serverFirst), false, nil
}

// checkChannelBinding checks the gs2-cbind-flag against the mechanism and
// the connection (RFC 5802 §6) and sets s.cbData.
func (s *scram) checkChannelBinding() error {
	f := s.first
	switch {
	case f.cbFlag == 'p' && !s.plus:
		return malformed(scramErrChannelBindingNotSupp, "scram: channel binding requested with a non-PLUS mechanism")
	case f.cbFlag != 'p' && s.plus:
		return malformed(scramErrOther, "scram: -PLUS mechanism without channel binding")
	case f.cbFlag == 'y' && s.cfg.PlusAdvertised:
		// The client would have chosen -PLUS had it seen it offered:
		// someone removed it on the way.
		return &Failure{
			Condition: CondNotAuthorized,
			Text:      scramErrServerDoesSupportCB,
			Err:       errors.New("scram: channel binding downgrade"),
		}
	case f.cbFlag != 'p':
		s.cbData = []byte(f.gs2Header)
		return nil
	}
	if !slices.Contains(s.cfg.Binding.Types, f.cbType) {
		return &Failure{
			Condition: CondNotAuthorized,
			Text:      scramErrUnsupportedCBType,
			Err:       fmt.Errorf("scram: channel binding type %q not available", f.cbType),
		}
	}
	if s.cfg.Binding.Data == nil {
		return &Failure{Condition: CondTemporaryAuthFailure, Err: errors.New("scram: no channel binding data source")}
	}
	data, err := s.cfg.Binding.Data(f.cbType)
	if err != nil {
		return &Failure{Condition: CondTemporaryAuthFailure, Err: fmt.Errorf("scram: channel binding data: %w", err)}
	}
	s.cbData = append([]byte(f.gs2Header), data...)
	return nil
}

// lookup sets s.key to the user's key, or to a fake one for a user that
// does not exist or has no usable key for this hash.
func (s *scram) lookup(ctx context.Context) error {
	if s.cfg.Lookup == nil {
		return &Failure{Condition: CondTemporaryAuthFailure, Err: errors.New("scram: no Lookup configured")}
	}
	creds, err := s.cfg.Lookup(ctx, s.first.username)
	// Derived whether needed or not, so that both paths do the same work.
	fake := fakeKey(s.cfg, s.h, s.first.username)
	switch {
	case err == nil:
		s.key = s.h.key(creds)
		s.known = s.h.valid(s.key)
	case errors.Is(err, ErrUnknownUser):
	default:
		return &Failure{Condition: CondTemporaryAuthFailure, Err: fmt.Errorf("scram: lookup: %w", err)}
	}
	if !s.known {
		s.key = fake
	}
	return nil
}

// stepClientFinal takes client-final-message, checks the proof and answers
// server-final-message.
func (s *scram) stepClientFinal(_ context.Context, msg []byte) ([]byte, bool, error) {
	final, err := parseClientFinal(string(msg))
	if err != nil {
		return nil, false, err
	}
	if final.nonce != s.nonce {
		return nil, false, &Failure{Condition: CondNotAuthorized, Text: scramErrOther, Err: errors.New("scram: nonce mismatch")}
	}
	if subtle.ConstantTimeCompare(final.channelBinding, s.cbData) != 1 {
		return nil, false, &Failure{
			Condition: CondNotAuthorized,
			Text:      scramErrChannelBindingsDontMatch,
			Err:       errors.New("scram: channel binding mismatch"),
		}
	}
	if len(final.proof) != s.h.size {
		return nil, false, malformed(scramErrInvalidProof, "scram: proof of %d bytes", len(final.proof))
	}
	// Everything from here on runs the same for fake keys as for real ones.
	authMessage := s.first.bare + "," + s.serverFirst + "," + final.withoutProof
	clientKey := s.h.hmac(s.key.StoredKey, authMessage) // ClientSignature
	subtle.XORBytes(clientKey, clientKey, final.proof)  // ClientProof ^ ClientSignature
	match := subtle.ConstantTimeCompare(s.h.sum(clientKey), s.key.StoredKey) == 1
	serverSignature := s.h.hmac(s.key.ServerKey, authMessage)
	if !match || !s.known {
		return nil, false, &Failure{Condition: CondNotAuthorized, Text: scramErrInvalidProof}
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), true, nil
}

// stepEnded refuses messages after success or failure.
func (s *scram) stepEnded(context.Context, []byte) ([]byte, bool, error) {
	return nil, false, &Failure{Condition: CondMalformedRequest, Err: errors.New("scram: exchange has ended")}
}

package sasl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// plain is the server side of one PLAIN exchange (RFC 4616).
type plain struct {
	cfg      Config
	state    func(ctx context.Context, msg []byte) ([]byte, bool, error)
	authzID  string
	username string // as claimed until success
}

var _ Negotiator = (*plain)(nil)

func newPlain(cfg Config) *plain {
	p := &plain{cfg: cfg}
	p.state = p.stepInitial
	return p
}

// Step implements Negotiator.
func (p *plain) Step(ctx context.Context, msg []byte) ([]byte, bool, error) {
	challenge, done, err := p.state(ctx, msg)
	if err != nil || done {
		p.state = p.stepEnded
	}
	return challenge, done, err
}

// Username implements Negotiator.
func (p *plain) Username() string { return p.username }

// AuthzID implements Negotiator.
func (p *plain) AuthzID() string { return p.authzID }

// stepInitial takes the initial response, which may be absent.
func (p *plain) stepInitial(ctx context.Context, msg []byte) ([]byte, bool, error) {
	if len(msg) == 0 {
		p.state = p.stepMessage
		return []byte{}, false, nil
	}
	return p.stepMessage(ctx, msg)
}

// stepMessage takes message = [authzid] UTF8NUL authcid UTF8NUL passwd.
func (p *plain) stepMessage(ctx context.Context, msg []byte) ([]byte, bool, error) {
	if !utf8.Valid(msg) {
		return nil, false, &Failure{Condition: CondMalformedRequest, Err: errors.New("plain: message is not UTF-8")}
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return nil, false, &Failure{Condition: CondMalformedRequest, Err: errors.New("plain: want authzid NUL authcid NUL passwd")}
	}
	p.authzID = string(parts[0])
	authcid, password := string(parts[1]), string(parts[2])
	p.username = authcid

	if p.cfg.Lookup == nil {
		return nil, false, &Failure{Condition: CondTemporaryAuthFailure, Err: errors.New("plain: no Lookup configured")}
	}
	creds, err := p.cfg.Lookup(ctx, authcid)
	known := err == nil
	if err != nil && !errors.Is(err, ErrUnknownUser) {
		return nil, false, &Failure{Condition: CondTemporaryAuthFailure, Err: fmt.Errorf("plain: lookup: %w", err)}
	}
	// The fake key is derived whether needed or not, and checked instead
	// of a missing one, so that all paths do the same work.
	fake := Credentials{SHA256: fakeKey(p.cfg, sha256Spec, authcid)}
	var ok bool
	if known {
		ok, err = creds.verify(password)
		known = !errors.Is(err, errNoKey)
	}
	if !known {
		fake.verify(password)
	}
	if !ok || !known {
		return nil, false, &Failure{Condition: CondNotAuthorized}
	}
	return nil, true, nil
}

// stepEnded refuses messages after success or failure.
func (p *plain) stepEnded(context.Context, []byte) ([]byte, bool, error) {
	return nil, false, &Failure{Condition: CondMalformedRequest, Err: errors.New("plain: exchange has ended")}
}

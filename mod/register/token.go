package register

import (
	"context"
	"errors"
	"sync"
	"time"

	"hearth/mod/invite"
	"hearth/module"
	"hearth/stanza"
)

// Bounds of the tokens presented before registration (mode invite).
const (
	// maxPendingTokens bounds the streams that presented a token and have
	// not registered yet; past it the oldest is forgotten.
	maxPendingTokens = 10000
	// tokenTimeout is how long a presented token waits for the
	// registration on its stream.
	tokenTimeout = 10 * time.Minute
)

// preAuthToken answers <preauth xmlns='urn:xmpp:pars:0' token='...'/>
// before registration (XEP-0445 §3): a valid invitation is remembered for
// the stream, so that its next registration is allowed; an unknown,
// expired or used-up token is item-not-found.
func (r *registrar) preAuthToken(ctx context.Context, req module.PreAuthRequest) (*stanza.Element, error) {
	if !req.Secure {
		return nil, errInsecure
	}
	token := req.Payload.Get("token")
	if _, err := r.invites.Lookup(ctx, token); err != nil {
		if errors.Is(err, invite.ErrInvalid) {
			return nil, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "the invitation is unknown, expired or used up"}
		}
		return nil, err
	}
	r.tokens.put(req.StreamID, token, now())
	return nil, nil
}

// streamTokens remembers the token each stream presented. Its methods are
// safe for concurrent use.
type streamTokens struct {
	max     int
	timeout time.Duration

	mu sync.Mutex
	m  map[string]pendingToken
}

type pendingToken struct {
	token string
	at    time.Time
}

func newStreamTokens(max int, timeout time.Duration) *streamTokens {
	return &streamTokens{max: max, timeout: timeout, m: map[string]pendingToken{}}
}

func (st *streamTokens) put(stream, token string, t time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.m) >= st.max {
		var oldest string
		for k, v := range st.m {
			if t.Sub(v.at) > st.timeout {
				delete(st.m, k)
			} else if oldest == "" || v.at.Before(st.m[oldest].at) {
				oldest = k
			}
		}
		if len(st.m) >= st.max {
			delete(st.m, oldest)
		}
	}
	st.m[stream] = pendingToken{token, t}
}

// get returns the token stream presented, or "" (none, or too old).
func (st *streamTokens) get(stream string, t time.Time) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.m[stream]
	if !ok || t.Sub(p.at) > st.timeout {
		return ""
	}
	return p.token
}

func (st *streamTokens) forget(stream string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, stream)
}

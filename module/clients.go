package module

import (
	"context"
	"fmt"
	"time"

	"hearth/jid"
)

// Clients keeps the clients that log in to the accounts of a host: the
// FAST tokens they hold (XEP-0484) and what client management shows of
// them (XEP-0494). One module provides it (Host.ProvideClients); without
// one, the host issues no tokens. Its methods are safe for concurrent use.
type Clients interface {
	// TokenKeys returns the keys of the unexpired tokens for mechanism
	// that the client agentID of user holds (see sasl.TokenLookup).
	TokenKeys(ctx context.Context, user jid.JID, agentID, mechanism string) ([][]byte, error)
	// LoggedIn records a successful authentication and applies the FAST
	// rules to it; it returns a token to hand to the client, or nil. An
	// error refuses the login: a *sasl.Failure is sent as is.
	LoggedIn(ctx context.Context, l Login) (*Token, error)
}

// Login is one successful authentication of a client (XEP-0388 SASL2).
type Login struct {
	User                      jid.JID // bare
	Mechanism                 string
	AgentID, Software, Device string // from <user-agent/>; AgentID may be ""
	// TokenKey is the key of the FAST token used, nil for a password.
	TokenKey []byte
	// Count is the client's attempt counter for the token (XEP-0484
	// replay protection), HasCount whether it sent one.
	Count    uint64
	HasCount bool
	// Invalidate asks for the token used to be invalidated.
	Invalidate bool
	// RequestToken is the mechanism of the token the client asked for, or "".
	RequestToken string
}

// Token is a FAST token issued to a client.
type Token struct {
	Secret string
	Expiry time.Time
}

// ClientSession is implemented by sessions that know which client
// (XEP-0388 user-agent id) opened them; find it with a type assertion.
type ClientSession interface {
	// ClientID returns the client's user-agent id, "" when it sent none.
	ClientID() string
}

// ProvideClients makes c the host's client keeper. Only one module may.
func (h *Host) ProvideClients(c Clients) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	if h.reg.clients != nil {
		h.errs = append(h.errs, fmt.Errorf("clients already provided by %s", h.reg.clients.module))
		return
	}
	h.reg.clients = &entry[Clients]{h.module, c}
}

// Clients returns the host's client keeper, or nil.
func (r *Registry) Clients() Clients {
	if r.clients == nil {
		return nil
	}
	return r.clients.fn
}

package modtest

import (
	"context"
	"sync"
	"testing"

	"hearth/jid"
	"hearth/module"
	"hearth/sasl"
	"hearth/stanza"
)

// Router is a fake module.Router: it keeps the sessions bound with Bind,
// records what modules Route, and serves only its own domain. Its methods
// are safe for concurrent use.
type Router struct {
	domain string

	mu       sync.Mutex
	sessions []*Session
	routed   []*stanza.Element
	sendIQ   func(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)
}

var _ module.Router = (*Router)(nil)

// Bind adds a bound session for the full JID full and returns it.
func (r *Router) Bind(t *testing.T, full string) *Session {
	t.Helper()
	s := &Session{jid: mustJID(t, full)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions = append(r.sessions, s)
	return s
}

// Unbind removes s from the session table, as the router does before it
// runs the session-closed hooks.
func (r *Router) Unbind(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.sessions {
		if x == s {
			r.sessions = append(r.sessions[:i], r.sessions[i+1:]...)
			return
		}
	}
}

// Routed returns the stanzas modules routed so far.
func (r *Router) Routed() []*stanza.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*stanza.Element(nil), r.routed...)
}

// Route implements module.Router: it records st.
func (r *Router) Route(_ context.Context, st *stanza.Element) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routed = append(r.routed, st)
	return nil
}

// Sessions implements module.Router.
func (r *Router) Sessions(bare jid.JID) []module.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []module.Session
	for _, s := range r.sessions {
		if s.jid.Bare() == bare.Bare() {
			out = append(out, s)
		}
	}
	return out
}

// Session implements module.Router.
func (r *Router) Session(full jid.JID) module.Session {
	if s := r.session(full); s != nil {
		return s
	}
	return nil
}

func (r *Router) session(full jid.JID) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		if s.jid == full {
			return s
		}
	}
	return nil
}

// SendIQ implements module.Router: it calls the function set with
// HandleSendIQ; without one nothing answers, as if every peer were
// unavailable.
func (r *Router) SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	r.mu.Lock()
	fn := r.sendIQ
	r.mu.Unlock()
	if fn == nil {
		return nil, stanza.NewError("service-unavailable")
	}
	return fn(ctx, iq)
}

// HandleSendIQ makes fn answer the IQs modules send with SendIQ, playing
// the peers (an app server, another service). fn may be called
// concurrently, from goroutines of the modules.
func (r *Router) HandleSendIQ(fn func(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sendIQ = fn
}

// IsLocal implements module.Router.
func (r *Router) IsLocal(domain string) bool { return domain == r.domain }

// IsService implements module.Router: the test router serves no services.
func (r *Router) IsService(string) bool { return false }

// Session is a fake bound session. Like a real stream, it drops what is
// sent after Close.
type Session struct {
	jid jid.JID

	mu       sync.Mutex
	presence *stanza.Element
	sent     []*stanza.Element
	dropped  []*stanza.Element
	closed   bool
	closeErr error
	values   module.Values
}

var _ module.Session = (*Session)(nil)

// JID implements module.Session.
func (s *Session) JID() jid.JID { return s.jid }

// Send implements module.Session.
func (s *Session) Send(st *stanza.Element) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.dropped = append(s.dropped, st)
		return
	}
	s.sent = append(s.sent, st)
}

// Presence implements module.Session.
func (s *Session) Presence() *stanza.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presence
}

// SetPresence implements module.Session.
func (s *Session) SetPresence(p *stanza.Element) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.presence = p
}

// Priority implements module.Session.
func (s *Session) Priority() int { return 0 }

// Values implements module.Session.
func (s *Session) Values() *module.Values { return &s.values }

// Close implements module.Session: it records err; later Sends are dropped.
func (s *Session) Close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed, s.closeErr = true, err
	}
}

// Sent returns what was sent to the session before it closed.
func (s *Session) Sent() []*stanza.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*stanza.Element(nil), s.sent...)
}

// Closed reports whether the session was closed, and with which error.
func (s *Session) Closed() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed, s.closeErr
}

// testIterations keeps key derivation in tests fast; never use it elsewhere.
const testIterations = 16

// FastCredentials derives credentials for password with few iterations.
func FastCredentials(t *testing.T, password string) sasl.Credentials {
	t.Helper()
	c, err := sasl.NewCredentials(password, testIterations)
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	return c
}

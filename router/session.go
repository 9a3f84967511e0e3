package router

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"hearth/jid"
	"hearth/module"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/storage"
	"hearth/stream"
)

// VHost is one virtual host: it implements stream.VHost for client streams
// opened to its domain.
type VHost struct {
	r      *Router
	reg    *module.Registry
	domain string
}

var _ stream.VHost = (*VHost)(nil)

// Registry returns the host's module registry.
func (vh *VHost) Registry() *module.Registry { return vh.reg }

// Credentials implements stream.VHost.
func (vh *VHost) Credentials(ctx context.Context, username string) (sasl.Credentials, error) {
	u, err := jid.New(username, vh.domain, "")
	if err != nil || u.Local() == "" {
		return sasl.Credentials{}, sasl.ErrUnknownUser
	}
	acct, err := vh.r.store.Accounts().Get(ctx, vh.domain, u.Local())
	if errors.Is(err, storage.ErrNotFound) {
		return sasl.Credentials{}, sasl.ErrUnknownUser
	}
	if err != nil {
		return sasl.Credentials{}, err
	}
	return acct.Credentials, nil
}

// PreAuthFeatures implements stream.VHost.
func (vh *VHost) PreAuthFeatures() []*stanza.Element { return vh.reg.PreAuthFeatures() }

// StreamFeatures implements stream.VHost: the modules' features, XEP-0198
// stream management and the server's XEP-0115 capabilities.
func (vh *VHost) StreamFeatures() []*stanza.Element {
	f := vh.reg.StreamFeatures()
	out := make([]*stanza.Element, 0, len(f)+2)
	out = append(out, f...)
	out = append(out, smElement("sm"), stanza.New(NSCSI, "csi"))
	out = append(out, stanza.New(NSCaps, "c", "hash", "sha-1", "node", CapsNode, "ver", vh.reg.CapsVer()))
	return out
}

// XEP-0115 identification of hearth's own capabilities.
const (
	NSCaps   = "http://jabber.org/protocol/caps"
	CapsNode = "https://hearth.chat/caps"
)

// PreAuthIQ implements stream.VHost.
func (vh *VHost) PreAuthIQ(ctx context.Context, c *stream.Conn, iq *stanza.Element) *stanza.Element {
	typ := iq.Get("type")
	payload := iq.FirstElement()
	if (typ != stanza.Get && typ != stanza.Set) || payload == nil {
		return nil
	}
	fn, ok := vh.reg.PreAuthIQ(module.IQKey{Type: typ, Payload: payload.Name})
	if !ok {
		return nil
	}
	res, err := fn(ctx, module.PreAuthRequest{Stanza: iq, Payload: payload, Domain: vh.domain, RemoteAddr: c.RemoteAddr(), Secure: c.Secure(), StreamID: c.ID()})
	reply := vh.r.iqReply(iq, res, err)
	reply.Set("from", "")
	reply.Set("to", "")
	return reply
}

// Bind implements stream.VHost: it binds resource (a random one when
// empty) and puts the session in the table. When the full JID is taken the
// newest session wins and the old one is closed with <conflict/> (RFC 6120
// §7.7.2.2, "override").
func (vh *VHost) Bind(ctx context.Context, c *stream.Conn, bare jid.JID, resource string) (stream.SessionHandler, jid.JID, error) {
	return vh.bind(ctx, c, bare, resource, nil)
}

// bind is Bind; setup, when not nil, prepares the new session before it
// enters the table, so that nothing is sent to it before.
func (vh *VHost) bind(ctx context.Context, c *stream.Conn, bare jid.JID, resource string, setup func(*Session)) (stream.SessionHandler, jid.JID, error) {
	if resource == "" {
		resource = stanza.NewID()
	} else {
		// The resource is a part of the bind request's text: the
		// session keeps its JID for its life, but not that request.
		resource = strings.Clone(resource)
	}
	full, err := bare.WithResource(resource)
	if err != nil {
		return nil, jid.JID{}, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid resource"}
	}
	s := &Session{r: vh.r, vh: vh, conn: c, jid: full}
	s.ctx = module.WithWrites(context.Background(), &s.writes)
	if l := c.Login(); l != nil {
		s.client = l.AgentID
	}
	if setup != nil {
		setup(s)
	}
	r := vh.r
	r.mu.Lock()
	res := r.accounts[bare]
	if res == nil {
		res = map[string]*Session{}
		r.accounts[bare] = res
	}
	old := res[full.Resource()]
	res[full.Resource()] = s
	r.mu.Unlock()
	if old != nil {
		// The old session's departure (unavailable presence to contacts,
		// logout time) is processed now, before the new session can send
		// anything. Its stream may take the close grace period to end
		// (a dead peer never answers), and announcing it then would tell
		// contacts that the full JID, by then the new session's, is gone.
		old.retire()
		old.end(ctx, &stanza.StreamError{Condition: "conflict", Text: "replaced by a new connection"})
	}
	vh.reg.RunSessionBound(ctx, s)
	return &connHandler{s: s, c: c}, full, nil
}

// Session is a bound client session. It implements module.Session; its
// connHandler implements stream.SessionHandler for the connection it is
// attached to. With stream management (XEP-0198) a session outlives its
// connection: it hibernates until resumed on another one, or ends.
type Session struct {
	r      *Router
	vh     *VHost
	jid    jid.JID
	client string // XEP-0388 user-agent id, "" when unknown

	mu       sync.Mutex
	conn     *stream.Conn // nil while hibernating or ended
	presence *stanza.Element
	priority int
	sm       *smState // nil until the client enables stream management
	ended    bool     // out of the table; Send redelivers
	inactive bool     // XEP-0352: the client said it is not in use
	held     []*stanza.Element

	// handling is held while a stanza of the session is handled, and by
	// retire: a replaced session handles nothing more.
	handling sync.Mutex
	replaced bool // guarded by handling

	values module.Values

	// ctx is the context the session's stanzas are handled under: it
	// carries writes, the storage writes they started that have not
	// committed yet, which XEP-0198 acknowledgements wait for.
	ctx    context.Context
	writes module.Writes
}

var (
	_ module.Session       = (*Session)(nil)
	_ module.ClientSession = (*Session)(nil)
)

// JID implements module.Session.
func (s *Session) JID() jid.JID { return s.jid }

// Send implements module.Session. With stream management on, st is kept
// until the client acknowledges it (and queued only, while the session
// hibernates); a stanza for an ended session is redelivered.
func (s *Session) Send(st *stanza.Element) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		s.redeliver(context.Background(), []*stanza.Element{st})
		return
	}
	if s.inactive && !urgent(st) {
		s.holdLocked(st)
		s.mu.Unlock()
		return
	}
	// Something urgent: what was held back goes first, in order.
	failed, overflow := s.flushHeldLocked(nil, false)
	failed, overflow = s.sendLocked(st, failed, overflow)
	s.mu.Unlock()
	if overflow {
		s.end(context.Background(), &stanza.StreamError{Condition: "policy-violation", Text: "too many unacknowledged stanzas"})
	}
	s.redeliver(context.Background(), failed)
}

// SendTracked implements module.Tracker.
func (s *Session) SendTracked(st *stanza.Element, done func(ok bool)) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		done(false)
		return
	}
	failed, overflow := s.flushHeldLocked(nil, false)
	sm, conn := s.sm, s.conn
	switch {
	case sm == nil && conn == nil:
		s.mu.Unlock()
		done(false) // not bound to a connection: cannot happen without SM
		s.redeliver(context.Background(), failed)
		return
	case sm == nil:
		if !conn.SendTracked(st, done) {
			s.mu.Unlock()
			done(false)
			s.redeliver(context.Background(), failed)
			return
		}
	case len(sm.unacked) >= s.r.SM.MaxUnacked:
		s.mu.Unlock()
		done(false)
		s.end(context.Background(), &stanza.StreamError{Condition: "policy-violation", Text: "too many unacknowledged stanzas"})
		s.redeliver(context.Background(), failed)
		return
	default:
		failed, overflow = s.sendLocked(st, failed, overflow)
		if sm.dones == nil {
			sm.dones = map[uint32]func(bool){}
		}
		sm.dones[sm.sent] = done
	}
	s.mu.Unlock()
	if overflow {
		s.end(context.Background(), &stanza.StreamError{Condition: "policy-violation", Text: "too many unacknowledged stanzas"})
	}
	s.redeliver(context.Background(), failed)
}

// AskAck implements module.Tracker.
func (s *Session) AskAck() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sm := s.sm; sm != nil && s.conn != nil && sm.sent != sm.acked && sm.requested != sm.sent {
		s.conn.SendBytes(ackRequest)
		sm.requested = sm.sent
	}
}

// Inactive implements module.Inactive.
func (s *Session) Inactive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inactive
}

// sendLocked queues st on the connection (and, with stream management, in
// the unacknowledged queue); what cannot be sent is appended to failed,
// and overflow reports that too many stanzas wait for acknowledgement.
// Caller holds s.mu; Conn.Send only enqueues, so the wire order is the
// order of the unacknowledged queue.
func (s *Session) sendLocked(st *stanza.Element, failed []*stanza.Element, overflow bool) ([]*stanza.Element, bool) {
	conn := s.conn
	sm := s.sm
	if sm == nil {
		if conn == nil || !conn.Send(st) {
			// The stream is closing: Closed will end the session soon.
			failed = append(failed, st)
		}
		return failed, overflow
	}
	if len(sm.unacked) >= s.r.SM.MaxUnacked {
		return append(failed, st), true
	}
	sm.unacked = append(sm.unacked, st)
	sm.sent++
	if conn != nil {
		conn.Send(st)
		if sm.sent-sm.requested >= uint32(s.r.SM.AckEvery) {
			conn.SendBytes(ackRequest)
			sm.requested = sm.sent
		}
	}
	return failed, overflow
}

// Presence implements module.Session.
func (s *Session) Presence() *stanza.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presence
}

// SetPresence implements module.Session.
func (s *Session) SetPresence(p *stanza.Element) {
	prio := 0
	if p != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(p.ChildText("", "priority"))); err == nil && v >= -128 && v <= 127 {
			prio = v
		}
	}
	s.mu.Lock()
	s.presence, s.priority = p, prio
	s.mu.Unlock()
}

// Priority implements module.Session.
func (s *Session) Priority() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.priority
}

func (s *Session) available() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presence != nil && !s.ended, s.priority
}

// Values implements module.Session.
func (s *Session) Values() *module.Values { return &s.values }

// Close implements module.Session: the session ends now (it leaves the
// table, its departure is announced) and its stream is closed with err.
func (s *Session) Close(err error) { s.end(context.Background(), err) }

// retire marks a session another session with the same full JID
// replaced, once it has finished handling its current stanza.
func (s *Session) retire() {
	s.handling.Lock()
	s.replaced = true
	s.handling.Unlock()
}

// end takes the session out of the table, runs the session-closed hooks
// once, closes its stream (if any) with err, and redelivers the messages
// it had not acknowledged. It is idempotent.
func (s *Session) end(ctx context.Context, err error) { s.finish(ctx, err, true) }

// finish is end; closeConn is false when the stream itself is ending and
// closes the connection with its own error.
func (s *Session) finish(ctx context.Context, err error, closeConn bool) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	conn := s.conn
	s.conn = nil
	// unacked are redelivered; waited, queued while the session
	// hibernated, too, but the user's devices were told of them then.
	var unacked, waited []*stanza.Element
	var lost, kept []func(bool) // tracked stanzas: done(false), done(true)
	var smID string
	if sm := s.sm; sm != nil {
		hibernating := conn == nil
		mamClient, _ := module.UsesArchive.Get(s)
		archived := func(st *stanza.Element) bool { return mamClient && inArchiveOf(st, s.jid.Bare()) }
		for i, st := range sm.unacked {
			seq := sm.acked + 1 + uint32(i)
			if fn, ok := sm.dones[seq]; ok {
				if archived(st) {
					kept = append(kept, fn)
				} else {
					lost = append(lost, fn)
				}
				continue
			}
			switch {
			case archived(st):
			case hibernating && seq-sm.sleptAt-1 < sm.sent-sm.sleptAt: // seq in (sleptAt, sent], wrapping
				waited = append(waited, st)
			default:
				unacked = append(unacked, st)
			}
		}
		sm.unacked, sm.dones = nil, nil
		smID = sm.id
		if sm.timer != nil {
			sm.timer.Stop()
		}
	}
	unacked = append(unacked, s.held...)
	s.held = nil
	s.mu.Unlock()
	r, bare := s.r, s.jid.Bare()
	r.mu.Lock()
	if res := r.accounts[bare]; res[s.jid.Resource()] == s {
		delete(res, s.jid.Resource())
		if len(res) == 0 {
			delete(r.accounts, bare)
		}
	}
	if smID != "" {
		delete(r.resumable, smID)
	}
	r.mu.Unlock()
	if conn != nil && closeConn {
		conn.Close(err)
	}
	s.vh.reg.RunSessionClosed(ctx, s)
	callDone(kept, true)
	callDone(lost, false)
	s.redeliver(ctx, unacked)
	s.redeliver(module.WithRequeued(ctx, true), waited)
}

// inArchiveOf reports whether st carries the <stanza-id/> of owner's
// archive (XEP-0359), which mod/mam adds to the messages it archived.
func inArchiveOf(st *stanza.Element, owner jid.JID) bool {
	if st.Name.Local != "message" {
		return false
	}
	for _, c := range st.Elements() {
		if c.Name.Space == nsStanzaID && c.Name.Local == "stanza-id" && c.Get("by") == owner.String() {
			return true
		}
	}
	return false
}

const nsStanzaID = "urn:xmpp:sid:0"

// connHandler is the stream.SessionHandler of a session on one
// connection: what an older connection of a resumed session reads or
// reports is ignored, except a stanza it counted before the resumption
// (see HandleStanza).
type connHandler struct {
	s *Session
	c *stream.Conn
	// counted: the last stanza reported to StanzaReceived was counted
	// for XEP-0198 (the connection was current then). The stream calls
	// StanzaReceived and then HandleStanza for a stanza from its one read
	// goroutine, so no lock guards it.
	counted bool
}

var (
	_ stream.SessionHandler = (*connHandler)(nil)
	_ stream.NonzaHandler   = (*connHandler)(nil)
)

func (h *connHandler) current() bool {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.conn == h.c && !h.s.ended
}

// StanzaReceived implements stream.SessionHandler: it counts every stanza
// the client sent, for XEP-0198 acknowledgements.
func (h *connHandler) StanzaReceived() {
	s := h.s
	s.mu.Lock()
	h.counted = s.sm != nil && s.conn == h.c
	if h.counted {
		s.sm.inbound++
	}
	s.mu.Unlock()
}

// HandleNonza implements stream.NonzaHandler.
func (h *connHandler) HandleNonza(el *stanza.Element) error {
	if !h.current() {
		return nil
	}
	return h.s.handleNonza(h.c, el)
}

// HandleStanza implements stream.SessionHandler.
// A stanza counted while its connection was current is handled even if
// the session was resumed on another connection since: the count told
// (or will tell, in <resumed h/>) the client it was, so the client will
// not send it again.
func (h *connHandler) HandleStanza(st *stanza.Element, to jid.JID) {
	s := h.s
	counted := h.counted
	h.counted = false
	s.handling.Lock()
	defer s.handling.Unlock()
	s.mu.Lock()
	stale := s.ended || (s.conn != h.c && !counted)
	s.mu.Unlock()
	if s.replaced || stale {
		return // the full JID is another session's now, or this connection is stale
	}
	s.handleStanza(st, to)
}

func (s *Session) handleStanza(st *stanza.Element, to jid.JID) {
	ctx := s.ctx
	addressee := to
	if addressee.IsZero() {
		addressee = s.jid.Bare()
	}
	orig := st
	st, err := s.vh.reg.RunInbound(ctx, st, s.jid, addressee)
	if st == nil {
		if err != nil && orig.Get("type") != stanza.ErrorType {
			// The refusal goes straight back to this session: routed, it
			// would look like a stanza from the addressee and pass that
			// addressee's checks (a blocked JID's, say) on the way.
			s.Send(stanza.ErrorReply(orig, s.r.stanzaError(err)))
		}
		return
	}
	if st.Name.Local == "presence" {
		if out := s.vh.reg.OutboundPresence(); out != nil {
			out(ctx, s, st, to)
			return
		}
		if to.IsZero() {
			s.SetPresence(presenceOrNil(st))
			return
		}
	}
	if to.IsZero() {
		// RFC 6120 §10.3: no 'to' means the sender's own account; the
		// reply to such an IQ carries no 'from' either (§8.1.2.1).
		bare := s.jid.Bare()
		if st.Name.Local == "iq" {
			s.r.routeIQ(ctx, s.vh, st, s.jid, bare, false)
			return
		}
		st = st.Copy().Set("to", bare.String())
		s.r.route(ctx, st, s.jid, bare)
		return
	}
	s.r.route(ctx, st, s.jid, to)
}

func presenceOrNil(p *stanza.Element) *stanza.Element {
	if t := p.Get("type"); t == "" {
		return p
	}
	return nil
}

// Closed implements stream.SessionHandler. A resumable session whose
// connection dropped hibernates; otherwise the session ends (unless a
// newer connection or session already took over).
func (h *connHandler) Closed(err error) {
	s := h.s
	s.mu.Lock()
	if s.ended || s.conn != h.c {
		s.mu.Unlock()
		return
	}
	if s.hibernate(h.c, err) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.finish(context.Background(), err, false)
}

package router

import (
	"context"
	"errors"
	"strconv"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/stream"
)

// NSSM is the XEP-0198 Stream Management namespace.
const NSSM = "urn:xmpp:sm:3"

// SMConfig configures XEP-0198 stream management.
type SMConfig struct {
	// ResumeTimeout is how long a session whose connection dropped waits
	// for its client to resume it; it is the max of <enabled/>.
	ResumeTimeout time.Duration
	// MaxUnacked bounds the stanzas kept for a session that does not
	// acknowledge them; past it the session ends and its unacknowledged
	// messages take the undelivered path (offline storage).
	MaxUnacked int
	// AckEvery is how many stanzas are sent between two <r/> requests.
	AckEvery int
}

// DefaultSMConfig is the configuration of a new Router.
var DefaultSMConfig = SMConfig{ResumeTimeout: 5 * time.Minute, MaxUnacked: 10000, AckEvery: 5}

// smState is a session's stream management state; guarded by Session.mu.
// Counters wrap around at 2^32 as XEP-0198 §5 says.
type smState struct {
	id        string // resumption id; "" when the session is not resumable
	inbound   uint32 // stanzas received from the client: the h we report
	sent      uint32 // stanzas sent to the client since <enable/>
	acked     uint32 // the client's last h
	requested uint32 // sent when we last asked for an ack
	sleptAt   uint32 // sent when the session last began to hibernate
	unacked   []*stanza.Element
	// dones are the done functions of tracked stanzas (SendTracked) not
	// yet acknowledged, by sequence number (sent when it was queued; the
	// i-th of unacked is acked+1+i). nil until a stanza is tracked.
	dones map[uint32]func(bool)
	timer *time.Timer // runs while the session hibernates
}

var ackRequest = []byte("<r xmlns='urn:xmpp:sm:3'/>")

// ack applies the client's h: acknowledged stanzas are forgotten, and
// the done functions of the tracked ones among them are returned, to be
// called with true once the session lock is released. It reports false
// when h acknowledges stanzas that were never sent.
func (sm *smState) ack(h uint32) ([]func(bool), bool) {
	n := h - sm.acked
	if n > uint32(len(sm.unacked)) {
		return nil, false
	}
	var done []func(bool)
	if len(sm.dones) > 0 {
		for i := uint32(1); i <= n; i++ {
			if fn, ok := sm.dones[sm.acked+i]; ok {
				done = append(done, fn)
				delete(sm.dones, sm.acked+i)
			}
		}
	}
	clear(sm.unacked[:n])
	sm.unacked = sm.unacked[n:]
	if len(sm.unacked) == 0 {
		sm.unacked = nil // a quiet session holds no array
	}
	sm.acked = h
	return done, true
}

// ackWriteWait bounds how long an acknowledgement waits for archive
// writes: a storage that hangs longer delays the client's <a/> no more
// than this (the writes still happen, without the guarantee).
const ackWriteWait = 10 * time.Second

// waitWrites waits until the storage writes started by the session's
// stanzas so far have committed (docs/durability.md), at most
// ackWriteWait.
func (s *Session) waitWrites() {
	if !s.writes.Wait(ackWriteWait) {
		s.r.log.Warn("acknowledging stanzas whose archive writes have not committed", "jid", s.jid, "waited", ackWriteWait)
	}
}

// callDone calls each of fns with ok; the caller holds no session lock.
func callDone(fns []func(bool), ok bool) {
	for _, fn := range fns {
		fn(ok)
	}
}

func smElement(local string, attrs ...string) *stanza.Element {
	return stanza.New(NSSM, local, attrs...)
}

func smFailed(condition string) *stanza.Element {
	return smElement("failed").Append(stanza.New(stanza.NSStanzas, condition))
}

// handleNonza processes a stream management element the client sent on
// connection c (XEP-0198 §3-§4).
func (s *Session) handleNonza(c *stream.Conn, el *stanza.Element) error {
	if el.Name.Space == NSCSI {
		return s.handleCSI(el)
	}
	if el.Name.Space != NSSM {
		return &stanza.StreamError{Condition: "unsupported-stanza-type"}
	}
	switch el.Name.Local {
	case "enable":
		return s.enableSM(c, el.Get("resume") == "true" || el.Get("resume") == "1")
	case "r":
		// The stanzas counted so far were handled (the read loop handles
		// each before it reads the next); the acknowledgement also
		// waits until the archive writes they started have committed.
		s.waitWrites()
		s.mu.Lock()
		sm := s.sm
		var h uint32
		if sm != nil {
			h = sm.inbound
		}
		s.mu.Unlock()
		if sm == nil {
			c.Send(smFailed("unexpected-request"))
			return nil
		}
		c.Send(smElement("a", "h", strconv.FormatUint(uint64(h), 10)))
		return nil
	case "a":
		h, err := strconv.ParseUint(el.Get("h"), 10, 32)
		if err != nil {
			return &stanza.StreamError{Condition: "invalid-xml", Text: "<a/> needs a numeric h"}
		}
		s.mu.Lock()
		if s.sm == nil {
			s.mu.Unlock()
			return &stanza.StreamError{Condition: "unsupported-stanza-type", Text: "stream management is not enabled"}
		}
		done, ok := s.sm.ack(uint32(h))
		sent := s.sm.sent
		s.mu.Unlock()
		if !ok {
			return &stanza.StreamError{Condition: "undefined-condition",
				App: smElement("handled-count-too-high", "h", el.Get("h"), "send-count", strconv.FormatUint(uint64(sent), 10))}
		}
		callDone(done, true)
		return nil
	}
	return &stanza.StreamError{Condition: "unsupported-stanza-type"}
}

// enableSM starts stream management on the session (XEP-0198 §3).
func (s *Session) enableSM(c *stream.Conn, resume bool) error {
	c.Send(s.enableSMElement(resume))
	return nil
}

// enableSMElement starts stream management on the session and returns
// the answer: <enabled/>, or <failed/> when it is already on.
func (s *Session) enableSMElement(resume bool) *stanza.Element {
	r := s.r
	s.mu.Lock()
	if s.sm != nil {
		s.mu.Unlock()
		return smFailed("unexpected-request")
	}
	s.sm = &smState{}
	if resume {
		s.sm.id = stanza.NewID() + stanza.NewID()
	}
	id := s.sm.id
	s.mu.Unlock()
	enabled := smElement("enabled")
	if id != "" {
		r.mu.Lock()
		r.resumable[id] = s
		r.mu.Unlock()
		enabled.Set("id", id).Set("resume", "true").
			Set("max", strconv.Itoa(int(r.SM.ResumeTimeout/time.Second)))
	}
	return enabled
}

// Hibernating implements module.Hibernating.
func (s *Session) Hibernating() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn == nil && !s.ended
}

// hibernate keeps the session, whose connection c dropped, for the resume
// timeout; it reports false when the session cannot be resumed.
// Caller holds s.mu.
func (s *Session) hibernate(c *stream.Conn, err error) bool {
	var se *stanza.StreamError
	if s.sm == nil || s.sm.id == "" || s.ended || s.conn != c || err == nil || errors.As(err, &se) {
		return false
	}
	s.conn = nil
	s.sm.sleptAt = s.sm.sent
	s.sm.timer = time.AfterFunc(s.r.SM.ResumeTimeout, func() {
		s.mu.Lock()
		expired := !s.ended && s.conn == nil
		s.mu.Unlock()
		if expired {
			s.end(context.Background(), nil)
		}
	})
	return true
}

// Resume implements stream.VHost: the session previd of bare takes over
// connection c (XEP-0198 §5). The stanzas the client did not acknowledge
// (h) are queued again on c, to be written after <resumed/>.
func (vh *VHost) Resume(ctx context.Context, c *stream.Conn, bare jid.JID, previd string, h uint32) (stream.SessionHandler, jid.JID, uint32, error) {
	r := vh.r
	r.mu.RLock()
	s := r.resumable[previd]
	r.mu.RUnlock()
	if s == nil || s.jid.Bare() != bare {
		return nil, jid.JID{}, 0, stanza.NewError("item-not-found")
	}
	// <resumed h/> acknowledges the stanzas received before the
	// connection dropped: the archive writes they started commit first.
	s.waitWrites()
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil, jid.JID{}, 0, stanza.NewError("item-not-found")
	}
	done, ok := s.sm.ack(h)
	if !ok {
		s.mu.Unlock()
		return nil, jid.JID{}, 0, &stanza.Error{Type: stanza.Cancel, Condition: "unexpected-request", Text: "h acknowledges stanzas never sent"}
	}
	old := s.conn
	s.conn = c
	if s.sm.timer != nil {
		s.sm.timer.Stop()
		s.sm.timer = nil
	}
	for _, st := range s.sm.unacked {
		c.Send(st)
	}
	if len(s.sm.unacked) > 0 {
		c.SendBytes(ackRequest)
	}
	s.sm.requested = s.sm.sent
	inbound := s.sm.inbound
	s.mu.Unlock()
	callDone(done, true)
	if old != nil {
		old.Close(&stanza.StreamError{Condition: "conflict", Text: "the session was resumed on another connection"})
	}
	return &connHandler{s: s, c: c}, s.jid, inbound, nil
}

// sessionCopy reports whether msg is a copy made for one session: a
// carbon (XEP-0280; the original went to another session or was sent by
// one) or a result of the session's archive query (XEP-0313; the archive
// still has it). Neither is given to another session or stored.
func sessionCopy(msg *stanza.Element) bool {
	for _, c := range msg.Elements() {
		switch {
		case c.Name.Space == "urn:xmpp:carbons:2" && (c.Name.Local == "received" || c.Name.Local == "sent"),
			c.Name.Space == "urn:xmpp:mam:2" && c.Name.Local == "result":
			return true
		}
	}
	return false
}

// redeliver gives the messages a session ended without acknowledging
// (or could not be given at all) another chance: a message to this
// session's full JID goes to the account's other available sessions, and
// when there are none, any message takes the undelivered path (offline
// storage) with a delay stamp, marked requeued for the hooks
// (module.WithRequeued; ctx may carry the mark already). Other stanzas,
// and messages that were copies for this session (sessionCopy), are
// dropped.
func (s *Session) redeliver(ctx context.Context, sts []*stanza.Element) {
	if len(sts) == 0 {
		return
	}
	if ok, _ := module.Requeued(ctx); !ok {
		ctx = module.WithRequeued(ctx, false)
	}
	r, bare := s.r, s.jid.Bare()
	var others []*Session
	for _, o := range r.sessions(bare) {
		if avail, prio := o.available(); o != s && avail && prio >= 0 {
			others = append(others, o)
		}
	}
	for _, st := range sts {
		if st.Name.Local != "message" {
			continue
		}
		switch st.Get("type") {
		case stanza.ErrorType, "groupchat", "headline":
			continue
		}
		if sessionCopy(st) {
			continue
		}
		if len(others) > 0 {
			if st.Get("to") == s.jid.String() {
				for _, o := range others {
					o.Send(st)
				}
			}
			continue // a message to the bare JID reached the others already
		}
		delayed := st.Copy().Append(stanza.New("urn:xmpp:delay", "delay",
			"from", s.vh.domain, "stamp", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")))
		if !s.vh.reg.RunUndelivered(ctx, delayed, bare) {
			r.log.Info("unacknowledged message dropped: no offline storage", "to", bare.String())
		}
	}
}

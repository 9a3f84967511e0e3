package router

import (
	"context"

	"hearth/stanza"
)

// NSCSI is the XEP-0352 Client State Indication namespace.
const NSCSI = "urn:xmpp:csi:0"

// maxHeld bounds what an inactive session holds back; past it everything
// held is sent, as if something urgent had arrived.
const maxHeld = 500

// Client State Indication policy (XEP-0352). While a client says it is
// inactive (a phone with its screen off), stanzas that only update state
// are held back and collapsed, so that the radio is not woken for them:
//
//   - presence broadcasts (available/unavailable): only the latest from
//     each full JID is kept;
//   - messages that carry nothing but chat states (composing, paused...):
//     only the latest from each sender is kept.
//
// Everything else is urgent and is sent at once, after what was held, in
// order: messages with a body or any other payload (encrypted OMEMO
// messages, receipts, markers, invitations), IQs, subscription requests
// and errors. <active/> sends everything held.

// handleCSI processes <active/> and <inactive/>.
func (s *Session) handleCSI(el *stanza.Element) error {
	switch el.Name.Local {
	case "inactive":
		s.mu.Lock()
		s.inactive = true
		s.mu.Unlock()
	case "active":
		s.mu.Lock()
		s.inactive = false
		failed, overflow := s.flushHeldLocked(nil, false)
		s.mu.Unlock()
		if overflow {
			s.end(context.Background(), &stanza.StreamError{Condition: "policy-violation", Text: "too many unacknowledged stanzas"})
		}
		s.redeliver(context.Background(), failed)
	default:
		return &stanza.StreamError{Condition: "unsupported-stanza-type"}
	}
	return nil
}

// urgent reports whether st must reach an inactive client at once.
func urgent(st *stanza.Element) bool {
	switch st.Name.Local {
	case "presence":
		t := st.Get("type")
		return t != "" && t != "unavailable"
	case "message":
		if st.Get("type") == stanza.ErrorType {
			return true
		}
		for _, c := range st.Elements() {
			switch c.Name.Space {
			case "http://jabber.org/protocol/chatstates", "urn:xmpp:hints", "urn:xmpp:sid:0", "urn:xmpp:delay":
				continue
			}
			if c.Name.Local == "thread" && c.Name.Space == stanza.NSClient {
				continue
			}
			return true
		}
		return false
	}
	return true
}

// holdLocked keeps st back for an inactive session, replacing an older
// held stanza of the same kind from the same sender. Caller holds s.mu.
func (s *Session) holdLocked(st *stanza.Element) {
	from := st.Get("from")
	for i, h := range s.held {
		if h.Name.Local == st.Name.Local && h.Get("from") == from {
			s.held = append(s.held[:i], s.held[i+1:]...)
			break
		}
	}
	s.held = append(s.held, st)
	if len(s.held) > maxHeld {
		// Held stanzas are presence and chat states: nothing to redeliver,
		// and an overflow ends the session at its next Send.
		s.flushHeldLocked(nil, false)
	}
}

// flushHeldLocked sends what an inactive session held back, in order,
// with sendLocked's accounting. Caller holds s.mu.
func (s *Session) flushHeldLocked(failed []*stanza.Element, overflow bool) ([]*stanza.Element, bool) {
	held := s.held
	s.held = nil
	for _, h := range held {
		failed, overflow = s.sendLocked(h, failed, overflow)
	}
	return failed, overflow
}

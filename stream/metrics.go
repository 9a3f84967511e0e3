package stream

import (
	"log/slog"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
)

// Metrics receives what client streams count (C2SConfig.Metrics). It is
// called for every stanza, from many goroutines: implementations must be
// safe for concurrent use and must not block.
type Metrics interface {
	// StanzaIn counts a stanza read from a bound stream; kind is
	// "message", "presence" or "iq".
	StanzaIn(kind string)
	// StanzaOut counts a stanza queued for a bound stream.
	StanzaOut(kind string)
	// Auth counts a finished SASL exchange of mechanism, successful or not.
	Auth(mechanism string, ok bool)
	// QueueBytes reports how many bytes were waiting in a stream's output
	// queue when the write loop took them.
	QueueBytes(n int)
}

// TraceFunc returns the logger that receives every stanza of the account
// bare in full, or nil when the account is not traced (C2SConfig.Trace).
type TraceFunc func(bare jid.JID) *slog.Logger

// stanzaKinds are the kinds of stanza counted and traced.
var stanzaKinds = [...]string{"message", "presence", "iq"}

// stanzaKind returns the kind of the encoded stanza b, or "" for anything
// else (a stream error, the closing tag). Encoded stanzas start with their
// unprefixed name, since their namespace is the stream's default one.
func stanzaKind(b []byte) string {
	for _, k := range stanzaKinds {
		if len(b) > len(k)+1 && b[0] == '<' && string(b[1:1+len(k)]) == k {
			switch b[1+len(k)] {
			case ' ', '>', '/':
				return k
			}
		}
	}
	return ""
}

// received counts and traces a stanza read from the bound stream.
func (c *Conn) received(el *stanza.Element) {
	if c.metrics == nil && c.trace == nil {
		return
	}
	switch el.Name.Local {
	case "message", "presence", "iq":
	default:
		return
	}
	if c.metrics != nil {
		c.metrics.StanzaIn(el.Name.Local)
	}
	if c.trace != nil {
		c.trace.Debug("stanza in", "xml", string(stanza.Append(nil, el, c.ns)))
	}
}

// countOut counts the encoded stanza b, just queued, and returns its kind
// ("" for what is not a stanza). Caller holds c.mu, so that b is counted
// before the write loop can deliver it.
func (c *Conn) countOut(b []byte) string {
	if c.metrics == nil && c.trace == nil {
		return ""
	}
	kind := stanzaKind(b)
	if kind != "" && c.metrics != nil {
		c.metrics.StanzaOut(kind)
	}
	return kind
}

// traceOut logs b, a stanza of kind just queued, when the stream is traced.
func (c *Conn) traceOut(kind string, b []byte) {
	if c.trace != nil && kind != "" {
		c.trace.Debug("stanza out", "xml", string(b))
	}
}

// authFinished counts and logs a finished exchange of mechanism for
// user; failure is nil on success.
func (n *negotiation) authFinished(mechanism, user string, failure *sasl.Failure) {
	if n.cfg.Metrics != nil {
		n.cfg.Metrics.Auth(mechanism, failure == nil)
	}
	if failure == nil {
		n.log.Debug("authenticated", "mechanism", mechanism, "user", user)
	} else {
		n.log.Debug("authentication failed", "mechanism", mechanism, "user", user, "condition", failure.Condition)
	}
}

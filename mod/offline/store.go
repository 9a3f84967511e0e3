package offline

import (
	"context"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// verdict is what the module does with an undelivered message.
type verdict int

const (
	// keep stores the message.
	keep verdict = iota
	// drop takes the message without storing it: it has nothing a user
	// would miss, and an error would only confuse the sender.
	drop
	// refuse leaves the message to the router, which bounces it with
	// <service-unavailable/> (RFC 6121 §8.5.2.2.1, XEP-0160 §2).
	refuse
)

// classify decides the fate of msg by XEP-0160 §3 and the XEP-0334 hints:
//
//   - <no-store/> (XEP-0334 §4.3): refused, whatever else the message
//     says — the sender asked for no storage, "temporarily" included, so
//     it must learn the message was not delivered. It wins over <store/>.
//   - type error: dropped (XEP-0160 §3: MUST NOT be stored; errors are
//     never answered with errors).
//   - type groupchat: refused (XEP-0160 §3; the router bounces these before
//     offering them, this is a safety net).
//   - type headline: dropped unless <store/> (XEP-0160 §3 and RFC 6121
//     §8.5.2.2.1: not stored, silently ignored). The router currently
//     drops headlines before the undelivered hooks run, so <store/> on a
//     headline has no effect yet.
//   - chat state notifications only (XEP-0160 §3, chat): dropped unless
//     <store/> (XEP-0334 §4.4). Applied to every type, since a lone
//     <composing/> is stale by the time anyone reads it.
//   - anything else, including unknown types (RFC 6121 §5.2.2: handled as
//     normal) and <no-permanent-store/> messages: kept.
func classify(msg *stanza.Element) verdict {
	if msg.Child(NSHints, "no-store") != nil {
		return refuse
	}
	storeHint := msg.Child(NSHints, "store") != nil
	switch msg.Get("type") {
	case stanza.ErrorType:
		return drop
	case "groupchat":
		return refuse
	case "headline":
		if !storeHint {
			return drop
		}
	}
	if !storeHint && chatStatesOnly(msg) {
		return drop
	}
	return keep
}

// chatStatesOnly reports whether msg carries a XEP-0085 chat state and
// nothing else a user could read: its other children are only processing
// hints, XEP-0359 ids, delay stamps and a <thread/>.
func chatStatesOnly(msg *stanza.Element) bool {
	state := false
	for _, el := range msg.Elements() {
		switch el.Name.Space {
		case NSChatStates:
			state = true
		case NSHints, NSStanzaID, NSDelay:
		case stanza.NSClient, stanza.NSServer:
			if el.Name.Local != "thread" {
				return false
			}
		default:
			return false
		}
	}
	return state
}

// undelivered is the router's offer of msg, addressed to the account to,
// which has no available session of non-negative priority. It returns
// true when msg was stored, or dropped on purpose (see classify); false
// makes the router bounce it with <service-unavailable/>, which is also
// the answer when the account's storage is full (XEP-0160 §2, step 3) or
// fails.
func (o *offline) undelivered(ctx context.Context, msg *stanza.Element, to jid.JID) bool {
	owner := to.Bare()
	switch classify(msg) {
	case drop:
		return true
	case refuse:
		return false
	}
	stored, err := o.store(ctx, owner, msg)
	if err != nil {
		o.h.Logger().Error("storing offline message failed", "user", owner.String(), "err", err)
		return false
	}
	if !stored {
		o.h.Logger().Info("offline storage full", "user", owner.String(), "max", o.max.Load())
		return false
	}
	// A session may have become available after the router looked and
	// before the message was stored, and already have been given the
	// stored messages: hand it this one now rather than at the next login.
	// (A session becoming available later finds it in storage.)
	o.kickAvailable(ctx, owner, nil, false)
	return true
}

// store appends a copy of msg, stamped with a <delay/>, to owner's
// messages. It reports false, storing nothing, when owner already has
// o.max messages.
func (o *offline) store(ctx context.Context, owner jid.JID, msg *stanza.Element) (bool, error) {
	received := now()
	data := []byte(stamped(msg, owner, o.h.Domain(), received).String())
	unlock := o.lock(owner)
	defer unlock()
	n, err := o.archive.Count(ctx, owner.String())
	if err != nil {
		return false, err
	}
	if int64(n) >= o.max.Load() {
		return false, nil
	}
	_, err = o.archive.Append(ctx, owner.String(), storage.Item{Time: received, With: msg.Get("from"), Data: data})
	// Even a failed append may have stored the message.
	o.stored(owner)
	return err == nil, err
}

// delayStamp is the XEP-0082 DateTime profile, in UTC, as XEP-0203 requires.
const delayStamp = "2006-01-02T15:04:05Z"

// stamped returns a copy of msg (msg itself is shared and never changed)
// ready to be stored: in jabber:client, addressed to owner when it had no
// 'to', and with a XEP-0203 <delay from='domain'/> stamped at received,
// unless the domain already stamped it (a message stored twice keeps its
// first stamp).
func stamped(msg *stanza.Element, owner jid.JID, domain string, received time.Time) *stanza.Element {
	c := msg.Copy()
	c.Name.Space = stanza.NSClient
	if c.Get("to") == "" {
		c.Set("to", owner.String())
	}
	for _, d := range c.Elements() {
		if d.Name.Space == NSDelay && d.Name.Local == "delay" && d.Get("from") == domain {
			return c
		}
	}
	return c.Append(stanza.New(NSDelay, "delay", "from", domain, "stamp", received.UTC().Format(delayStamp)))
}

// available returns the sessions that get messages sent to the account's
// bare JID: available, with a non-negative priority (RFC 6121 §8.5.2.1.1).
func available(sessions []module.Session) []module.Session {
	var out []module.Session
	for _, s := range sessions {
		if s.Presence() != nil && s.Priority() >= 0 {
			out = append(out, s)
		}
	}
	return out
}

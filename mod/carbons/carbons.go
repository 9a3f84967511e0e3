// Package carbons implements XEP-0280: Message Carbons (urn:xmpp:carbons:2).
// A session that enables carbons receives a copy of every instant messaging
// message its account sends from another resource (<sent/>) or receives on
// another resource (<received/>), so that all of the user's clients see
// both sides of every conversation. Which messages are copied follows the
// rules of XEP-0280 §6.1, with the <private/> element of §8 and the
// XEP-0334 <no-copy/> hint as exclusions (see Eligible).
//
// The enabled flag belongs to the session and ends with it; nothing is
// stored.
package carbons

import (
	"context"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// Namespaces of XEP-0280 and of what it carries.
const (
	// NS is the carbons namespace and disco feature.
	NS = "urn:xmpp:carbons:2"
	// NSForward is the XEP-0297 Stanza Forwarding namespace of the
	// <forwarded/> element that wraps a copied message.
	NSForward = "urn:xmpp:forward:0"
	// NSHints is the XEP-0334 Message Processing Hints namespace.
	NSHints = "urn:xmpp:hints"
)

// Module handles carbons enable and disable requests on every account,
// advertises urn:xmpp:carbons:2 on the server (XEP-0280 §3: clients ask
// their own server) and copies messages on the inbound hook (sent copies)
// and the delivered hook (received copies). It has no settings.
var Module = module.New("carbons", struct{}{}, start)

func start(h *module.Host, _ struct{}) error {
	c := &carbons{h: h}
	h.AddFeature(module.ServerTarget, NS)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "enable"), c.toggle(true))
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "disable"), c.toggle(false))
	h.OnInbound(c.sent)
	h.OnDelivered(c.received)
	return nil
}

// carbons is the module on one virtual host.
type carbons struct {
	h *module.Host
}

// enabledKey holds whether a session enabled carbons.
var enabledKey = module.NewKey[bool]("carbons.enabled")

// Enabled reports whether s enabled carbons.
func Enabled(s module.Session) bool {
	v, _ := enabledKey.Get(s)
	return v
}

// toggle returns the handler of <enable/> (on) or <disable/> (off)
// (XEP-0280 §4, §5). Only the requesting session is concerned, so the
// request must come from a local session of the account it is addressed
// to (or have no 'to'); otherwise it is not-allowed (§4.1, §5.1).
// Repeated requests succeed (§9.1).
func (c *carbons) toggle(on bool) module.IQHandler {
	return func(_ context.Context, req module.IQRequest) (*stanza.Element, error) {
		if req.Session == nil || req.From.Bare() != req.To.Bare() {
			return nil, stanza.NewError("not-allowed")
		}
		enabledKey.Set(req.Session, on)
		return nil, nil
	}
}

// sent runs on every stanza a local session sends: an eligible message
// (Eligible, direction Sent) is copied in a <sent/> wrapper to every other
// carbons-enabled session of the sender, whether or not the sending
// session enabled carbons (XEP-0280 §7). The message itself goes on
// unchanged.
//
// A message to another resource of the sender's own account is copied
// when it is delivered instead (see received), where the resources that
// got the original are known.
func (c *carbons) sent(_ context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	if st.Name.Local != "message" || to.Bare() == from.Bare() || !Eligible(st, Sent) {
		return st, nil
	}
	user := from.Bare()
	for _, s := range c.h.Sessions(user) {
		if s.JID() != from && Enabled(s) {
			s.Send(wrap(sentCopy, st, user, s.JID()))
		}
	}
	return st, nil
}

// received runs after a message was delivered to the sessions delivered
// of the local account to: an eligible message (Eligible, direction
// Received) is copied in a <received/> wrapper to every carbons-enabled
// session of the account that did not get the original (XEP-0280 §6). It
// does not matter whether that session is available: enabling carbons
// asks for every message.
//
// A message from one resource of the account to another has both sides
// on the same account: each carbons-enabled session other than the sender
// and the recipients gets one copy, a <sent/> one, as the user sent it.
func (c *carbons) received(_ context.Context, msg *stanza.Element, to jid.JID, delivered []module.Session) {
	from, _ := jid.Parse(msg.Get("from"))
	self := from.Bare() == to
	dir, kind := Received, receivedCopy
	if self {
		dir, kind = Sent, sentCopy
	}
	if !Eligible(msg, dir) {
		return
	}
	for _, s := range c.h.Sessions(to) {
		if !Enabled(s) || (self && s.JID() == from) || contains(delivered, s) {
			continue
		}
		s.Send(wrap(kind, msg, to, s.JID()))
	}
}

func contains(sessions []module.Session, s module.Session) bool {
	for _, x := range sessions {
		if x == s || x.JID() == s.JID() {
			return true
		}
	}
	return false
}

// Names of the two wrappers.
const (
	sentCopy     = "sent"
	receivedCopy = "received"
)

// wrap returns the carbon copy of msg for the session to: a message from
// the user's bare JID with the same type as msg (XEP-0280 §6, §7), holding
// <kind xmlns=NS><forwarded xmlns=NSForward>msg</forwarded></kind>. msg is
// shared, not copied: stanzas are immutable once routed.
func wrap(kind string, msg *stanza.Element, user, to jid.JID) *stanza.Element {
	w := stanza.New(stanza.NSClient, "message", "from", user.String(), "to", to.String())
	w.Set("type", msg.Get("type"))
	return w.Append(stanza.New(NS, kind).Append(stanza.New(NSForward, "forwarded").Append(msg)))
}

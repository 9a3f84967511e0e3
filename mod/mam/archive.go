package mam

import (
	"context"
	"errors"
	"time"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// now is the clock; tests replace it.
var now = time.Now

// incoming is the deliver hook: it archives a message addressed to a
// local account in that account's archive and adds the <stanza-id/> the
// account's clients see (XEP-0313 §3.5). A failure to archive is logged
// and the message delivered without a stanza ID: losing an archive entry
// is better than losing the message.
func (m *mam) incoming(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	if st.Name.Local != "message" {
		return st, nil
	}
	owner := to.Bare()
	// XEP-0359 §3 rule 2: a stanza ID claiming to come from this archive
	// is removed, whoever put it there. One claiming to come from a local
	// sender's archive was added by outgoing for that sender's carbons,
	// and XEP-0313 §3.5 forbids showing it to the contact.
	msg := withoutStanzaIDs(st, owner)
	senderID := ""
	if from.Local() != "" && from.Bare() != owner && m.h.IsLocal(from.Domain()) {
		senderID = stanzaIDBy(msg, from.Bare())
		msg = withoutStanzaIDs(msg, from.Bare())
	}
	if !shouldArchive(msg) || !m.allowed(ctx, owner, from) {
		return msg, nil
	}
	id, ok := m.append(ctx, owner, from, msg)
	if !ok {
		return msg, nil
	}
	if senderID != "" && m.noLiveSession(owner) {
		// The router may bounce it (bounce.go).
		m.senders.put(id, senderItem{owner: from.Bare().String(), id: senderID})
	}
	return withStanzaID(msg, owner, id), nil
}

// outgoing is the inbound hook: it archives a message a local session
// sends in the sender's archive. The copy it passes on carries the
// sender's <stanza-id/> so that the carbons of the sent message (which
// mod/carbons makes after this hook) tell the sender's other clients the
// archive ID, as XEP-0313 §3.5 asks; incoming removes it again before the
// contact, if local, sees the message. A message to the sender's own
// account is archived once, by incoming.
func (m *mam) outgoing(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	if st.Name.Local != "message" {
		return st, nil
	}
	owner := from.Bare()
	msg := withoutStanzaIDs(st, owner) // XEP-0359 §3 rule 2, against a client spoofing its own archive
	if to.Bare() == owner || to.Local() == "" && m.h.IsLocal(to.Domain()) {
		// To oneself: archived on delivery. To the server: refused by the router.
		return msg, nil
	}
	if !shouldArchive(msg) || !m.exists(ctx, to) || !m.allowed(ctx, owner, to) {
		return msg, nil
	}
	id, ok := m.append(ctx, owner, to, msg)
	if !ok {
		return msg, nil
	}
	return withStanzaID(msg, owner, id), nil
}

// exists reports whether peer may receive a message: false only for a
// local account that does not exist, to which the router answers
// service-unavailable, so that such a message is not archived.
func (m *mam) exists(ctx context.Context, peer jid.JID) bool {
	if peer.Local() == "" || !m.h.IsLocal(peer.Domain()) || len(m.h.Sessions(peer.Bare())) > 0 {
		return true // remote, or online: no storage read on the hot path
	}
	_, err := m.h.Store().Accounts().Get(ctx, peer.Domain(), peer.Local())
	return !errors.Is(err, storage.ErrNotFound)
}

// append stores msg in owner's archive as exchanged with peer and returns
// its archive ID; a storage failure is logged and reported as !ok.
func (m *mam) append(ctx context.Context, owner, peer jid.JID, msg *stanza.Element) (string, bool) {
	id := storage.NewItemID()
	m.w.append(ctx, owner.String(), storage.Item{
		ID:   id,
		Time: now(),
		With: peer.String(),
		Data: []byte(clientNS(msg).String()),
	})
	return id, true
}

// Namespaces of payloads that make a message worth archiving without a body.
const (
	nsCarbons     = "urn:xmpp:carbons:2"
	nsEME         = "urn:xmpp:eme:0"
	nsOMEMOLegacy = "eu.siacs.conversations.axolotl"
	nsOMEMO       = "urn:xmpp:omemo:2"
	nsOpenPGP     = "urn:xmpp:openpgp:0"
	nsLegacyPGP   = "jabber:x:encrypted"
	nsMarkers     = "urn:xmpp:chat-markers:0"
	nsConference  = "jabber:x:conference"
	nsMUCUser     = "http://jabber.org/protocol/muc#user"
	nsJingleMsg0  = "urn:xmpp:jingle-message:0"
	nsJingleMsg1  = "urn:xmpp:jingle-message:1"
	nsReactions   = "urn:xmpp:reactions:0"
	nsRetract     = "urn:xmpp:message-retract:1"
	nsRetractOld  = "urn:xmpp:message-retract:0"
	nsFasten      = "urn:xmpp:fasten:0"
)

// shouldArchive applies the storage rules of XEP-0313 §6.1.1 and the
// hints of XEP-0334 to a message (docs/design/003-mam.md):
//
//   - only types normal and chat: groupchat belongs to the room's archive,
//     headline is ephemeral, errors are not conversation;
//   - <no-store/> or <no-permanent-store/> prevent archiving, even with
//     <store/> (the sender asked for privacy);
//   - carbon copies are never archived: the original was;
//   - <store/> forces archiving of a message without a body;
//   - otherwise a message is archived when it carries conversation
//     content: a body or subject, an encrypted payload (OMEMO with a
//     payload, OpenPGP, EME), a chat marker (XEP-0333, so that other
//     devices learn what was read), an invitation, a Jingle message
//     (XEP-0353: call history), a reaction (XEP-0444) or a retraction
//     (XEP-0424). Chat states and delivery receipts (XEP-0085, XEP-0184)
//     alone are state changes, not content, and are not archived.
func shouldArchive(msg *stanza.Element) bool {
	switch msg.Get("type") {
	case "", "normal", "chat":
	default:
		return false
	}
	store, content := false, false
	for _, c := range msg.Elements() {
		switch c.Name.Space {
		case NSHints:
			switch c.Name.Local {
			case "no-store", "no-permanent-store":
				return false
			case "store":
				store = true
			}
		case nsCarbons:
			if c.Name.Local == "sent" || c.Name.Local == "received" {
				return false
			}
		default:
			if isContent(msg, c) {
				content = true
			}
		}
	}
	return store || content
}

// isContent reports whether c, a child of msg, is conversation content.
func isContent(msg, c *stanza.Element) bool {
	switch c.Name.Space {
	case msg.Name.Space:
		return c.Name.Local == "body" || c.Name.Local == "subject"
	case nsEME:
		return c.Name.Local == "encryption"
	case nsOMEMOLegacy, nsOMEMO:
		// An <encrypted/> without <payload/> only transports keys.
		return c.Name.Local == "encrypted" && c.Child(c.Name.Space, "payload") != nil
	case nsOpenPGP:
		return c.Name.Local == "openpgp"
	case nsLegacyPGP, nsConference:
		return c.Name.Local == "x"
	case nsMarkers:
		return c.Name.Local != "markable" // received, displayed, acknowledged
	case nsMUCUser:
		return c.Name.Local == "x" && c.Child(nsMUCUser, "invite") != nil
	case nsJingleMsg0, nsJingleMsg1:
		return true
	case nsReactions:
		return c.Name.Local == "reactions"
	case nsRetract, nsRetractOld:
		return c.Name.Local == "retract"
	case nsFasten:
		// XEP-0424 v0 wraps <retract/> in <apply-to/>.
		return c.Name.Local == "apply-to" && c.Child(nsRetractOld, "retract") != nil
	}
	return false
}

// withoutStanzaIDs returns st without the <stanza-id/> children whose
// 'by' is one of by (compared as JIDs, so that a differently spelled
// spoof is caught too); st itself when it has none.
func withoutStanzaIDs(st *stanza.Element, by ...jid.JID) *stanza.Element {
	drop := func(c *stanza.Element) bool {
		if c.Name.Space != NSStanzaID || c.Name.Local != "stanza-id" {
			return false
		}
		b := c.Get("by")
		for _, j := range by {
			if b == j.String() {
				return true
			}
		}
		p, err := jid.Parse(b)
		if err != nil {
			return false
		}
		for _, j := range by {
			if p == j {
				return true
			}
		}
		return false
	}
	var out *stanza.Element
	for i, n := range st.Children {
		c, ok := n.(*stanza.Element)
		if !ok || !drop(c) {
			if out != nil {
				out.Children = append(out.Children, n)
			}
			continue
		}
		if out == nil {
			out = st.Copy()
			out.Children = append(out.Children[:0:0], st.Children[:i]...)
		}
	}
	if out == nil {
		return st
	}
	return out
}

// withStanzaID returns a copy of msg with the XEP-0359 stanza ID id
// assigned by the archive of owner.
func withStanzaID(msg *stanza.Element, owner jid.JID, id string) *stanza.Element {
	return msg.Copy().Append(stanza.New(NSStanzaID, "stanza-id", "by", owner.String(), "id", id))
}

// clientNS returns st in jabber:client: a stanza that came over a server
// stream (jabber:server) is archived, and later forwarded, as a client
// stanza, since XEP-0297 §3.2 wants the forwarded stanza's namespace to be
// the one clients know.
func clientNS(st *stanza.Element) *stanza.Element {
	if st.Name.Space != stanza.NSServer {
		return st
	}
	c := &stanza.Element{Name: st.Name, Attr: st.Attr}
	c.Name.Space = stanza.NSClient
	for _, n := range st.Children {
		if el, ok := n.(*stanza.Element); ok {
			n = clientNS(el)
		}
		c.Children = append(c.Children, n)
	}
	return c
}

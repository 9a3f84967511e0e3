package carbons

import "hearth/stanza"

// Namespaces of the payloads the eligibility rules look at.
const (
	nsReceipts   = "urn:xmpp:receipts"                     // XEP-0184
	nsChatStates = "http://jabber.org/protocol/chatstates" // XEP-0085
	nsMarkers    = "urn:xmpp:chat-markers:0"               // XEP-0333
	nsConference = "jabber:x:conference"                   // XEP-0249
	nsMUCUser    = "http://jabber.org/protocol/muc#user"   // XEP-0045
)

// Direction says whether a message is seen at its sender's server (Sent)
// or at its recipient's (Received); the MUC rules of XEP-0280 §6.1 differ.
type Direction int

// Directions of a message.
const (
	Sent Direction = iota
	Received
)

// Eligible reports whether msg is copied to carbons-enabled sessions, by
// the rules XEP-0280 §6.1 recommends and §8 and XEP-0334 add:
//
//   - never a message with <private xmlns='urn:xmpp:carbons:2'/> (§8) or a
//     <no-copy/> hint (XEP-0334 §4.3), nor one that is itself a carbon
//     copy (<sent/> or <received/>): copies are never copied;
//   - never type "groupchat" (MUC traffic, replicated by the room);
//   - never type "error": §6.1 copies errors to eligible messages only,
//     which would need tracking what was sent (TODO(carbons));
//   - always a XEP-0249 direct or XEP-0045 mediated MUC invitation;
//   - never a received message carrying MUC <x xmlns='…muc#user'/> that is
//     not an invitation: private messages from MUC participants are
//     already replicated by the MUC service to every joined client
//     (private messages a user sends to a participant are copied as any
//     other chat message);
//   - otherwise, a message of type "chat", of type "normal" (or none) with
//     a <body/>, or carrying a XEP-0184 receipt, XEP-0085 chat state or
//     XEP-0333 marker.
//
// hearth does not advertise urn:xmpp:carbons:rules:0 (§6.2), which would
// promise the error rule too.
func Eligible(msg *stanza.Element, dir Direction) bool {
	typ := msg.Get("type")
	switch typ {
	case "groupchat", stanza.ErrorType:
		return false
	case "":
		typ = "normal"
	}
	var body, imPayload, invitation, mucUser bool
	for _, c := range msg.Elements() {
		switch c.Name.Space {
		case NS:
			switch c.Name.Local {
			case "private", sentCopy, receivedCopy:
				return false
			}
		case NSHints:
			if c.Name.Local == "no-copy" {
				return false
			}
		case msg.Name.Space:
			body = body || c.Name.Local == "body"
		case nsReceipts, nsChatStates, nsMarkers:
			imPayload = true
		case nsConference:
			invitation = invitation || c.Name.Local == "x"
		case nsMUCUser:
			if c.Name.Local == "x" {
				mucUser = true
				invitation = invitation || c.Child(nsMUCUser, "invite") != nil
			}
		}
	}
	switch {
	case invitation:
		return true
	case mucUser && dir == Received:
		return false
	}
	return typ == "chat" || (typ == "normal" && body) || imPayload
}

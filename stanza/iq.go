package stanza

// Stanza type attribute values for IQs (RFC 6120 §8.2.3) and error stanzas.
const (
	Get       = "get"
	Set       = "set"
	Result    = "result"
	ErrorType = "error"
)

// ResultReply returns the type="result" response to iq: same namespace and
// id, to and from swapped, with payload as its only child when non-nil.
// xml:lang is kept.
func ResultReply(iq *Element, payload *Element) *Element {
	r := reply(iq, Result)
	r.Name.Local = "iq"
	return r.Append(payload)
}

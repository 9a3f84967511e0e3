package stanza

// Error types of RFC 6120 §8.3.2.
const (
	Auth     = "auth"
	Cancel   = "cancel"
	Continue = "continue"
	Modify   = "modify"
	Wait     = "wait"
)

// Error is a stanza error (RFC 6120 §8.3). It implements error, so handlers
// return it and the router turns it into the error reply.
type Error struct {
	Type      string   // Auth, Cancel, Continue, Modify or Wait
	Condition string   // defined condition, e.g. "service-unavailable"
	Text      string   // optional human-readable text
	By        string   // optional 'by' attribute
	App       *Element // optional application-specific condition
}

// NewError returns an *Error of the type RFC 6120 §8.3.3 gives as usual for
// condition (e.g. cancel for service-unavailable, modify for bad-request).
func NewError(condition string) *Error { panic("unimplemented") }

// Error returns "stanza error: <condition>" (plus ": text").
func (e *Error) Error() string { panic("unimplemented") }

// Element returns <error type=... [by=...]><condition xmlns=NSStanzas/>[<text>][app]</error>.
func (e *Error) Element() *Element { panic("unimplemented") }

// ParseError reads the <error/> child of an error stanza, or returns nil.
func ParseError(st *Element) *Error { panic("unimplemented") }

// ErrorReply returns the error response to st: same name, namespace and id,
// to and from swapped, type="error", the original children kept (RFC 6120
// §8.3.1 allows it; for IQs only the first child is kept) and err's element appended.
func ErrorReply(st *Element, err *Error) *Element { panic("unimplemented") }

// StreamError is a stream-level error (RFC 6120 §4.9): the stream is closed
// after it is sent.
type StreamError struct {
	Condition string // e.g. "not-well-formed", "policy-violation"
	Text      string
	App       *Element
}

func (e *StreamError) Error() string { panic("unimplemented") }

// Element returns <stream:error><condition xmlns=NSStreams/>[<text>]</stream:error>.
func (e *StreamError) Element() *Element { panic("unimplemented") }

// StreamErrorFor maps a Decoder error to the stream error to send: not-well-formed,
// restricted-xml, policy-violation, invalid-namespace; nil for io.EOF/ErrStreamEnd.
func StreamErrorFor(err error) *StreamError { panic("unimplemented") }

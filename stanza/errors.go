package stanza

import (
	"encoding/xml"
	"errors"
	"io"
)

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

// conditionTypes maps the defined conditions of RFC 6120 §8.3.3 to the
// error type that section gives as usual for each.
var conditionTypes = map[string]string{
	"bad-request":             Modify,
	"conflict":                Cancel,
	"feature-not-implemented": Cancel,
	"forbidden":               Auth,
	"gone":                    Cancel,
	"internal-server-error":   Cancel,
	"item-not-found":          Cancel,
	"jid-malformed":           Modify,
	"not-acceptable":          Modify,
	"not-allowed":             Cancel,
	"not-authorized":          Auth,
	"policy-violation":        Modify,
	"recipient-unavailable":   Wait,
	"redirect":                Modify,
	"registration-required":   Auth,
	"remote-server-not-found": Cancel,
	"remote-server-timeout":   Wait,
	"resource-constraint":     Wait,
	"service-unavailable":     Cancel,
	"subscription-required":   Auth,
	"undefined-condition":     Cancel,
	"unexpected-request":      Wait,
}

// NewError returns an *Error of the type RFC 6120 §8.3.3 gives as usual for
// condition (e.g. cancel for service-unavailable, modify for bad-request).
// A condition the RFC does not define gets type cancel.
func NewError(condition string) *Error {
	t, ok := conditionTypes[condition]
	if !ok {
		t = Cancel
	}
	return &Error{Type: t, Condition: condition}
}

// Error returns "stanza error: <condition>" (plus ": text").
func (e *Error) Error() string {
	s := "stanza error: " + e.Condition
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Element returns <error type=... [by=...]><condition xmlns=NSStanzas/>[<text>][app]</error>.
// The error element is in NSClient; ErrorReply puts it in the namespace of
// the stanza it answers, and ElementIn in any.
func (e *Error) Element() *Element { return e.ElementIn(NSClient) }

// ElementIn is Element with the <error/> element in namespace space (the
// content namespace of the stream, NSClient or NSServer).
func (e *Error) ElementIn(space string) *Element {
	el := New(space, "error", "type", e.Type)
	el.Set("by", e.By)
	el.Append(New(NSStanzas, e.Condition))
	if e.Text != "" {
		el.Append(New(NSStanzas, "text").AppendText(e.Text))
	}
	if e.App != nil {
		el.Append(e.App)
	}
	return el
}

// ParseError reads the <error/> child of an error stanza, or returns nil.
// The <error/> element must be in the stanza's namespace. A missing
// condition reads as undefined-condition.
func ParseError(st *Element) *Error {
	var x *Element
	for _, c := range st.Children {
		if el, ok := c.(*Element); ok && el.Name.Local == "error" && el.Name.Space == st.Name.Space {
			x = el
			break
		}
	}
	if x == nil {
		return nil
	}
	e := &Error{Type: x.Get("type"), By: x.Get("by")}
	for _, c := range x.Elements() {
		switch {
		case c.Name.Space != NSStanzas:
			if e.App == nil {
				e.App = c
			}
		case c.Name.Local == "text":
			if e.Text == "" {
				e.Text = c.Text()
			}
		case e.Condition == "":
			e.Condition = c.Name.Local
		}
	}
	if e.Condition == "" {
		e.Condition = "undefined-condition"
	}
	return e
}

// ErrorReply returns the error response to st: same name, namespace and id,
// to and from swapped, type="error", the original children kept (RFC 6120
// §8.3.1 allows it; for IQs only the first child is kept) and err's element
// appended. xml:lang is kept too. The children are shared with st.
func ErrorReply(st *Element, err *Error) *Element {
	r := reply(st, ErrorType)
	if st.Name.Local == "iq" {
		if c := st.FirstElement(); c != nil {
			r.Children = append(r.Children, c)
		}
	} else {
		for _, c := range st.Children {
			if el, ok := c.(*Element); ok && el.Name.Local == "error" && el.Name.Space == st.Name.Space {
				continue // never answer with two <error/> elements
			}
			r.Children = append(r.Children, c)
		}
	}
	return r.Append(err.ElementIn(st.Name.Space))
}

// reply returns the skeleton of a response to st: its name, namespace, id
// and xml:lang, to and from swapped, and the given type.
func reply(st *Element, typ string) *Element {
	r := New(st.Name.Space, st.Name.Local)
	r.Set("from", st.Get("to"))
	r.Set("to", st.Get("from"))
	r.Set("id", st.Get("id"))
	r.Set("type", typ)
	if l := st.Lang(); l != "" {
		r.Attr = append(r.Attr, xmlLang(l))
	}
	return r
}

func xmlLang(l string) (a xml.Attr) {
	a.Name.Space, a.Name.Local, a.Value = NSXML, "lang", l
	return a
}

// StreamError is a stream-level error (RFC 6120 §4.9): the stream is closed
// after it is sent.
type StreamError struct {
	Condition string // e.g. "not-well-formed", "policy-violation"
	Text      string
	App       *Element
}

// Error returns "stream error: <condition>" (plus ": text").
func (e *StreamError) Error() string {
	s := "stream error: " + e.Condition
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Element returns <stream:error><condition xmlns=NSStreams/>[<text>][app]</stream:error>.
func (e *StreamError) Element() *Element {
	el := New(NSStream, "error").Append(New(NSStreams, e.Condition))
	if e.Text != "" {
		el.Append(New(NSStreams, "text").AppendText(e.Text))
	}
	if e.App != nil {
		el.Append(e.App)
	}
	return el
}

// StreamErrorFor maps a Decoder error to the stream error to send: not-well-formed,
// restricted-xml, policy-violation, invalid-namespace, with the error's
// details as text; connection-timeout for a reader error that is a timeout
// (a net.Error such as an expired read deadline). It returns nil when there
// is nothing to send: nil, io.EOF, io.ErrUnexpectedEOF, ErrStreamEnd and
// other reader errors (the connection is gone).
func StreamErrorFor(err error) *StreamError {
	var cond string
	var timeout interface{ Timeout() bool }
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrStreamEnd):
		return nil
	case errors.Is(err, ErrNotWellFormed):
		cond = "not-well-formed"
	case errors.Is(err, ErrRestricted):
		cond = "restricted-xml"
	case errors.Is(err, ErrTooLarge):
		cond = "policy-violation"
	case errors.Is(err, ErrBadNamespace):
		cond = "invalid-namespace"
	case errors.As(err, &timeout) && timeout.Timeout():
		return &StreamError{Condition: "connection-timeout"}
	default:
		return nil
	}
	return &StreamError{Condition: cond, Text: err.Error()}
}

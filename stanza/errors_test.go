package stanza

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestNewError(t *testing.T) {
	tests := []struct{ cond, typ string }{
		{"bad-request", Modify},
		{"conflict", Cancel},
		{"feature-not-implemented", Cancel},
		{"forbidden", Auth},
		{"item-not-found", Cancel},
		{"not-authorized", Auth},
		{"recipient-unavailable", Wait},
		{"resource-constraint", Wait},
		{"service-unavailable", Cancel},
		{"jid-malformed", Modify},
		{"no-such-condition", Cancel},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			e := NewError(tt.cond)
			if e.Type != tt.typ || e.Condition != tt.cond {
				t.Errorf("got %s/%s, want %s/%s", e.Type, e.Condition, tt.typ, tt.cond)
			}
		})
	}
}

func TestErrorStrings(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"stanza", NewError("forbidden"), "stanza error: forbidden"},
		{"stanza with text", &Error{Condition: "forbidden", Text: "no"}, "stanza error: forbidden: no"},
		{"stream", &StreamError{Condition: "host-unknown"}, "stream error: host-unknown"},
		{"stream with text", &StreamError{Condition: "host-unknown", Text: "x"}, "stream error: host-unknown: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorElementRoundTrip(t *testing.T) {
	e := &Error{Type: Modify, Condition: "bad-request", Text: "why", By: "example.org", App: New("urn:app", "oops")}
	el := e.Element()
	want := `<error xmlns="jabber:client" type="modify" by="example.org"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">why</text><oops xmlns="urn:app"/></error>`
	if got := el.String(); got != want {
		t.Errorf("Element:\ngot  %s\nwant %s", got, want)
	}
	st := New(NSClient, "iq", "type", "error").Append(el)
	got := ParseError(st)
	if got == nil || got.Type != e.Type || got.Condition != e.Condition || got.Text != e.Text || got.By != e.By || got.App == nil || got.App.Name.Local != "oops" {
		t.Errorf("ParseError = %+v, want %+v", got, e)
	}
	if got := ParseError(New(NSClient, "iq")); got != nil {
		t.Errorf("ParseError without error = %+v, want nil", got)
	}
	if got := ParseError(New(NSClient, "iq").Append(New(NSClient, "error", "type", "cancel"))); got == nil || got.Condition != "undefined-condition" {
		t.Errorf("ParseError without condition = %+v, want undefined-condition", got)
	}
}

func TestErrorReply(t *testing.T) {
	iq := New(NSServer, "iq", "from", "a@x/r", "to", "y", "id", "7", "type", "set").Append(
		New("urn:q", "query"), New("urn:q", "extra"))
	msg := New(NSClient, "message", "from", "a@x/r", "to", "b@y", "id", "m").Append(
		New(NSClient, "body").AppendText("hi"), CharData(" "))
	tests := []struct {
		name string
		got  *Element
		want string
	}{
		{"iq keeps first child", ErrorReply(iq, NewError("item-not-found")),
			`{jabber:server}iq[from="y" to="a@x/r" id="7" type="error"]({urn:q}query {jabber:server}error[type="cancel"]({urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found))`},
		{"message keeps children", ErrorReply(msg, NewError("service-unavailable")),
			`{jabber:client}message[from="b@y" to="a@x/r" id="m" type="error"]({jabber:client}body("hi") " " {jabber:client}error[type="cancel"]({urn:ietf:params:xml:ns:xmpp-stanzas}service-unavailable))`},
		{"result with payload", ResultReply(iq, New("urn:q", "query")),
			`{jabber:server}iq[from="y" to="a@x/r" id="7" type="result"]({urn:q}query)`},
		{"result without payload", ResultReply(New(NSClient, "iq", "id", "1", "from", "a", "type", "get").Set("x", "y"), nil),
			`{jabber:client}iq[to="a" id="1" type="result"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dump(tt.got); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestStreamErrorFor(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" for nil
	}{
		{"nil", nil, ""},
		{"EOF", io.EOF, ""},
		{"unexpected EOF", io.ErrUnexpectedEOF, ""},
		{"stream end", ErrStreamEnd, ""},
		{"not well-formed", fmt.Errorf("%w: x", ErrNotWellFormed), "not-well-formed"},
		{"restricted", fmt.Errorf("%w: x", ErrRestricted), "restricted-xml"},
		{"too large", fmt.Errorf("%w: x", ErrTooLarge), "policy-violation"},
		{"namespace", fmt.Errorf("%w: x", ErrBadNamespace), "invalid-namespace"},
		{"timeout", timeoutError{}, "connection-timeout"},
		{"other reader error", errors.New("connection reset"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := StreamErrorFor(tt.err)
			got := ""
			if se != nil {
				got = se.Condition
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	el := (&StreamError{Condition: "not-well-formed", Text: "bad"}).Element()
	want := `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">bad</text></stream:error>`
	if got := string(Append(nil, el, NSClient)); got != want {
		t.Errorf("StreamError.Element:\ngot  %s\nwant %s", got, want)
	}
}

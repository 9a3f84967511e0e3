package stanza

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestFormRoundTrip(t *testing.T) {
	f := &Form{
		Type:         FormForm,
		Title:        "Config",
		Instructions: "Fill in\nthe form",
		Fields: []Field{
			{Var: "FORM_TYPE", Type: FieldHidden, Values: []string{"urn:x"}},
			{Var: "name", Type: FieldTextSingle, Label: "Name", Required: true, Values: []string{"alice"}},
			{Var: "jids", Type: FieldJIDMulti, Values: []string{"a@b", "c@d"}},
			{Var: "color", Type: FieldListSingle, Values: []string{"r"}, Options: []Option{{"Red", "r"}, {"Green", "g"}}},
			{Type: FieldFixed, Values: []string{"Section"}},
			{Var: "ok", Type: FieldBoolean, Values: []string{"true"}},
		},
	}
	el := f.Element()
	enc := el.String()
	for _, want := range []string{`<x xmlns="jabber:x:data" type="form">`, `<required/>`, `<value>a@b</value><value>c@d</value>`, `<option label="Red"><value>r</value></option>`, `<instructions>the form</instructions>`} {
		if !strings.Contains(enc, want) {
			t.Errorf("encoding %s lacks %s", enc, want)
		}
	}
	// Through the wire and back.
	els, err := decodeAll(t, strings.NewReader(enc), Limits{}, false)
	if len(els) != 1 {
		t.Fatalf("decode: %v", err)
	}
	got, err := ParseForm(els[0])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", got, f)
	}
	if got, want := got.FormType(), "urn:x"; got != want {
		t.Errorf("FormType = %q, want %q", got, want)
	}
	if got, want := got.Value("name"), "alice"; got != want {
		t.Errorf("Value(name) = %q, want %q", got, want)
	}
	if got, want := got.Value("missing"), ""; got != want {
		t.Errorf("Value(missing) = %q, want %q", got, want)
	}
}

func TestParseFormErrors(t *testing.T) {
	tests := []struct {
		name string
		x    *Element
	}{
		{"wrong namespace", New("urn:x", "x", "type", "form")},
		{"wrong name", New(NSData, "y", "type", "form")},
		{"bad type", New(NSData, "x", "type", "bogus")},
		{"missing var", New(NSData, "x", "type", "submit").Append(New(NSData, "field"))},
		{"two values in single field", New(NSData, "x", "type", "submit").Append(New(NSData, "field", "var", "a").Append(
			New(NSData, "value").AppendText("1"), New(NSData, "value").AppendText("2")))},
		{"bad boolean", New(NSData, "x", "type", "submit").Append(New(NSData, "field", "var", "a", "type", "boolean").Append(
			New(NSData, "value").AppendText("yes")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseForm(tt.x); !errors.Is(err, ErrBadForm) {
				t.Errorf("got %v, want ErrBadForm", err)
			}
		})
	}
}

func TestFormTypeSubmitted(t *testing.T) {
	f := &Form{Type: FormSubmit, Fields: []Field{{Var: "FORM_TYPE", Values: []string{"urn:y"}}}}
	if got := f.FormType(); got != "urn:y" {
		t.Errorf("FormType = %q, want urn:y", got)
	}
	f.Fields[0].Type = FieldTextSingle
	if got := f.FormType(); got != "" {
		t.Errorf("FormType of non-hidden field = %q, want empty", got)
	}
}

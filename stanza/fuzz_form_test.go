package stanza

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParseForm decodes arbitrary bytes as an element and parses it as a
// data form. Nothing may panic, every error must wrap ErrBadForm, and a
// parsed form is a fixed point: encoding it (as a tree and as bytes) and
// parsing it again gives it back.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:x</value></field><field var='a'><value>1</value></field></x>`,
		`<x xmlns='jabber:x:data' type='form'><title>T</title><instructions>one</instructions><instructions>two</instructions>` +
			`<field var='b' type='boolean' label='L'><required/><value>true</value></field>` +
			`<field var='l' type='list-multi'><option label='o'><value>1</value></option><value>1</value><value>2</value></field>` +
			`<field type='fixed'><value>x</value><value>y</value></field></x>`,
		`<x xmlns='jabber:x:data' type='result'><reported><field var='a'/></reported><item><field var='a'><value>1</value></field></item></x>`,
		`<x xmlns='jabber:x:data' type='cancel'/>`,
		`<x xmlns='jabber:x:data' type='bogus'/>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='b' type='boolean'><value>maybe</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='s' type='text-single'><value>1</value><value>2</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field><value>1</value></field></x>`,
		`<x xmlns='urn:other' type='submit'/>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='t'><value>a&#xD;b<y xmlns='urn:y'/>c</value></field><instructions>a&#10;b</instructions></x>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := NewDecoder(bytes.NewReader(data), fuzzLimits).Next()
		if err != nil {
			return
		}
		form, err := ParseForm(x)
		if err != nil {
			if !errors.Is(err, ErrBadForm) {
				t.Fatalf("ParseForm error %v does not wrap ErrBadForm", err)
			}
			return
		}
		again, err := ParseForm(form.Element())
		if err != nil {
			t.Fatalf("parsing the encoded form %+v: %v", form, err)
		}
		if !reflect.DeepEqual(normalForm(again), normalForm(form)) {
			t.Fatalf("form changed in a round trip:\nfirst  %+v\nsecond %+v", form, again)
		}
		enc := Append(nil, form.Element(), "")
		el, err := NewDecoder(bytes.NewReader(enc), Limits{}).Next()
		if err != nil {
			t.Fatalf("decoding the encoded form %q: %v", enc, err)
		}
		again, err = ParseForm(el)
		if err != nil || !reflect.DeepEqual(normalForm(again), normalForm(form)) {
			t.Fatalf("form changed in a round trip through %q:\nfirst  %+v\nsecond %+v (%v)", enc, form, again, err)
		}
	})
}

// normalForm makes nil and empty slices equal for comparison.
func normalForm(f *Form) Form {
	n := *f
	n.Fields = append([]Field{}, f.Fields...)
	for i := range n.Fields {
		n.Fields[i].Values = append([]string{}, n.Fields[i].Values...)
		n.Fields[i].Options = append([]Option{}, n.Fields[i].Options...)
	}
	return n
}

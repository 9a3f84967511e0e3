package stanza

import (
	"errors"
	"fmt"
	"strings"
)

// NSData is the XEP-0004 data forms namespace.
const NSData = "jabber:x:data"

// Form types (XEP-0004 §3.1).
const (
	FormForm   = "form"
	FormSubmit = "submit"
	FormCancel = "cancel"
	FormResult = "result"
)

// Field types (XEP-0004 §3.3). An empty type means text-single.
const (
	FieldBoolean     = "boolean"
	FieldFixed       = "fixed"
	FieldHidden      = "hidden"
	FieldJIDMulti    = "jid-multi"
	FieldJIDSingle   = "jid-single"
	FieldListMulti   = "list-multi"
	FieldListSingle  = "list-single"
	FieldTextMulti   = "text-multi"
	FieldTextPrivate = "text-private"
	FieldTextSingle  = "text-single"
)

// ErrBadForm is returned by ParseForm, wrapped with details.
var ErrBadForm = errors.New("stanza: bad data form")

// Form is a XEP-0004 data form.
type Form struct {
	Type         string // form, submit, cancel, result
	Title        string
	Instructions string // several <instructions/> elements are joined with "\n"
	Fields       []Field
}

// Field is one data form field.
type Field struct {
	Var, Type, Label string
	Values           []string
	Required         bool
	Options          []Option
}

// Option is a choice in a list field.
type Option struct{ Label, Value string }

// multiValued reports whether a field of type t may carry several values.
func multiValued(t string) bool {
	switch t {
	case FieldJIDMulti, FieldListMulti, FieldTextMulti, FieldFixed:
		return true
	}
	return false
}

// Element encodes f as <x xmlns='jabber:x:data'>. An empty Type is written
// as "form" (the attribute is required). Instructions containing newlines
// are written as one <instructions/> element per line; each value is one
// <value/> element.
func (f *Form) Element() *Element {
	t := f.Type
	if t == "" {
		t = FormForm
	}
	x := New(NSData, "x", "type", t)
	if f.Title != "" {
		x.Append(New(NSData, "title").AppendText(f.Title))
	}
	if f.Instructions != "" {
		for _, line := range strings.Split(f.Instructions, "\n") {
			x.Append(New(NSData, "instructions").AppendText(line))
		}
	}
	for _, fd := range f.Fields {
		el := New(NSData, "field")
		el.Set("var", fd.Var).Set("type", fd.Type).Set("label", fd.Label)
		if fd.Required {
			el.Append(New(NSData, "required"))
		}
		for _, v := range fd.Values {
			el.Append(New(NSData, "value").AppendText(v))
		}
		for _, o := range fd.Options {
			oe := New(NSData, "option")
			oe.Set("label", o.Label)
			el.Append(oe.Append(New(NSData, "value").AppendText(o.Value)))
		}
		x.Append(el)
	}
	return x
}

// ParseForm decodes a <x xmlns='jabber:x:data'> element. It fails (with
// ErrBadForm) when x is not a data form, its type is not one of the four
// XEP-0004 defines, a field other than a fixed one lacks var, a
// single-valued field has several values, or a boolean value is not one of
// 0, 1, false, true. Unknown field types are kept as they are; <reported/>
// and <item/> of result forms are ignored.
func ParseForm(x *Element) (*Form, error) {
	if x == nil || x.Name.Space != NSData || x.Name.Local != "x" {
		return nil, fmt.Errorf("%w: not a jabber:x:data <x/> element", ErrBadForm)
	}
	f := &Form{Type: x.Get("type")}
	switch f.Type {
	case FormForm, FormSubmit, FormCancel, FormResult:
	default:
		return nil, fmt.Errorf("%w: form type %q", ErrBadForm, short(f.Type))
	}
	var instr []string
	for _, c := range x.Elements() {
		if c.Name.Space != NSData {
			continue
		}
		switch c.Name.Local {
		case "title":
			f.Title = c.Text()
		case "instructions":
			instr = append(instr, c.Text())
		case "field":
			fd, err := parseField(c)
			if err != nil {
				return nil, err
			}
			f.Fields = append(f.Fields, fd)
		}
	}
	f.Instructions = strings.Join(instr, "\n")
	return f, nil
}

func parseField(c *Element) (Field, error) {
	fd := Field{Var: c.Get("var"), Type: c.Get("type"), Label: c.Get("label")}
	if fd.Var == "" && fd.Type != FieldFixed {
		return fd, fmt.Errorf("%w: field without var", ErrBadForm)
	}
	for _, v := range c.Elements() {
		if v.Name.Space != NSData {
			continue
		}
		switch v.Name.Local {
		case "required":
			fd.Required = true
		case "value":
			fd.Values = append(fd.Values, v.Text())
		case "option":
			fd.Options = append(fd.Options, Option{Label: v.Get("label"), Value: v.ChildText(NSData, "value")})
		}
	}
	if len(fd.Values) > 1 && !multiValued(fd.Type) {
		return fd, fmt.Errorf("%w: several values for field %q of type %q", ErrBadForm, short(fd.Var), short(fd.Type))
	}
	if fd.Type == FieldBoolean && len(fd.Values) == 1 {
		switch fd.Values[0] {
		case "0", "1", "false", "true":
		default:
			return fd, fmt.Errorf("%w: boolean field %q has value %q", ErrBadForm, short(fd.Var), short(fd.Values[0]))
		}
	}
	return fd, nil
}

// Value returns the first value of field v, or "".
func (f *Form) Value(v string) string {
	for _, fd := range f.Fields {
		if fd.Var == v {
			if len(fd.Values) > 0 {
				return fd.Values[0]
			}
			return ""
		}
	}
	return ""
}

// FormType returns the value of the hidden FORM_TYPE field (XEP-0068), or "".
// A FORM_TYPE field without a type counts, as submitted forms may omit it.
func (f *Form) FormType() string {
	for _, fd := range f.Fields {
		if fd.Var == "FORM_TYPE" && (fd.Type == FieldHidden || fd.Type == "") {
			if len(fd.Values) > 0 {
				return fd.Values[0]
			}
			return ""
		}
	}
	return ""
}

package stanza

// NSData is the XEP-0004 data forms namespace.
const NSData = "jabber:x:data"

// Form is a XEP-0004 data form.
type Form struct {
	Type         string // form, submit, cancel, result
	Title        string
	Instructions string
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

// Element encodes f as <x xmlns='jabber:x:data'>.
func (f *Form) Element() *Element { panic("unimplemented") }

// ParseForm decodes a <x xmlns='jabber:x:data'> element.
func ParseForm(x *Element) (*Form, error) { panic("unimplemented") }

// Value returns the first value of field v, or "".
func (f *Form) Value(v string) string { panic("unimplemented") }

// FormType returns the value of the hidden FORM_TYPE field, or "".
func (f *Form) FormType() string { panic("unimplemented") }

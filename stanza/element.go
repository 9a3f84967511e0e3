// Package stanza is the XMPP wire vocabulary: an XML element tree, a
// streaming decoder restricted to the XML subset XMPP allows, an encoder,
// and stanza and stream errors as Go error values.
package stanza

import (
	"encoding/xml"
	"slices"
)

// Namespaces of the core protocol.
const (
	NSClient  = "jabber:client"
	NSServer  = "jabber:server"
	NSStream  = "http://etherx.jabber.org/streams"
	NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	NSXML     = "http://www.w3.org/XML/1998/namespace"
)

// Node is a child of an Element: either *Element or CharData.
type Node interface{ isNode() }

// CharData is character data (already unescaped).
type CharData string

func (CharData) isNode() {}
func (*Element) isNode() {}

// Element is one XML element. Name.Space is the resolved namespace URI (never
// a prefix). Attr holds the attributes without namespace declarations
// (xmlns, xmlns:*); a namespaced attribute has Name.Space set to its URI
// (xml:lang has Space NSXML). The encoder generates the declarations it needs.
//
// Elements returned by the Decoder may be shared between goroutines once
// handed to the router: treat them as immutable and Copy before changing.
type Element struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []Node
}

// New returns an element with the given namespace and local name and
// attributes given as name, value pairs (unprefixed names only). A final
// unpaired name is ignored.
func New(space, local string, attrs ...string) *Element {
	e := &Element{Name: xml.Name{Space: space, Local: local}}
	if len(attrs) >= 2 {
		e.Attr = make([]xml.Attr, 0, len(attrs)/2)
		for i := 0; i+1 < len(attrs); i += 2 {
			e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
		}
	}
	return e
}

// Get returns the value of the attribute with no namespace and the given
// local name, or "" when absent.
func (e *Element) Get(local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// Lang returns the xml:lang attribute of e, or "".
func (e *Element) Lang() string {
	for _, a := range e.Attr {
		if a.Name.Local == "lang" && a.Name.Space == NSXML {
			return a.Value
		}
	}
	return ""
}

// Set sets (or adds) the unnamespaced attribute local to value; an empty
// value removes it. It returns e. Set changes e in place: Copy an element
// obtained from elsewhere first.
func (e *Element) Set(local, value string) *Element {
	for i, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			if value == "" {
				e.Attr = slices.Delete(e.Attr, i, i+1)
			} else {
				e.Attr[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: local}, Value: value})
	}
	return e
}

// Append adds children to e and returns e. Nil children are skipped.
func (e *Element) Append(children ...Node) *Element {
	for _, c := range children {
		if c == nil {
			continue
		}
		if el, ok := c.(*Element); ok && el == nil {
			continue
		}
		e.Children = append(e.Children, c)
	}
	return e
}

// AppendText adds character data to e and returns e. Empty s adds nothing.
func (e *Element) AppendText(s string) *Element {
	if s != "" {
		e.Children = append(e.Children, CharData(s))
	}
	return e
}

// Child returns the first child element with namespace space and local name
// local, or nil. An empty space matches any namespace.
func (e *Element) Child(space, local string) *Element {
	for _, c := range e.Children {
		if el, ok := c.(*Element); ok && el.Name.Local == local && (space == "" || el.Name.Space == space) {
			return el
		}
	}
	return nil
}

// Elements returns the child elements of e (character data skipped), in order.
// The returned slice is new; the elements are shared.
func (e *Element) Elements() []*Element {
	var els []*Element
	for _, c := range e.Children {
		if el, ok := c.(*Element); ok {
			els = append(els, el)
		}
	}
	return els
}

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element {
	for _, c := range e.Children {
		if el, ok := c.(*Element); ok {
			return el
		}
	}
	return nil
}

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	var (
		first string
		b     []byte
		n     int
	)
	for _, c := range e.Children {
		if t, ok := c.(CharData); ok {
			switch n++; n {
			case 1:
				first = string(t)
			case 2:
				b = append([]byte(first), t...)
			default:
				b = append(b, t...)
			}
		}
	}
	if n > 1 {
		return string(b)
	}
	return first
}

// ChildText returns the Text of Child(space, local), or "".
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return c.Text()
	}
	return ""
}

// Copy returns a shallow copy of e: a new Element with its own Attr and
// Children slices whose child nodes are shared. Its Attr has room for one
// more attribute, as a copy is most often readdressed (Set "to" or
// "from"): a MUC fan-out makes one per occupant.
func (e *Element) Copy() *Element {
	attr := append(make([]xml.Attr, 0, len(e.Attr)+1), e.Attr...)
	return &Element{Name: e.Name, Attr: attr, Children: slices.Clone(e.Children)}
}

// DeepCopy returns a copy of e sharing nothing with it (strings, being
// immutable, are shared).
func (e *Element) DeepCopy() *Element {
	c := &Element{Name: e.Name, Attr: slices.Clone(e.Attr)}
	if e.Children != nil {
		c.Children = make([]Node, len(e.Children))
		for i, n := range e.Children {
			if el, ok := n.(*Element); ok && el != nil {
				n = el.DeepCopy()
			}
			c.Children[i] = n
		}
	}
	return c
}

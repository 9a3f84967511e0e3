// Package stanza is the XMPP wire vocabulary: an XML element tree, a
// streaming decoder restricted to the XML subset XMPP allows, an encoder,
// and stanza and stream errors as Go error values.
package stanza

import "encoding/xml"

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
// attributes given as name, value pairs (unprefixed names only).
func New(space, local string, attrs ...string) *Element { panic("unimplemented") }

// Get returns the value of the attribute with no namespace and the given
// local name, or "" when absent.
func (e *Element) Get(local string) string { panic("unimplemented") }

// Lang returns the xml:lang attribute of e, or "".
func (e *Element) Lang() string { panic("unimplemented") }

// Set sets (or adds) the unnamespaced attribute local to value; an empty
// value removes it. It returns e.
func (e *Element) Set(local, value string) *Element { panic("unimplemented") }

// Append adds children to e and returns e.
func (e *Element) Append(children ...Node) *Element { panic("unimplemented") }

// AppendText adds character data to e and returns e.
func (e *Element) AppendText(s string) *Element { panic("unimplemented") }

// Child returns the first child element with namespace space and local name
// local, or nil. An empty space matches any namespace.
func (e *Element) Child(space, local string) *Element { panic("unimplemented") }

// Elements returns the child elements of e (character data skipped), in order.
// The returned slice is new; the elements are shared.
func (e *Element) Elements() []*Element { panic("unimplemented") }

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element { panic("unimplemented") }

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string { panic("unimplemented") }

// ChildText returns the Text of Child(space, local), or "".
func (e *Element) ChildText(space, local string) string { panic("unimplemented") }

// Copy returns a shallow copy of e: a new Element with its own Attr and
// Children slices whose child nodes are shared.
func (e *Element) Copy() *Element { panic("unimplemented") }

// DeepCopy returns a copy of e sharing nothing with it.
func (e *Element) DeepCopy() *Element { panic("unimplemented") }

// String returns the XML encoding of e, declaring its namespace.
func (e *Element) String() string { panic("unimplemented") }

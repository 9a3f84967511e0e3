package stanza

import (
	"errors"
	"io"
)

// Limits bound what a Decoder accepts. A zero field means the default.
type Limits struct {
	MaxStanzaBytes int // bytes of one top-level element, default 256 KiB
	MaxDepth       int // nesting depth inside a stanza, default 64
	MaxAttrs       int // attributes (incl. namespace declarations) per element, default 64
}

// Errors returned by the Decoder. ErrNotWellFormed and ErrTooLarge are wrapped
// with details; test with errors.Is.
var (
	ErrStreamEnd     = errors.New("stanza: stream closed by peer") // </stream:stream> read
	ErrNotWellFormed = errors.New("stanza: not well-formed")       // -> <not-well-formed/>
	ErrRestricted    = errors.New("stanza: restricted xml")        // DTD, PI, comment, entity -> <restricted-xml/>
	ErrTooLarge      = errors.New("stanza: limit exceeded")        // -> <policy-violation/>
	ErrBadNamespace  = errors.New("stanza: invalid namespace")     // unbound prefix -> <invalid-namespace/>
)

// StreamHeader is the opening <stream:stream> tag of an XML stream.
type StreamHeader struct {
	To, From, ID, Version, Lang string
	DefaultNS                   string // default namespace declared on the header (jabber:client, jabber:server, ...)
	StreamNS                    string // namespace of the element name itself (NSStream expected)
	Local                       string // local name of the element ("stream" expected)
	Attr                        map[string]string // all other unprefixed attributes and namespaced prefixes (e.g. "xmlns:db")
}

// Decoder reads an XMPP XML stream incrementally from an io.Reader and yields
// complete top-level elements (stanzas and stream-level elements) as soon as
// their end tag is read. It accepts only the XML subset RFC 6120 §11 allows:
// no DTD, no processing instructions other than the XML declaration at the
// very start, no comments, no entity references other than the five
// predefined ones and character references, valid UTF-8 and XML characters.
// A Decoder is not safe for concurrent use.
type Decoder struct {
	// implementation fields
}

// NewDecoder returns a Decoder reading from r with limits lim.
func NewDecoder(r io.Reader, lim Limits) *Decoder { panic("unimplemented") }

// Reset discards all state and buffered input and reads from r, as needed
// for a stream restart after STARTTLS or SASL.
func (d *Decoder) Reset(r io.Reader) { panic("unimplemented") }

// StreamStart reads an optional XML declaration and the opening stream tag.
func (d *Decoder) StreamStart() (StreamHeader, error) { panic("unimplemented") }

// Next returns the next complete top-level element. After StreamStart these
// are the children of the stream element (whitespace between them is
// skipped), and ErrStreamEnd is returned when the stream's end tag is read.
// Without StreamStart, Next returns standalone top-level elements (WebSocket
// framing) and io.EOF at the end of input. Any error other than io.EOF is
// final for the stream.
func (d *Decoder) Next() (*Element, error) { panic("unimplemented") }

// InputOffset returns the number of bytes consumed so far (for limits and metrics).
func (d *Decoder) InputOffset() int64 { panic("unimplemented") }

// Append appends the XML encoding of e to buf and returns the extended buffer.
// parentNS is the default namespace in scope where e is written (for a
// stanza on a c2s stream, NSClient); e declares xmlns only when its namespace
// differs. Prefixes for namespaced attributes are declared as needed;
// xml:lang uses the predefined xml prefix. Text and attribute values are
// escaped.
func Append(buf []byte, e *Element, parentNS string) []byte { panic("unimplemented") }

// AppendStreamHeader appends an opening stream tag (with the XML declaration
// when decl is true) for h: xmlns=h.DefaultNS, xmlns:stream=NSStream, and
// the non-empty attributes of h, plus h.Attr entries.
func AppendStreamHeader(buf []byte, h StreamHeader, decl bool) []byte { panic("unimplemented") }

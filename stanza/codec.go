package stanza

import "errors"

// Limits bound what a Decoder accepts. A zero field means the default
// (DefaultMaxStanzaBytes, DefaultMaxDepth, DefaultMaxAttrs).
type Limits struct {
	MaxStanzaBytes int // bytes of one top-level element, default 256 KiB
	MaxDepth       int // nesting depth inside a stanza, default 64
	MaxAttrs       int // attributes (incl. namespace declarations) per element, default 64
}

// Errors returned by the Decoder. All but ErrStreamEnd are wrapped with
// details; test with errors.Is.
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
	DefaultNS                   string            // default namespace declared on the header (jabber:client, jabber:server, ...)
	StreamNS                    string            // namespace of the element name itself (NSStream expected)
	Local                       string            // local name of the element ("stream" expected)
	Attr                        map[string]string // all other unprefixed attributes and namespaced prefixes (e.g. "xmlns:db")
}

package stanza

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// streamPrefix is the prefix the encoder uses for elements in NSStream.
// COMPAT: many clients (old libstrophe, Smack and others matching on the raw
// text) look for the literal "stream:features" and "stream:error", so
// stream-level elements are never written with a default namespace.
const streamPrefix = "stream"

// Append appends the XML encoding of e to buf and returns the extended buffer.
// parentNS is the default namespace in scope where e is written (for a
// stanza on a c2s stream, NSClient); e declares xmlns only when its namespace
// differs. Prefixes for namespaced attributes are declared as needed;
// xml:lang uses the predefined xml prefix. Text and attribute values are
// escaped; characters XML cannot carry (invalid UTF-8, control characters)
// are written as U+FFFD so the output is always well-formed. Elements in
// NSStream are written with the stream prefix, which the outermost such
// element declares. Attributes that are namespace declarations (unprefixed
// xmlns, or in the namespace http://www.w3.org/2000/xmlns/) are skipped:
// the encoder writes its own.
//
// Names are written as they are: they must be valid XML names.
func Append(buf []byte, e *Element, parentNS string) []byte {
	return appendElement(buf, e, parentNS, false)
}

func appendElement(buf []byte, e *Element, defNS string, streamDeclared bool) []byte {
	if e == nil {
		return buf
	}
	buf = append(buf, '<')
	childNS := defNS
	if e.Name.Space == NSStream {
		buf = append(buf, streamPrefix+":"...)
		buf = append(buf, e.Name.Local...)
		if !streamDeclared {
			buf = append(buf, ` xmlns:`+streamPrefix+`="`+NSStream+`"`...)
			streamDeclared = true
		}
	} else {
		buf = append(buf, e.Name.Local...)
		if e.Name.Space != defNS {
			buf = append(buf, ` xmlns="`...)
			buf = appendAttrValue(buf, e.Name.Space)
			buf = append(buf, '"')
			childNS = e.Name.Space
		}
	}
	var prefixes []string // namespaces given generated prefixes ns0, ns1, ...
	var prefixArr [4]string
	prefixes = prefixArr[:0]
	for _, a := range e.Attr {
		buf = append(buf, ' ')
		switch a.Name.Space {
		case "":
			if a.Name.Local == "xmlns" {
				buf = buf[:len(buf)-1]
				continue
			}
		case NSXML:
			buf = append(buf, "xml:"...)
		case nsXMLNS:
			buf = buf[:len(buf)-1]
			continue
		default:
			i := slices.Index(prefixes, a.Name.Space)
			if i < 0 {
				i = len(prefixes)
				prefixes = append(prefixes, a.Name.Space)
				buf = append(buf, "xmlns:ns"...)
				buf = strconv.AppendInt(buf, int64(i), 10)
				buf = append(buf, `="`...)
				buf = appendAttrValue(buf, a.Name.Space)
				buf = append(buf, `" `...)
			}
			buf = append(buf, "ns"...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, ':')
		}
		buf = append(buf, a.Name.Local...)
		buf = append(buf, `="`...)
		buf = appendAttrValue(buf, a.Value)
		buf = append(buf, '"')
	}
	if len(e.Children) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, c := range e.Children {
		switch c := c.(type) {
		case CharData:
			buf = appendText(buf, string(c))
		case *Element:
			buf = appendElement(buf, c, childNS, streamDeclared)
		}
	}
	buf = append(buf, "</"...)
	if e.Name.Space == NSStream {
		buf = append(buf, streamPrefix+":"...)
	}
	buf = append(buf, e.Name.Local...)
	return append(buf, '>')
}

// appendText appends s escaped as character data. '>' is escaped too so
// that "]]>" cannot occur; '\r' is written as a reference because a decoder
// would normalize a literal one to '\n'.
func appendText(buf []byte, s string) []byte {
	return appendEscaped(buf, s, cTextEsc)
}

// appendAttrValue appends s escaped for a double-quoted attribute value.
// Tab, newline and carriage return are written as references because a
// decoder normalizes literal ones to spaces.
func appendAttrValue(buf []byte, s string) []byte {
	return appendEscaped(buf, s, cAttrEsc)
}

func appendEscaped(buf []byte, s string, class uint8) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if charClass[c]&class == 0 {
			i++
			continue
		}
		var esc string
		n := 1
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if c < utf8.RuneSelf {
				esc = "\uFFFD" // control character XML cannot carry
				break
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			n = size
			if (r != utf8.RuneError || size > 1) && isXMLChar(r) {
				i += size
				continue
			}
			esc = "\uFFFD"
		}
		buf = append(buf, s[last:i]...)
		buf = append(buf, esc...)
		i += n
		last = i
	}
	return append(buf, s[last:]...)
}

// String returns the XML encoding of e, declaring its namespace.
func (e *Element) String() string { return string(Append(nil, e, "")) }

// AppendStreamHeader appends an opening stream tag (with the XML declaration
// when decl is true) for h: xmlns=h.DefaultNS, xmlns:stream=NSStream, and
// the non-empty attributes of h, plus h.Attr entries in sorted order (keys
// are written as given; those that repeat an attribute already written are
// skipped). h.StreamNS and h.Local are ignored: the tag is always
// <stream:stream>.
func AppendStreamHeader(buf []byte, h StreamHeader, decl bool) []byte {
	if decl {
		buf = append(buf, "<?xml version='1.0'?>"...)
	}
	buf = append(buf, "<stream:stream"...)
	attr := func(k, v string) {
		buf = append(buf, ' ')
		buf = append(buf, k...)
		buf = append(buf, `="`...)
		buf = appendAttrValue(buf, v)
		buf = append(buf, '"')
	}
	if h.DefaultNS != "" {
		attr("xmlns", h.DefaultNS)
	}
	attr("xmlns:stream", NSStream)
	for _, a := range [...]struct{ k, v string }{
		{"to", h.To}, {"from", h.From}, {"id", h.ID}, {"version", h.Version}, {"xml:lang", h.Lang},
	} {
		if a.v != "" {
			attr(a.k, a.v)
		}
	}
	keys := make([]string, 0, len(h.Attr))
	for k := range h.Attr {
		switch k {
		case "xmlns", "xmlns:stream", "to", "from", "id", "version", "xml:lang":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		attr(k, h.Attr[k])
	}
	return append(buf, '>')
}

package webstream

import (
	"bytes"
	"encoding/xml"
	"errors"
	"html"

	"hearth/stanza"
)

// NS is the namespace of the RFC 7395 framing elements <open/> and <close/>.
const NS = "urn:ietf:params:xml:ns:xmpp-framing"

// closeTag ends the TCP-style stream the stream package reads; streamTag
// starts its header.
var (
	closeTag  = []byte("</stream:stream>")
	streamTag = []byte("<stream:stream ")
)

// inbound translates one WebSocket message from the client into the bytes
// of a TCP-style XML stream: <open/> becomes a stream header, <close/> the
// closing stream tag, and every other message (a stanza or a nonza, which
// RFC 7395 §3.3.3 makes declare its own namespace) passes unchanged. A
// message that is not well-formed passes unchanged too: the stream's
// decoder then fails it with the right stream error.
func inbound(msg []byte) []byte {
	d := xml.NewDecoder(bytes.NewReader(msg))
	for {
		tok, err := d.Token()
		if err != nil {
			return msg
		}
		switch t := tok.(type) {
		case xml.CharData:
			continue
		case xml.StartElement:
			if t.Name.Space != NS {
				return msg
			}
			switch t.Name.Local {
			case "open":
				var h stanza.StreamHeader
				for _, a := range t.Attr {
					switch {
					case a.Name.Space == "" && a.Name.Local == "to":
						h.To = a.Value
					case a.Name.Space == "" && a.Name.Local == "from":
						h.From = a.Value
					case a.Name.Space == "" && a.Name.Local == "version":
						h.Version = a.Value
					case a.Name.Local == "lang" && (a.Name.Space == stanza.NSXML || a.Name.Space == "xml"):
						h.Lang = a.Value
					}
				}
				h.DefaultNS = stanza.NSClient
				return stanza.AppendStreamHeader(nil, h, false)
			case "close":
				return closeTag
			}
			return msg
		default:
			return msg
		}
	}
}

// errIncomplete reports output that ends inside an element.
var errIncomplete = errors.New("webstream: incomplete element")

// outbound splits what the stream package writes (its own encoder's
// output: well-formed, attribute values in quotes, '<' always escaped,
// no comments or CDATA) into RFC 7395 messages, calling emit for each:
// the stream header becomes <open/>, the closing stream tag <close/>, and
// each top-level element gets the namespace declaration it inherited from
// the stream header (RFC 7395 §3.3.3). The XML declaration and whitespace
// between elements are dropped. It returns the number of bytes consumed;
// an element cut at the end of b is left for the next call.
func outbound(b []byte, emit func([]byte) error) (int, error) {
	done := 0
	for {
		i := done
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			return len(b), nil
		}
		if b[i] != '<' {
			return done, errors.New("webstream: text outside an element")
		}
		if rest := b[i:]; len(rest) < len(closeTag) && (bytes.HasPrefix(closeTag, rest) || bytes.HasPrefix(streamTag, rest)) {
			return done, nil // cut inside a stream tag
		}
		var msg []byte
		var n int
		var err error
		switch {
		case bytes.HasPrefix(b[i:], []byte("<?")):
			end := bytes.Index(b[i:], []byte("?>"))
			if end < 0 {
				return done, nil
			}
			done = i + end + 2
			continue
		case bytes.HasPrefix(b[i:], closeTag):
			msg, n = closeElement(), len(closeTag)
		case bytes.HasPrefix(b[i:], streamTag):
			msg, n, err = openElement(b[i:])
		default:
			msg, n, err = element(b[i:])
		}
		if errors.Is(err, errIncomplete) {
			return done, nil
		}
		if err != nil {
			return done, err
		}
		if err := emit(msg); err != nil {
			return done, err
		}
		done = i + n
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func closeElement() []byte {
	return []byte(`<close xmlns="` + NS + `"/>`)
}

// openElement turns a stream header at the start of b into <open/>.
func openElement(b []byte) ([]byte, int, error) {
	n, attrs, _, err := startTag(b)
	if err != nil {
		return nil, 0, err
	}
	open := stanza.New(NS, "open")
	for _, a := range attrs {
		switch a.name {
		case "to", "from", "id", "version":
			open.Set(a.name, a.value)
		case "xml:lang":
			open.Attr = append(open.Attr, xml.Attr{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: a.value})
		}
	}
	return stanza.Append(nil, open, ""), n, nil
}

// element returns the top-level element at the start of b, declaring
// jabber:client on it when it has no namespace declaration of its own
// (stream-level elements declare the stream prefix themselves).
func element(b []byte) ([]byte, int, error) {
	n, attrs, selfClosing, err := startTag(b)
	if err != nil {
		return nil, 0, err
	}
	nameEnd := 1
	for nameEnd < n && !isSpace(b[nameEnd]) && b[nameEnd] != '/' && b[nameEnd] != '>' {
		nameEnd++
	}
	end := n
	if !selfClosing {
		end, err = elementEnd(b, n)
		if err != nil {
			return nil, 0, err
		}
	}
	declared := bytes.HasPrefix(b[1:nameEnd], []byte("stream:"))
	for _, a := range attrs {
		if a.name == "xmlns" {
			declared = true
		}
	}
	if declared {
		return b[:end], end, nil
	}
	const decl = ` xmlns="` + stanza.NSClient + `"`
	msg := make([]byte, 0, end+len(decl))
	msg = append(msg, b[:nameEnd]...)
	msg = append(msg, decl...)
	msg = append(msg, b[nameEnd:end]...)
	return msg, end, nil
}

type attr struct{ name, value string }

// startTag parses the start tag at the start of b: its length, its
// attributes (values unescaped) and whether it is self-closing.
func startTag(b []byte) (n int, attrs []attr, selfClosing bool, err error) {
	i := 1
	for i < len(b) && !isSpace(b[i]) && b[i] != '/' && b[i] != '>' {
		i++
	}
	for {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) {
			return 0, nil, false, errIncomplete
		}
		switch b[i] {
		case '>':
			return i + 1, attrs, false, nil
		case '/':
			if i+1 >= len(b) {
				return 0, nil, false, errIncomplete
			}
			if b[i+1] != '>' {
				return 0, nil, false, errors.New("webstream: malformed start tag")
			}
			return i + 2, attrs, true, nil
		}
		eq := bytes.IndexByte(b[i:], '=')
		if eq < 0 || i+eq+1 >= len(b) {
			return 0, nil, false, errIncomplete
		}
		name := string(b[i : i+eq])
		i += eq + 1
		q := b[i]
		if q != '"' && q != '\'' {
			return 0, nil, false, errors.New("webstream: unquoted attribute value")
		}
		end := bytes.IndexByte(b[i+1:], q)
		if end < 0 {
			return 0, nil, false, errIncomplete
		}
		attrs = append(attrs, attr{name, html.UnescapeString(string(b[i+1 : i+1+end]))})
		i += end + 2
	}
}

// elementEnd returns the offset just past the end tag that closes the
// element whose start tag ends at start.
func elementEnd(b []byte, start int) (int, error) {
	depth := 1
	i := start
	for {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			return 0, errIncomplete
		}
		i += lt
		if i+1 >= len(b) {
			return 0, errIncomplete
		}
		if b[i+1] == '/' {
			gt := bytes.IndexByte(b[i:], '>')
			if gt < 0 {
				return 0, errIncomplete
			}
			i += gt + 1
			depth--
			if depth == 0 {
				return i, nil
			}
			continue
		}
		n, _, selfClosing, err := startTag(b[i:])
		if err != nil {
			return 0, err
		}
		i += n
		if !selfClosing {
			depth++
		}
	}
}

// isOpen and isClose recognize the framing elements outbound emits.
func isOpen(msg []byte) bool  { return bytes.HasPrefix(msg, []byte(`<open xmlns="`+NS+`"`)) }
func isClose(msg []byte) bool { return bytes.HasPrefix(msg, []byte(`<close xmlns="`+NS+`"`)) }

// attrOf returns the attribute name of the start tag at the start of msg.
func attrOf(msg []byte, name string) string {
	_, attrs, _, err := startTag(msg)
	if err != nil {
		return ""
	}
	for _, a := range attrs {
		if a.name == name {
			return a.value
		}
	}
	return ""
}

package stanza

import (
	"bytes"
	"fmt"
)

// Scanner states.
const (
	scText     = iota // character data inside an element
	scLT              // just after '<'
	scStartTag        // inside a start tag, outside attribute values
	scQuote           // inside an attribute value
	scEndTag          // inside an end tag
	scBang            // just after "<!"
	scCDATA           // inside a CDATA section
)

// Stop sets for scanning tags.
const (
	stopName = 1 << iota // ends an element name in a start tag
	stopTag              // needs a look inside a start tag
)

var tagStop = func() (t [256]uint8) {
	for _, c := range []byte{' ', '\t', '\r', '\n', '/', '>', '"', '\'', '<'} {
		t[c] |= stopName
	}
	for _, c := range []byte{'/', '>', '"', '\'', '<'} {
		t[c] |= stopTag
	}
	return t
}()

// span locates an element name relative to the element's first byte.
type span struct{ start, end int }

// scanner finds where the top-level element that starts at the beginning of
// the buffered input ends. It is resumable: when the input runs out it keeps
// its state, so each byte is scanned once however the input is fragmented.
// It tracks just enough syntax (tags, quotes, CDATA) to frame the element;
// the parser validates everything once the element is complete. Errors it
// finds early (mismatched end tags, forbidden markup, limits) let the Decoder
// fail without waiting for the peer to send more.
type scanner struct {
	state     int
	pos       int // offset of the next byte to scan
	depth     int
	quote     byte
	slash     bool // last byte in a start tag was '/'
	nameStart int
	textStart int
	header    bool // stop after the first start tag (stream header)
	names     []span

	elems, attrs, texts int // size hints for the parser
}

func (sc *scanner) reset(header bool) {
	names := sc.names[:0]
	*sc = scanner{state: scLT, pos: 1, header: header, names: names}
}

// scanError is an error the scanner found at offset pos. The Decoder
// prefers an earlier error the parser finds in b[:pos].
type scanError struct {
	pos int
	err error
}

// scan continues scanning b, which holds the element from its first byte.
// It returns the element's length once complete, 0 when more input is
// needed, or a *scanError.
func (sc *scanner) scan(b []byte, lim *Limits) (int, *scanError) {
	i := sc.pos
	defer func() { sc.pos = i }()
	for i < len(b) {
		switch sc.state {
		case scText:
			k := bytes.IndexByte(b[i:], '<')
			if k < 0 {
				i = len(b)
				break
			}
			if i+k > sc.textStart {
				sc.texts++
			}
			i += k + 1
			sc.state = scLT
		case scLT:
			switch b[i] {
			case '/':
				sc.state = scEndTag
				i++
				sc.nameStart = i
			case '!':
				sc.state = scBang
				i++
			case '?':
				return 0, &scanError{i, fmt.Errorf("%w: processing instruction", ErrRestricted)}
			default:
				if sc.depth >= lim.MaxDepth {
					return 0, &scanError{-1, fmt.Errorf("%w: elements nested deeper than %d", ErrTooLarge, lim.MaxDepth)}
				}
				sc.state = scStartTag
				sc.nameStart = i
				sc.names = append(sc.names, span{i, -1})
				sc.depth++
				sc.elems++
				sc.slash = false
			}
		case scStartTag:
			top := &sc.names[len(sc.names)-1]
			if top.end < 0 {
				for i < len(b) && tagStop[b[i]]&stopName == 0 {
					i++
				}
				if i == len(b) {
					break
				}
				top.end = i
			}
			for i < len(b) {
				k := i
				for k < len(b) && tagStop[b[k]]&stopTag == 0 {
					k++
				}
				if k > i {
					sc.slash = false
				}
				if i = k; i == len(b) {
					break
				}
				c := b[i]
				i++
				switch c {
				case '/':
					sc.slash = true
					continue
				case '"', '\'':
					sc.quote = c
					sc.state = scQuote
					sc.attrs++
				case '>':
					if sc.slash {
						sc.depth--
						sc.names = sc.names[:len(sc.names)-1]
					}
					if sc.header || sc.depth == 0 {
						return i, nil
					}
					sc.state = scText
					sc.textStart = i
				case '<':
					return 0, &scanError{i, fmt.Errorf("%w: '<' in tag", ErrNotWellFormed)}
				}
				sc.slash = false
				break
			}
		case scQuote:
			k := bytes.IndexByte(b[i:], sc.quote)
			end := len(b)
			if k >= 0 {
				end = i + k
			}
			if l := bytes.IndexByte(b[i:end], '<'); l >= 0 {
				return 0, &scanError{i + l + 1, fmt.Errorf("%w: '<' in attribute value", ErrNotWellFormed)}
			}
			if k < 0 {
				i = len(b)
				break
			}
			i = end + 1
			sc.state = scStartTag
		case scEndTag:
			k := bytes.IndexByte(b[i:], '>')
			if k < 0 {
				i = len(b)
				break
			}
			i += k + 1
			name := bytes.TrimRight(b[sc.nameStart:i-1], " \t\r\n")
			if len(sc.names) == 0 {
				return 0, &scanError{i, fmt.Errorf("%w: unexpected end tag", ErrNotWellFormed)}
			}
			top := sc.names[len(sc.names)-1]
			if top.end < 0 || !bytes.Equal(name, b[top.start:top.end]) {
				return 0, &scanError{i, fmt.Errorf("%w: element <%s> closed by </%s>", ErrNotWellFormed, short(string(b[top.start:max(top.end, top.start)])), short(string(name)))}
			}
			sc.names = sc.names[:len(sc.names)-1]
			sc.depth--
			if sc.depth == 0 {
				return i, nil
			}
			sc.state = scText
			sc.textStart = i
		case scBang:
			const cdata = "[CDATA["
			rest := b[i:]
			if len(rest) > len(cdata) {
				rest = rest[:len(cdata)]
			}
			if !bytes.HasPrefix([]byte(cdata), rest) {
				if rest[0] == '-' || rest[0] == 'D' {
					return 0, &scanError{i, fmt.Errorf("%w: comment or DTD", ErrRestricted)}
				}
				return 0, &scanError{i, fmt.Errorf("%w: invalid markup '<!'", ErrNotWellFormed)}
			}
			if len(rest) < len(cdata) {
				return 0, nil // keep i at the '<!' body until it is all here
			}
			i += len(cdata)
			sc.state = scCDATA
			sc.texts++
		case scCDATA:
			k := bytes.Index(b[i:], []byte("]]>"))
			if k < 0 {
				i = max(i, len(b)-2)
				return 0, nil
			}
			i += k + 3
			sc.state = scText
			sc.textStart = i
		}
	}
	return 0, nil
}

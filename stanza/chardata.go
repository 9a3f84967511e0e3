package stanza

import (
	"strings"
	"unicode/utf8"
)

// checkRune validates the non-ASCII UTF-8 sequence at s[i] and returns its
// length.
func (p *parser) checkRune(i int) (int, error) {
	r, size := utf8.DecodeRuneInString(p.s[i:])
	if r == utf8.RuneError && size <= 1 {
		if !utf8.FullRuneInString(p.s[i:]) {
			return 0, errTruncated
		}
		p.pos = i
		return 0, p.errorf(ErrNotWellFormed, "invalid UTF-8")
	}
	if !isXMLChar(r) {
		p.pos = i
		return 0, p.errorf(ErrNotWellFormed, "illegal character %U", r)
	}
	return size, nil
}

// attrValue parses a quoted attribute value at p.pos, applying reference
// expansion and attribute-value normalization (XML 1.0 §3.3.3).
func (p *parser) attrValue() (string, error) {
	s := p.s
	if p.pos >= len(s) {
		return "", errTruncated
	}
	q := s[p.pos]
	if q != '"' && q != '\'' {
		return "", p.errorf(ErrNotWellFormed, "unquoted attribute value")
	}
	start := p.pos + 1
	for i := start; i < len(s); {
		c := s[i]
		switch {
		case charClass[c]&cAttrPlain != 0:
			i++
		case c == q:
			p.pos = i + 1
			return s[start:i], nil
		case c == '"' || c == '\'':
			i++
		case c >= utf8.RuneSelf:
			n, err := p.checkRune(i)
			if err != nil {
				return "", err
			}
			i += n
		default:
			return p.attrValueSlow(start, i, q)
		}
	}
	return "", errTruncated
}

func (p *parser) attrValueSlow(start, i int, q byte) (string, error) {
	s := p.s
	b := append(p.tmp[:0], s[start:i]...)
	defer func() { p.tmp = b[:0] }()
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			p.pos = i + 1
			return string(b), nil
		case charClass[c]&cAttrPlain != 0 || c == '"' || c == '\'':
			b = append(b, c)
			i++
		case c == '<':
			p.pos = i
			return "", p.errorf(ErrNotWellFormed, "'<' in attribute value")
		case c == '&':
			var err error
			if b, i, err = p.ref(b, i); err != nil {
				return "", err
			}
		case c == '\r':
			b = append(b, ' ')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
		case c == '\t' || c == '\n':
			b = append(b, ' ')
			i++
		case c >= utf8.RuneSelf:
			n, err := p.checkRune(i)
			if err != nil {
				return "", err
			}
			b = append(b, s[i:i+n]...)
			i += n
		default:
			p.pos = i
			return "", p.errorf(ErrNotWellFormed, "illegal character %U", rune(c))
		}
	}
	return "", errTruncated
}

// text parses character data at p.pos up to the next '<'.
func (p *parser) text() error {
	s := p.s
	start := p.pos
	i := start
	for i < len(s) {
		c := s[i]
		switch {
		case charClass[c]&cTextPlain != 0:
			i++
			continue
		case c == '<':
		case c == ']':
			if err := p.checkCDEnd(i); err != nil {
				return err
			}
			i++
			continue
		case c >= utf8.RuneSelf:
			n, err := p.checkRune(i)
			if err != nil {
				return err
			}
			i += n
			continue
		default:
			return p.textSlow(start, i)
		}
		break
	}
	p.addText(s[start:i])
	p.pos = i
	return nil
}

// checkCDEnd rejects "]]>" in character data (XML 1.0 §2.4).
func (p *parser) checkCDEnd(i int) error {
	rest := p.s[i:]
	if strings.HasPrefix(rest, "]]>") {
		p.pos = i
		return p.errorf(ErrNotWellFormed, "']]>' in character data")
	}
	if len(rest) < 3 && strings.HasPrefix("]]>", rest) {
		return errTruncated
	}
	return nil
}

func (p *parser) textSlow(start, i int) error {
	s := p.s
	b := append(p.tmp[:0], s[start:i]...)
	defer func() { p.tmp = b[:0] }()
	for i < len(s) {
		c := s[i]
		switch {
		case c == '<':
			p.addText(string(b))
			p.pos = i
			return nil
		case charClass[c]&cTextPlain != 0:
			b = append(b, c)
			i++
		case c == ']':
			if err := p.checkCDEnd(i); err != nil {
				return err
			}
			b = append(b, c)
			i++
		case c == '&':
			var err error
			if b, i, err = p.ref(b, i); err != nil {
				return err
			}
		case c == '\r':
			b = append(b, '\n')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
		case c >= utf8.RuneSelf:
			n, err := p.checkRune(i)
			if err != nil {
				return err
			}
			b = append(b, s[i:i+n]...)
			i += n
		default:
			p.pos = i
			return p.errorf(ErrNotWellFormed, "illegal character %U", rune(c))
		}
	}
	p.addText(string(b))
	p.pos = i
	return nil
}

// ref expands the reference at s[i] ('&') onto b. Only the five predefined
// entities and character references exist in XMPP: any other entity
// reference is restricted XML, and nothing is ever expanded recursively.
func (p *parser) ref(b []byte, i int) ([]byte, int, error) {
	s := p.s
	j := i + 1
	if j >= len(s) {
		return b, i, errTruncated
	}
	if s[j] == '#' {
		j++
		base := rune(10)
		if j < len(s) && s[j] == 'x' {
			base = 16
			j++
		}
		var n rune
		digits := 0
		for ; j < len(s) && s[j] != ';'; j++ {
			d := digitVal(s[j])
			if d >= base {
				p.pos = i
				return b, i, p.errorf(ErrNotWellFormed, "invalid character reference")
			}
			if n = n*base + d; n > utf8.MaxRune {
				n = utf8.MaxRune + 1 // saturate: still invalid, never overflows
			}
			digits++
		}
		if j >= len(s) {
			return b, i, errTruncated
		}
		if digits == 0 || !isXMLChar(n) {
			p.pos = i
			return b, i, p.errorf(ErrNotWellFormed, "invalid character reference")
		}
		return utf8.AppendRune(b, n), j + 1, nil
	}
	k := j
	for k < len(s) && (charClass[s[k]]&cName != 0 || s[k] == ':' || s[k] >= utf8.RuneSelf) {
		k++
	}
	if k >= len(s) {
		return b, i, errTruncated
	}
	name := s[j:k]
	if s[k] != ';' || !nameStartOK(name) {
		p.pos = i
		return b, i, p.errorf(ErrNotWellFormed, "invalid reference")
	}
	switch name {
	case "amp":
		b = append(b, '&')
	case "lt":
		b = append(b, '<')
	case "gt":
		b = append(b, '>')
	case "quot":
		b = append(b, '"')
	case "apos":
		b = append(b, '\'')
	default:
		p.pos = i
		return b, i, p.errorf(ErrRestricted, "entity reference &%s;", short(name))
	}
	return b, k + 1, nil
}

func digitVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return 99
}

// bang parses markup starting "<!": a CDATA section, which becomes
// character data, or a comment or DTD, which XMPP forbids.
func (p *parser) bang() error {
	const cdata = "<![CDATA["
	rest := p.s[p.pos:]
	switch {
	case strings.HasPrefix(rest, cdata):
	case strings.HasPrefix(rest, "<!-"):
		return p.errorf(ErrRestricted, "comment")
	case strings.HasPrefix(rest, "<!D"):
		return p.errorf(ErrRestricted, "document type declaration")
	case len(rest) < len(cdata) && strings.HasPrefix(cdata, rest):
		return errTruncated
	default:
		return p.errorf(ErrNotWellFormed, "invalid markup '<!'")
	}
	if len(p.stack) == 0 {
		return p.errorf(ErrNotWellFormed, "CDATA section outside element")
	}
	body := rest[len(cdata):]
	end := strings.Index(body, "]]>")
	if end < 0 {
		return errTruncated
	}
	body = body[:end]
	copyNeeded := false
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c >= utf8.RuneSelf:
			n, err := p.checkRune(p.pos + len(cdata) + i)
			if err != nil {
				return err
			}
			i += n
		case c == '\r':
			copyNeeded = true
			i++
		case c < 0x20 && c != '\t' && c != '\n':
			p.pos += len(cdata) + i
			return p.errorf(ErrNotWellFormed, "illegal character %U", rune(c))
		default:
			i++
		}
	}
	if copyNeeded {
		body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	}
	p.addText(body)
	p.pos += len(cdata) + end + len("]]>")
	return nil
}

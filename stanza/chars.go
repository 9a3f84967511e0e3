package stanza

import "unicode/utf8"

// Byte classes used by the parser and the encoder. Bytes >= 0x80 are
// checked as UTF-8 sequences wherever they occur.
const (
	cTextPlain = 1 << iota // literal in character data, no further check
	cAttrPlain             // literal in an attribute value (quotes excluded)
	cNameStart             // ASCII NameStartChar, ':' excluded
	cName                  // ASCII NameChar, ':' excluded
	cSpace                 // XML white space (S production)
	cTextEsc               // needs escaping or checking when encoding text
	cAttrEsc               // needs escaping or checking when encoding an attribute value
)

var charClass = func() (t [256]uint8) {
	for c := 0x20; c < 0x80; c++ {
		switch c {
		case '<', '&', ']':
		default:
			t[c] |= cTextPlain
		}
		switch c {
		case '<', '&', '"', '\'':
		default:
			t[c] |= cAttrPlain
		}
	}
	t['\t'] |= cTextPlain
	t['\n'] |= cTextPlain
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cNameStart | cName
		t[c-'a'+'A'] |= cNameStart | cName
	}
	t['_'] |= cNameStart | cName
	for c := '0'; c <= '9'; c++ {
		t[c] |= cName
	}
	t['-'] |= cName
	t['.'] |= cName
	for _, c := range []byte{' ', '\t', '\r', '\n'} {
		t[c] |= cSpace
	}
	for c := 0; c < 256; c++ {
		if c < 0x20 || c >= 0x80 {
			t[c] |= cTextEsc | cAttrEsc
		}
	}
	t['\t'] &^= cTextEsc
	t['\n'] &^= cTextEsc
	for _, c := range []byte{'&', '<', '>'} {
		t[c] |= cTextEsc
	}
	for _, c := range []byte{'&', '<', '"'} {
		t[c] |= cAttrEsc
	}
	return t
}()

func isSpace(c byte) bool { return charClass[c]&cSpace != 0 }

// isXMLChar reports whether r matches the Char production of XML 1.0.
func isXMLChar(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= utf8.MaxRune:
		return true
	}
	return false
}

// isNameStartRune reports whether the non-ASCII rune r matches NameStartChar
// of XML 1.0 (fifth edition).
func isNameStartRune(r rune) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

// isNameRune reports whether the non-ASCII rune r matches NameChar.
func isNameRune(r rune) bool {
	return isNameStartRune(r) || r == 0xB7 || r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040
}

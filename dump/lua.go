package dump

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// luaTable is a Lua table. Keys are string, float64 or bool; values are
// string, float64, bool or luaTable.
type luaTable map[any]any

// maxLuaDepth bounds the nesting of tables in a data file.
const maxLuaDepth = 32

// parseLuaData parses a Prosody data file: "return" followed by one Lua
// value and an optional ";". It accepts the subset of Lua that Prosody's
// serializer writes: nil (as a value only), booleans, numbers (decimal,
// with fraction and exponent, or hexadecimal integers; a leading minus),
// strings in double or single quotes with Lua's escapes, and table
// constructors with "[key] = value", "name = value" and positional fields
// separated by "," or ";". Comments, long strings, expressions and
// repeated keys are errors.
func parseLuaData(src string) (any, error) {
	p := &luaParser{s: src}
	p.space()
	if !p.word("return") {
		return nil, p.errorf(`want "return"`)
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		p.space()
	}
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected text after the value")
	}
	return v, nil
}

type luaParser struct {
	s string
	i int
}

func (p *luaParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.s[:min(p.i, len(p.s))], "\n")
	return fmt.Errorf("lua data, line %d: %s", line, fmt.Sprintf(format, args...))
}

func (p *luaParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n\f\v", p.s[p.i]) >= 0 {
		p.i++
	}
}

// word consumes the keyword w when it is next and is not the start of a
// longer name.
func (p *luaParser) word(w string) bool {
	if !strings.HasPrefix(p.s[p.i:], w) {
		return false
	}
	if j := p.i + len(w); j < len(p.s) && isNameByte(p.s[j]) {
		return false
	}
	p.i += len(w)
	return true
}

func isNameByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// value parses one value; a nil value is returned as nil.
func (p *luaParser) value(depth int) (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of data")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if depth >= maxLuaDepth {
			return nil, p.errorf("tables nested too deeply")
		}
		return p.table(depth + 1)
	case c == '"' || c == '\'':
		return p.str()
	case c == '-' || c == '.' || '0' <= c && c <= '9':
		return p.number()
	case p.word("true"):
		return true, nil
	case p.word("false"):
		return false, nil
	case p.word("nil"):
		return nil, nil
	}
	return nil, p.errorf("unexpected %q", p.s[p.i])
}

func (p *luaParser) table(depth int) (luaTable, error) {
	p.i++ // {
	t := luaTable{}
	next := float64(1) // the key of the next positional field
	for {
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated table")
		}
		if p.s[p.i] == '}' {
			p.i++
			return t, nil
		}
		var key any
		switch start := p.i; {
		case p.s[p.i] == '[':
			p.i++
			k, err := p.value(depth)
			if err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ']' {
				return nil, p.errorf(`want "]"`)
			}
			p.i++
			if k == nil {
				return nil, p.errorf("nil table key")
			}
			if _, ok := k.(luaTable); ok {
				return nil, p.errorf("table as a table key")
			}
			key = k
			if err := p.equals(); err != nil {
				return nil, err
			}
		case isNameByte(p.s[p.i]) && !('0' <= p.s[p.i] && p.s[p.i] <= '9'):
			for p.i < len(p.s) && isNameByte(p.s[p.i]) {
				p.i++
			}
			name := p.s[start:p.i]
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '=' {
				if name == "true" || name == "false" || name == "nil" {
					return nil, p.errorf("%s as a field name", name)
				}
				p.i++
				key = name
			} else {
				p.i = start // a positional true, false or nil
			}
		}
		if key == nil {
			key = next
			next++
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if _, dup := t[key]; dup {
			return nil, p.errorf("repeated key %v", key)
		}
		if v != nil { // a nil field is an absent one, as in Lua
			t[key] = v
		}
		p.space()
		if p.i < len(p.s) && (p.s[p.i] == ',' || p.s[p.i] == ';') {
			p.i++
		} else if p.i < len(p.s) && p.s[p.i] != '}' {
			return nil, p.errorf(`want ",", ";" or "}"`)
		}
	}
}

func (p *luaParser) equals() error {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return p.errorf(`want "="`)
	}
	p.i++
	return nil
}

func (p *luaParser) number() (float64, error) {
	start := p.i
	neg := false
	if p.s[p.i] == '-' {
		neg = true
		p.i++
		p.space()
		start = p.i
	}
	var f float64
	var err error
	if strings.HasPrefix(p.s[p.i:], "0x") || strings.HasPrefix(p.s[p.i:], "0X") {
		p.i += 2
		for p.i < len(p.s) && strings.IndexByte("0123456789abcdefABCDEF", p.s[p.i]) >= 0 {
			p.i++
		}
		var u uint64
		u, err = strconv.ParseUint(p.s[start+2:p.i], 16, 64)
		f = float64(u)
	} else {
		for p.i < len(p.s) && strings.IndexByte("0123456789.eE", p.s[p.i]) >= 0 ||
			p.i > start && p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') && (p.s[p.i-1] == 'e' || p.s[p.i-1] == 'E') {
			p.i++
		}
		text := p.s[start:p.i]
		if text == "" || strings.ContainsAny(text[:1], "eE") {
			return 0, p.errorf("malformed number")
		}
		f, err = strconv.ParseFloat(text, 64)
	}
	if err != nil || p.i < len(p.s) && isNameByte(p.s[p.i]) {
		return 0, p.errorf("malformed number %q", p.s[start:p.i])
	}
	if neg {
		f = -f
	}
	return f, nil
}

// str parses a quoted string with Lua's escapes (Lua 5.1 to 5.4).
func (p *luaParser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\n' || c == '\r':
			return "", p.errorf("unescaped line break in a string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++ // backslash
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c = p.s[p.i]
		p.i++
		switch c {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n', '\n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\', '"', '\'':
			b.WriteByte(c)
		case 'z': // skips the white space that follows
			p.space()
		case 'x':
			if p.i+2 > len(p.s) {
				return "", p.errorf(`bad \x escape`)
			}
			v, err := strconv.ParseUint(p.s[p.i:p.i+2], 16, 8)
			if err != nil {
				return "", p.errorf(`bad \x escape`)
			}
			b.WriteByte(byte(v))
			p.i += 2
		case 'u':
			end := strings.IndexByte(p.s[p.i:], '}')
			if !strings.HasPrefix(p.s[p.i:], "{") || end < 2 {
				return "", p.errorf(`bad \u escape`)
			}
			v, err := strconv.ParseUint(p.s[p.i+1:p.i+end], 16, 31)
			if err != nil || v > utf8.MaxRune {
				// Lua allows up to 2^31 in its extended UTF-8; Go strings
				// here must be valid text.
				return "", p.errorf(`bad \u escape`)
			}
			b.WriteRune(rune(v))
			p.i += end + 1
		default:
			if c < '0' || c > '9' {
				return "", p.errorf(`unknown escape \%c`, c)
			}
			v := int(c - '0')
			for n := 1; n < 3 && p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9'; n++ {
				v = v*10 + int(p.s[p.i]-'0')
				p.i++
			}
			if v > 255 {
				return "", p.errorf(`decimal escape \%d too large`, v)
			}
			b.WriteByte(byte(v))
		}
	}
}

// errNotTable is returned for a data file whose value is not a table.
var errNotTable = errors.New("not a table")

package stanza

import (
	"encoding/xml"
	"errors"
	"fmt"
	"unicode/utf8"
)

// nsXMLNS is the namespace bound to the reserved xmlns prefix; no element or
// attribute may be in it and no prefix may be bound to it.
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// errTruncated is the parser's internal signal that its input ended before
// the element did. The Decoder never returns it.
var errTruncated = errors.New("stanza: truncated input")

// binding is one namespace declaration in scope; prefix "" is the default
// namespace.
type binding struct{ prefix, uri string }

// rawAttr is an attribute as written, before namespace resolution.
type rawAttr struct{ prefix, local, value string }

// frame is an open element during parsing.
type frame struct {
	el      *Element
	qname   string // as written, for matching the end tag
	nsMark  int    // len(parser.ns) before the element's declarations
	kidMark int    // len(parser.nodes) before the element's children
}

// parser builds an element tree from a string holding exactly one complete
// element (as delimited by the scanner). All names and values that need no
// unescaping are substrings of that string, so a typical stanza costs one
// string allocation plus one slab each for elements, attributes and child
// lists.
type parser struct {
	s    string
	pos  int
	base int64 // input offset of s[0], for error messages
	lim  Limits

	scope []binding // stream header declarations, outermost
	ns    []binding // declarations inside the element, innermost last
	stack []frame
	nodes []Node // children of open elements, innermost last
	raw   []rawAttr
	tmp   []byte // unescaping scratch

	txt    string // pending character data, flushed at the next tag
	hasTxt bool

	elems []Element  // slab of elements not yet handed out
	attrs []xml.Attr // slab of attributes
	kids  []Node     // slab of child lists
}

func (p *parser) errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", kind, fmt.Sprintf(format, args...), p.base+int64(p.pos))
}

// short returns s cut to a length fit for an error message.
func short(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// reset prepares p to parse s, whose first byte is at input offset base,
// with the namespace bindings scope (the stream header's) in force.
func (p *parser) reset(s string, base int64, scope []binding) {
	p.s, p.pos, p.base = s, 0, base
	p.scope = scope
	p.ns = p.ns[:0]
	p.stack = p.stack[:0]
	p.nodes = p.nodes[:0]
	p.hasTxt, p.txt = false, ""
}

// release drops the slabs, which belong to the returned tree now. The
// scratch slices keep references into the last input until the next one
// overwrites them; after a large stanza they are cleared so that a
// Decoder holding more input does not pin it (idle clears them always).
func (p *parser) release() {
	p.elems, p.attrs, p.kids = nil, nil, nil
	p.txt = ""
	if len(p.s) > maxPinned {
		clear(p.ns[:cap(p.ns)])
		clear(p.stack[:cap(p.stack)])
		clear(p.nodes[:cap(p.nodes)])
		clear(p.raw[:cap(p.raw)])
		p.s = ""
	}
	if cap(p.tmp) > maxScratch {
		p.tmp = nil
	}
}

// idle readies p for workPool: it forgets its input and the stream's
// declarations, so that neither stays alive in the pool, and drops a
// large unescaping buffer.
func (p *parser) idle() {
	p.release()
	clear(p.ns[:cap(p.ns)])
	clear(p.stack[:cap(p.stack)])
	clear(p.nodes[:cap(p.nodes)])
	clear(p.raw[:cap(p.raw)])
	p.s, p.scope = "", nil
}

// maxPinned is the size of input the parser's scratch may keep alive
// between elements.
const maxPinned = 4 << 10

// maxScratch is the largest unescaping buffer kept between stanzas.
const maxScratch = 16 << 10

// element parses the element that starts at p.s[0]. nElems, nAttrs and
// nKids are size hints for the slabs (upper bounds on well-formed input;
// the parser falls back to ordinary allocation when they are short).
func (p *parser) element(nElems, nAttrs, nKids int) (*Element, error) {
	if nElems > 0 {
		p.elems = make([]Element, nElems)
	}
	if nAttrs > 0 {
		p.attrs = make([]xml.Attr, 0, nAttrs)
	}
	if nKids > 0 {
		p.kids = make([]Node, 0, nKids)
	}
	s := p.s
	for {
		if p.pos >= len(s) {
			return nil, errTruncated
		}
		if s[p.pos] != '<' {
			if len(p.stack) == 0 {
				return nil, p.errorf(ErrNotWellFormed, "character data outside element")
			}
			if err := p.text(); err != nil {
				return nil, err
			}
			continue
		}
		if p.pos+1 >= len(s) {
			return nil, errTruncated
		}
		var (
			root *Element
			err  error
		)
		switch s[p.pos+1] {
		case '/':
			if len(p.stack) == 0 {
				return nil, p.errorf(ErrNotWellFormed, "unexpected end tag")
			}
			p.flushText()
			root, err = p.endTag()
		case '!':
			err = p.bang()
		case '?':
			err = p.errorf(ErrRestricted, "processing instruction")
		default:
			p.flushText()
			root, err = p.startTag()
		}
		if err != nil {
			return nil, err
		}
		if root != nil {
			if p.pos != len(s) {
				return nil, p.errorf(ErrNotWellFormed, "data after element")
			}
			return root, nil
		}
	}
}

func (p *parser) flushText() {
	if p.hasTxt {
		p.nodes = append(p.nodes, CharData(p.txt))
		p.hasTxt, p.txt = false, ""
	}
}

func (p *parser) addText(t string) {
	switch {
	case t == "":
	case p.hasTxt:
		p.txt += t // only when CDATA sections adjoin other text
	default:
		p.txt, p.hasTxt = t, true
	}
}

func (p *parser) newElement() *Element {
	if len(p.elems) > 0 {
		e := &p.elems[0]
		p.elems = p.elems[1:]
		return e
	}
	return new(Element)
}

// attrSlice returns an empty slice with capacity n, from the slab when it
// has room. Its capacity is exact so that appending to a decoded element's
// attributes never writes into a neighbour's.
func (p *parser) attrSlice(n int) []xml.Attr {
	l := len(p.attrs)
	if cap(p.attrs)-l < n {
		return make([]xml.Attr, 0, n)
	}
	p.attrs = p.attrs[:l+n]
	return p.attrs[l : l : l+n]
}

// kidSlice returns a copy of src, in the slab when it has room, with exact
// capacity.
func (p *parser) kidSlice(src []Node) []Node {
	l, n := len(p.kids), len(src)
	if cap(p.kids)-l < n {
		return append([]Node(nil), src...)
	}
	p.kids = append(p.kids, src...)
	return p.kids[l : l+n : l+n]
}

func (p *parser) skipSpace() bool {
	i := p.pos
	for i < len(p.s) && isSpace(p.s[i]) {
		i++
	}
	moved := i > p.pos
	p.pos = i
	return moved
}

// lookup resolves a prefix ("" for the default namespace).
func (p *parser) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return NSXML, true
	}
	for i := len(p.ns) - 1; i >= 0; i-- {
		if p.ns[i].prefix == prefix {
			return p.ns[i].uri, true
		}
	}
	for i := len(p.scope) - 1; i >= 0; i-- {
		if p.scope[i].prefix == prefix {
			return p.scope[i].uri, true
		}
	}
	return "", prefix == ""
}

// startTag parses a start tag at p.pos. It returns the element when it is an
// empty root element, which completes the parse.
func (p *parser) startTag() (*Element, error) {
	s := p.s
	p.pos++ // '<'
	qname, prefix, local, err := p.qname()
	if err != nil {
		return nil, err
	}
	p.raw = p.raw[:0]
	empty := false
	for {
		sp := p.skipSpace()
		if p.pos >= len(s) {
			return nil, errTruncated
		}
		c := s[p.pos]
		if c == '>' {
			p.pos++
			break
		}
		if c == '/' {
			if p.pos+1 >= len(s) {
				return nil, errTruncated
			}
			if s[p.pos+1] != '>' {
				return nil, p.errorf(ErrNotWellFormed, "expected '>' after '/' in tag <%s>", short(qname))
			}
			p.pos += 2
			empty = true
			break
		}
		if !sp {
			return nil, p.errorf(ErrNotWellFormed, "expected white space or end of tag in <%s>", short(qname))
		}
		if len(p.raw) >= p.lim.MaxAttrs {
			return nil, p.errorf(ErrTooLarge, "more than %d attributes on <%s>", p.lim.MaxAttrs, short(qname))
		}
		_, apfx, alocal, err := p.qname()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(s) {
			return nil, errTruncated
		}
		if s[p.pos] != '=' {
			return nil, p.errorf(ErrNotWellFormed, "expected '=' after attribute name")
		}
		p.pos++
		p.skipSpace()
		v, err := p.attrValue()
		if err != nil {
			return nil, err
		}
		for _, a := range p.raw {
			if a.local == alocal && a.prefix == apfx {
				return nil, p.errorf(ErrNotWellFormed, "duplicate attribute %q", short(alocal))
			}
		}
		p.raw = append(p.raw, rawAttr{apfx, alocal, v})
	}
	if len(p.stack) >= p.lim.MaxDepth {
		return nil, p.errorf(ErrTooLarge, "elements nested deeper than %d", p.lim.MaxDepth)
	}

	nsMark := len(p.ns)
	nattr := 0
	for _, a := range p.raw {
		switch {
		case a.prefix == "" && a.local == "xmlns":
			if a.value == NSXML || a.value == nsXMLNS {
				return nil, p.errorf(ErrBadNamespace, "reserved namespace %q as default", a.value)
			}
			p.ns = append(p.ns, binding{"", a.value})
		case a.prefix == "xmlns":
			if err := p.checkDecl(a.local, a.value); err != nil {
				return nil, err
			}
			if a.local != "xml" {
				p.ns = append(p.ns, binding{a.local, a.value})
			}
		default:
			nattr++
		}
	}
	space, ok := p.lookup(prefix)
	if !ok {
		return nil, p.errorf(ErrBadNamespace, "unbound prefix %q", short(prefix))
	}
	e := p.newElement()
	e.Name = xml.Name{Space: space, Local: local}
	if nattr > 0 {
		attrs := p.attrSlice(nattr)
		for _, a := range p.raw {
			if a.prefix == "xmlns" || a.prefix == "" && a.local == "xmlns" {
				continue
			}
			var sp string
			if a.prefix != "" {
				if sp, ok = p.lookup(a.prefix); !ok {
					return nil, p.errorf(ErrBadNamespace, "unbound prefix %q", short(a.prefix))
				}
				for _, b := range attrs {
					if b.Name.Local == a.local && b.Name.Space == sp {
						return nil, p.errorf(ErrNotWellFormed, "duplicate attribute {%s}%s", short(sp), short(a.local))
					}
				}
			}
			attrs = append(attrs, xml.Attr{Name: xml.Name{Space: sp, Local: a.local}, Value: a.value})
		}
		e.Attr = attrs
	}
	if empty {
		p.ns = p.ns[:nsMark]
		if len(p.stack) == 0 {
			return e, nil
		}
		p.nodes = append(p.nodes, e)
		return nil, nil
	}
	p.stack = append(p.stack, frame{el: e, qname: qname, nsMark: nsMark, kidMark: len(p.nodes)})
	return nil, nil
}

// checkDecl enforces the constraints of Namespaces in XML 1.0 on a prefix
// declaration xmlns:prefix='uri'.
func (p *parser) checkDecl(prefix, uri string) error {
	switch {
	case prefix == "xmlns":
		return p.errorf(ErrBadNamespace, "declaration of the xmlns prefix")
	case uri == "":
		return p.errorf(ErrBadNamespace, "empty namespace for prefix %q", short(prefix))
	case (prefix == "xml") != (uri == NSXML):
		return p.errorf(ErrBadNamespace, "xml prefix and namespace must go together")
	case uri == nsXMLNS:
		return p.errorf(ErrBadNamespace, "reserved namespace %q", uri)
	}
	return nil
}

// endTag parses an end tag at p.pos and closes the innermost open element.
// It returns that element when it is the root.
func (p *parser) endTag() (*Element, error) {
	s := p.s
	p.pos += 2 // "</"
	qname, _, _, err := p.qname()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos >= len(s) {
		return nil, errTruncated
	}
	if s[p.pos] != '>' {
		return nil, p.errorf(ErrNotWellFormed, "expected '>' in end tag")
	}
	p.pos++
	top := p.stack[len(p.stack)-1]
	if qname != top.qname {
		return nil, p.errorf(ErrNotWellFormed, "element <%s> closed by </%s>", short(top.qname), short(qname))
	}
	p.stack[len(p.stack)-1] = frame{}
	p.stack = p.stack[:len(p.stack)-1]
	p.ns = p.ns[:top.nsMark]
	if len(p.nodes) > top.kidMark {
		top.el.Children = p.kidSlice(p.nodes[top.kidMark:])
		clear(p.nodes[top.kidMark:])
		p.nodes = p.nodes[:top.kidMark]
	}
	if len(p.stack) == 0 {
		return top.el, nil
	}
	p.nodes = append(p.nodes, top.el)
	return nil, nil
}

// qname parses a qualified name at p.pos (Namespaces in XML 1.0 QName).
func (p *parser) qname() (qname, prefix, local string, err error) {
	s := p.s
	start, colon := p.pos, -1
	i := start
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if charClass[c]&cName != 0 {
				i++
				continue
			}
			if c == ':' && colon < 0 {
				colon = i
				i++
				continue
			}
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || !isNameRune(r) {
			break
		}
		i += size
	}
	if i >= len(s) {
		return "", "", "", errTruncated
	}
	qname = s[start:i]
	local = qname
	if colon >= 0 {
		prefix, local = s[start:colon], s[colon+1:i]
		if !nameStartOK(prefix) {
			return "", "", "", p.errorf(ErrNotWellFormed, "invalid name %q", short(qname))
		}
	}
	if !nameStartOK(local) {
		if qname == "" {
			return "", "", "", p.errorf(ErrNotWellFormed, "expected name")
		}
		return "", "", "", p.errorf(ErrNotWellFormed, "invalid name %q", short(qname))
	}
	p.pos = i
	return qname, prefix, local, nil
}

// nameStartOK reports whether the non-empty name s begins with a
// NameStartChar (its other characters are known to be NameChars).
func nameStartOK(s string) bool {
	if s == "" {
		return false
	}
	if s[0] < utf8.RuneSelf {
		return charClass[s[0]]&cNameStart != 0
	}
	r, _ := utf8.DecodeRuneInString(s)
	return isNameStartRune(r)
}

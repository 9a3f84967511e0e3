package dump

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"hearth/stanza"
)

// Read reads a XEP-0227 document from r and calls fn with each user, in
// document order, as soon as its </user> is read: a dump is never held in
// memory whole. It stops at the first error of fn or of the document.
// Elements of other namespaces around users (XEP-0227 §4) are skipped;
// an <include/> (§5) is an error, since r has no location: use ReadFile.
func Read(r io.Reader, fn func(User) error) error {
	return read(r, "", 0, fn)
}

// ReadFile is Read of the file at path, which resolves XInclude
// <include href='...'/> elements (XEP-0227 §5) relative to the including
// file. Included files must lie in the directory of path or below it.
func ReadFile(path string, fn func(User) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return err
	}
	return read(f, dir, 0, fn)
}

// maxIncludeDepth bounds nested XIncludes, so that a file including
// itself fails instead of recursing forever.
const maxIncludeDepth = 8

// reader is the state of reading one file.
type reader struct {
	d     *xml.Decoder
	dir   string // base of relative includes; "" forbids includes
	depth int    // include nesting
	fn    func(User) error
}

func read(r io.Reader, dir string, depth int, fn func(User) error) error {
	rd := &reader{d: xml.NewDecoder(r), dir: dir, depth: depth, fn: fn}
	rd.d.Strict = true
	// Every element of a dump is a server-data, host or user, wherever an
	// include put it: the root tells which.
	start, err := rd.root()
	if err != nil {
		return err
	}
	switch start.Name {
	case xml.Name{Space: NS, Local: "server-data"}:
		return rd.serverData()
	case xml.Name{Space: NS, Local: "host"}:
		return rd.host(start)
	case xml.Name{Space: NS, Local: "user"}:
		return rd.user(start, "")
	}
	return fmt.Errorf("dump: root element {%s}%s is not a XEP-0227 <server-data/>", start.Name.Space, start.Name.Local)
}

// root returns the root element's start tag.
func (rd *reader) root() (xml.StartElement, error) {
	for {
		tok, err := rd.d.Token()
		if err != nil {
			if err == io.EOF {
				err = errors.New("dump: empty document")
			}
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.Directive:
			return xml.StartElement{}, errors.New("dump: DTDs are not allowed")
		}
	}
}

// children calls fn with each child element's start tag of the element
// being read, until its end tag. fn must consume the child (Skip or read
// it to its end).
func (rd *reader) children(fn func(xml.StartElement) error) error {
	for {
		tok, err := rd.d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		case xml.Directive:
			return errors.New("dump: DTDs are not allowed")
		}
	}
}

func (rd *reader) serverData() error {
	return rd.children(func(t xml.StartElement) error {
		switch t.Name {
		case xml.Name{Space: NS, Local: "host"}:
			return rd.host(t)
		case xml.Name{Space: NSXInclude, Local: "include"}:
			return rd.include(t, "")
		}
		return rd.d.Skip()
	})
}

func (rd *reader) host(start xml.StartElement) error {
	host := attr(start, "jid")
	if host == "" {
		return errors.New("dump: <host/> without 'jid'")
	}
	return rd.children(func(t xml.StartElement) error {
		switch t.Name {
		case xml.Name{Space: NS, Local: "user"}:
			return rd.user(t, host)
		case xml.Name{Space: NSXInclude, Local: "include"}:
			return rd.include(t, host)
		}
		return rd.d.Skip()
	})
}

// user reads one <user/> of host; a user file included on its own gets its
// host from the including <host/>.
func (rd *reader) user(start xml.StartElement, host string) error {
	u := User{Host: host, Name: attr(start, "name"), Password: attr(start, "password")}
	if u.Name == "" {
		return fmt.Errorf("dump: host %s: <user/> without 'name'", host)
	}
	if u.Host == "" {
		return fmt.Errorf("dump: user %s outside a <host/>", u.Name)
	}
	err := rd.children(func(t xml.StartElement) error {
		el, err := rd.element(t, 0)
		if err != nil {
			return err
		}
		if el.Name == (xml.Name{Space: NSSCRAM, Local: "scram-credentials"}) {
			ok, err := parseCredentials(el, &u.Credentials)
			if err != nil {
				return fmt.Errorf("dump: user %s@%s: %w", u.Name, host, err)
			}
			if ok {
				return nil
			}
		}
		u.Data = append(u.Data, el)
		return nil
	})
	if err != nil {
		return err
	}
	return rd.fn(u)
}

// maxDepth bounds the nesting of elements inside <user/>.
const maxDepth = 64

// element reads the element started by start, to its end, as a tree.
func (rd *reader) element(start xml.StartElement, depth int) (*stanza.Element, error) {
	if depth > maxDepth {
		return nil, errors.New("dump: elements nested too deeply")
	}
	el := &stanza.Element{Name: start.Name}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue // the encoder writes its own declarations
		}
		el.Attr = append(el.Attr, a)
	}
	for {
		tok, err := rd.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			ch, err := rd.element(t, depth+1)
			if err != nil {
				return nil, err
			}
			el.Children = append(el.Children, ch)
		case xml.CharData:
			el.Children = append(el.Children, stanza.CharData(string(t)))
		case xml.EndElement:
			return el, nil
		case xml.Directive:
			return nil, errors.New("dump: DTDs are not allowed")
		}
	}
}

// include reads the file an <include/> names, inside host (or at the top
// when host is ""), and skips the element.
func (rd *reader) include(t xml.StartElement, host string) error {
	if err := rd.d.Skip(); err != nil {
		return err
	}
	href := attr(t, "href")
	switch {
	case rd.dir == "":
		return errors.New("dump: <include/> needs a dump read from a file")
	case attr(t, "parse") != "" || attr(t, "xpointer") != "":
		return fmt.Errorf("dump: <include href=%q/>: only plain XML includes are supported", href)
	case href == "" || strings.Contains(href, ":") || filepath.IsAbs(href):
		return fmt.Errorf("dump: <include href=%q/>: want a relative path", href)
	case rd.depth >= maxIncludeDepth:
		return fmt.Errorf("dump: <include href=%q/>: includes nested too deeply", href)
	}
	path := filepath.Join(rd.dir, filepath.FromSlash(href))
	if rel, err := filepath.Rel(rd.dir, path); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("dump: <include href=%q/> leaves the dump's directory", href)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	defer f.Close()
	sub := &reader{d: xml.NewDecoder(f), dir: rd.dir, depth: rd.depth + 1, fn: rd.fn}
	sub.d.Strict = true
	start, err := sub.root()
	if err != nil {
		return fmt.Errorf("dump: %s: %w", href, err)
	}
	// Under <server-data/> a host file, under <host/> a user file, which
	// takes the host of the including element.
	switch {
	case host == "" && start.Name == (xml.Name{Space: NS, Local: "host"}):
		err = sub.host(start)
	case host != "" && start.Name == (xml.Name{Space: NS, Local: "user"}):
		err = sub.user(start, host)
	default:
		err = fmt.Errorf("unexpected root element {%s}%s", start.Name.Space, start.Name.Local)
	}
	if err != nil {
		return fmt.Errorf("dump: %s: %w", href, err)
	}
	return nil
}

// attr returns the unnamespaced attribute local of t, or "".
func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

package stanza

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// dump renders a tree canonically, independently of the encoder:
// {space}local[attrs](children), with text quoted.
func dump(e *Element) string {
	var b strings.Builder
	dumpTo(&b, e)
	return b.String()
}

func dumpTo(b *strings.Builder, e *Element) {
	if e == nil {
		b.WriteString("<nil>")
		return
	}
	b.WriteString("{" + e.Name.Space + "}" + e.Name.Local)
	if len(e.Attr) > 0 {
		b.WriteString("[")
		for i, a := range e.Attr {
			if i > 0 {
				b.WriteString(" ")
			}
			if a.Name.Space != "" {
				b.WriteString("{" + a.Name.Space + "}")
			}
			b.WriteString(a.Name.Local + "=" + quote(a.Value))
		}
		b.WriteString("]")
	}
	if len(e.Children) > 0 {
		b.WriteString("(")
		for i, c := range e.Children {
			if i > 0 {
				b.WriteString(" ")
			}
			switch c := c.(type) {
			case *Element:
				dumpTo(b, c)
			case CharData:
				b.WriteString(quote(string(c)))
			}
		}
		b.WriteString(")")
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s) + `"`
}

// decodeAll decodes every element of in (after a stream header when stream
// is true) and returns them with the error that ended decoding.
func decodeAll(t *testing.T, r io.Reader, lim Limits, stream bool) ([]*Element, error) {
	t.Helper()
	d := NewDecoder(r, lim)
	if stream {
		if _, err := d.StreamStart(); err != nil {
			return nil, err
		}
	}
	var els []*Element
	for range 10000 {
		e, err := d.Next()
		if err != nil {
			return els, err
		}
		els = append(els, e)
	}
	t.Fatal("decoder did not stop")
	return nil, nil
}

const testHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>`

// wantErr checks err against want (nil means no error).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

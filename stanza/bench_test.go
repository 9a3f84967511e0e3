package stanza

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// benchStanza is a typical chat message (about 230 bytes).
const benchStanza = `<message to='bob@example.org/phone' from='alice@example.org/laptop' type='chat' id='a1b2c3d4' xml:lang='en'><body>Hello Bob, this is a typical chat message of moderate length.</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>`

// loopReader returns head once and then body over and over.
type loopReader struct {
	head, body []byte
	pos        int
}

func (r *loopReader) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.body[r.pos:])
		n += c
		r.pos = (r.pos + c) % len(r.body)
	}
	return n, nil
}

func benchInput() *loopReader {
	return &loopReader{head: []byte(testHeader), body: bytes.Repeat([]byte(benchStanza+"\n"), 100)}
}

// BenchmarkDecode decodes a stream of chat messages; one op is one stanza.
func BenchmarkDecode(b *testing.B) {
	d := NewDecoder(benchInput(), Limits{})
	if _, err := d.StreamStart(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchStanza) + 1))
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		if _, err := d.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEncodingXML decodes the same stream with encoding/xml,
// building an equivalent tree from Decoder.Token, for comparison.
func BenchmarkDecodeEncodingXML(b *testing.B) {
	d := xml.NewDecoder(benchInput())
	if _, err := d.Token(); err != nil { // stream header
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchStanza) + 1))
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		if _, err := stdlibNext(d); err != nil {
			b.Fatal(err)
		}
	}
}

// stdlibNext reads the next top-level element with encoding/xml.
func stdlibNext(d *xml.Decoder) (*Element, error) {
	var stack []*Element
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &Element{Name: t.Name}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				if a.Name.Space == "xml" {
					a.Name.Space = NSXML
				}
				e.Attr = append(e.Attr, a)
			}
			if n := len(stack); n > 0 {
				stack[n-1].Children = append(stack[n-1].Children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return e, nil
			}
		case xml.CharData:
			if n := len(stack); n > 0 {
				stack[n-1].Children = append(stack[n-1].Children, CharData(t))
			}
		}
	}
}

func TestStdlibEquivalent(t *testing.T) {
	d := xml.NewDecoder(benchInput())
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	want, err := stdlibNext(d)
	if err != nil {
		t.Fatal(err)
	}
	els, _ := decodeAll(t, io.LimitReader(benchInput(), int64(len(testHeader+benchStanza))), Limits{}, true)
	if len(els) != 1 {
		t.Fatalf("got %d elements, want 1", len(els))
	}
	if got, want := dump(els[0]), dump(want); got != want {
		t.Errorf("hearth and encoding/xml disagree:\nhearth %s\nstdlib %s", got, want)
	}
}

func BenchmarkEncode(b *testing.B) {
	els, err := decodeAllB(benchStanza)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(benchStanza)))
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		buf = Append(buf[:0], els, NSClient)
	}
}

func decodeAllB(s string) (*Element, error) {
	d := NewDecoder(io.MultiReader(bytes.NewReader([]byte(testHeader+s))), Limits{})
	if _, err := d.StreamStart(); err != nil {
		return nil, err
	}
	return d.Next()
}

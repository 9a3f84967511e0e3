package stanza

import (
	"strings"
	"testing"
	"unsafe"
)

// within reports whether s's bytes lie inside text's.
func within(s, text string) bool {
	if s == "" || text == "" {
		return false
	}
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(text)))
	return p >= b && p < b+uintptr(len(text))
}

// TestStreamHeaderOwnsItsStrings: what a stream keeps of its header for
// its life (the header's fields, the stream's declarations and tag) does
// not share the parsed header's text, which it would keep alive.
func TestStreamHeaderOwnsItsStrings(t *testing.T) {
	header := `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='chat.example.org' from='juliet@chat.example.org' xml:lang='fr' version='1.0' xmlns:db='jabber:server:dialback' extra='x'>`
	d := NewDecoder(strings.NewReader(header+"<presence/>"), Limits{})
	h, err := d.StreamStart()
	if err != nil {
		t.Fatal(err)
	}
	text := d.w.p.s // the parser's copy of the header, until the next element
	if !strings.HasPrefix(text, "<stream:stream") {
		t.Fatalf("parser text %q, want the header", text)
	}
	kept := map[string]string{"To": h.To, "From": h.From, "Lang": h.Lang, "Version": h.Version,
		"DefaultNS": h.DefaultNS, "StreamNS": h.StreamNS, "Local": h.Local, "streamTag": d.streamTag}
	for k, v := range h.Attr {
		kept["Attr "+k] = v
	}
	for i, b := range d.streamNS {
		kept["streamNS prefix "+b.prefix] = b.prefix
		kept["streamNS uri "+string(rune('0'+i))] = b.uri
	}
	if h.To != "chat.example.org" || h.Lang != "fr" || h.Attr["xmlns:db"] != "jabber:server:dialback" {
		t.Fatalf("header %+v", h)
	}
	for k, v := range kept {
		if within(v, text) {
			t.Errorf("%s (%q) is a part of the header's text", k, v)
		}
	}
}

// TestParserIdleForgetsInput: a parser going back to the pool keeps no
// reference to its last input or to the elements it built.
func TestParserIdleForgetsInput(t *testing.T) {
	var p parser
	p.lim = Limits{MaxStanzaBytes: DefaultMaxStanzaBytes, MaxDepth: DefaultMaxDepth, MaxAttrs: DefaultMaxAttrs}
	p.reset(`<message xmlns:x='urn:x' to='a@b' id='1'><body>hi</body><x:y a='b'/></message>`, 0, nil)
	if _, err := p.element(0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if cap(p.stack) == 0 || cap(p.raw) == 0 || cap(p.ns) == 0 {
		t.Fatalf("the parse used no scratch: stack %d raw %d ns %d", cap(p.stack), cap(p.raw), cap(p.ns))
	}
	p.idle()
	if p.s != "" || p.scope != nil {
		t.Error("idle parser keeps its input or scope")
	}
	for _, f := range p.stack[:cap(p.stack)] {
		if f != (frame{}) {
			t.Errorf("idle parser keeps frame %+v", f)
		}
	}
	for _, a := range p.raw[:cap(p.raw)] {
		if a != (rawAttr{}) {
			t.Errorf("idle parser keeps attribute %+v", a)
		}
	}
	for _, b := range p.ns[:cap(p.ns)] {
		if b != (binding{}) {
			t.Errorf("idle parser keeps declaration %+v", b)
		}
	}
	for _, n := range p.nodes[:cap(p.nodes)] {
		if n != nil {
			t.Errorf("idle parser keeps node %+v", n)
		}
	}
}

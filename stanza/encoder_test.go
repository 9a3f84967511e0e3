package stanza

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name     string
		el       *Element
		parentNS string
		want     string
	}{
		{
			name:     "same namespace as parent",
			el:       New(NSClient, "presence"),
			parentNS: NSClient,
			want:     `<presence/>`,
		},
		{
			name:     "namespace changes",
			el:       New(NSClient, "iq", "type", "get").Append(New("jabber:iq:roster", "query").Append(New("jabber:iq:roster", "item", "jid", "a@b"))),
			parentNS: NSClient,
			want:     `<iq type="get"><query xmlns="jabber:iq:roster"><item jid="a@b"/></query></iq>`,
		},
		{
			name:     "declares own namespace at top",
			el:       New(NSClient, "message"),
			parentNS: "",
			want:     `<message xmlns="jabber:client"/>`,
		},
		{
			name:     "empty namespace inside default",
			el:       New(NSClient, "message").Append(New("", "x")),
			parentNS: NSClient,
			want:     `<message><x xmlns=""/></message>`,
		},
		{
			name: "escaping",
			el:   New("", "a", "v", "<&\"'>\t\n\r").AppendText("<&>\"' ]]> \r\t\n"),
			want: `<a v="&lt;&amp;&quot;'>&#x9;&#xA;&#xD;">&lt;&amp;&gt;"' ]]&gt; &#xD;` + "\t\n</a>",
		},
		{
			name: "invalid characters replaced",
			el:   New("", "a", "v", "x\x00y\xff").AppendText("\x01\xed\xa0\x80\uFFFE ok é"),
			want: "<a v=\"x\uFFFDy\uFFFD\">\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD ok é</a>",
		},
		{
			name: "xml:lang and namespaced attributes",
			el: &Element{Name: xml.Name{Local: "a"}, Attr: []xml.Attr{
				{Name: xml.Name{Space: NSXML, Local: "lang"}, Value: "en"},
				{Name: xml.Name{Space: "urn:x", Local: "p"}, Value: "1"},
				{Name: xml.Name{Space: "urn:y", Local: "q"}, Value: "2"},
				{Name: xml.Name{Space: "urn:x", Local: "r"}, Value: "3"},
				{Name: xml.Name{Local: "xmlns"}, Value: "skipped"},
				{Name: xml.Name{Space: "http://www.w3.org/2000/xmlns/", Local: "z"}, Value: "skipped"},
			}},
			want: `<a xml:lang="en" xmlns:ns0="urn:x" ns0:p="1" xmlns:ns1="urn:y" ns1:q="2" ns0:r="3"/>`,
		},
		{
			name:     "stream elements use the stream prefix",
			el:       New(NSStream, "features").Append(New("urn:ietf:params:xml:ns:xmpp-bind", "bind"), New(NSStream, "x")),
			parentNS: NSClient,
			want:     `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><stream:x/></stream:features>`,
		},
		{
			name:     "nil children skipped",
			el:       &Element{Name: xml.Name{Space: NSClient, Local: "a"}, Children: []Node{(*Element)(nil), nil, CharData("x")}},
			parentNS: NSClient,
			want:     `<a>x</a>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Append(nil, tt.el, tt.parentNS)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	e := New(NSClient, "message", "to", "a@b").Append(New(NSClient, "body").AppendText("hi"))
	if got, want := e.String(), `<message xmlns="jabber:client" to="a@b"><body>hi</body></message>`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestRoundTrip checks decode → encode → decode gives the same tree and
// encode is then stable.
func TestRoundTrip(t *testing.T) {
	tests := []struct{ name, in string }{
		{"chat message", benchStanza},
		{"prefixes", `<iq xmlns:a='urn:a' xmlns:b='urn:b'><a:x b:y='1' a:z='2' y='3'><b:w xml:lang='en'/></a:x></iq>`},
		{"undeclared default", `<message><x xmlns=''><y/></x></message>`},
		{"escapes", "<message a='&lt;&amp;&quot;&apos;&#9;&#10;&#13;'>&lt;&amp;&gt;&#13;\r\n\t<![CDATA[]]>]]&gt;<![CDATA[a]]]]><![CDATA[>]]></message>"},
		{"stream elements", `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`},
		{"stream error", `<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`},
		{"unicode", `<message><body>日本語 😀</body></message>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			els, err := decodeAll(t, strings.NewReader(testHeader+tt.in), Limits{}, true)
			if len(els) != 1 {
				t.Fatalf("decode: %v", err)
			}
			enc := Append(nil, els[0], NSClient)
			again, err := decodeAll(t, strings.NewReader(testHeader+string(enc)), Limits{}, true)
			if len(again) != 1 {
				t.Fatalf("decode of %s: %v", enc, err)
			}
			if got, want := dump(again[0]), dump(els[0]); got != want {
				t.Errorf("round trip changed tree:\ngot  %s\nwant %s\nvia  %s", got, want, enc)
			}
			if enc2 := Append(nil, again[0], NSClient); string(enc2) != string(enc) {
				t.Errorf("encoding not stable:\nfirst  %s\nsecond %s", enc, enc2)
			}
		})
	}
}

func TestAppendStreamHeader(t *testing.T) {
	tests := []struct {
		name string
		h    StreamHeader
		decl bool
		want string
	}{
		{
			name: "server reply",
			h:    StreamHeader{From: "example.org", ID: "s1", Version: "1.0", Lang: "en", DefaultNS: NSClient},
			decl: true,
			want: `<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" from="example.org" id="s1" version="1.0" xml:lang="en">`,
		},
		{
			name: "extra attributes sorted, duplicates skipped",
			h:    StreamHeader{DefaultNS: NSServer, Attr: map[string]string{"xmlns:db": "jabber:server:dialback", "xmlns:stream": "x", "to": "x", "a": `"<`}},
			want: `<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams" a="&quot;&lt;" xmlns:db="jabber:server:dialback">`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendStreamHeader(nil, tt.h, tt.decl))
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			d := NewDecoder(strings.NewReader(got), Limits{})
			if _, err := d.StreamStart(); err != nil {
				t.Errorf("decoding the header: %v", err)
			}
		})
	}
}

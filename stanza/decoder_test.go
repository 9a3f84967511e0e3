package stanza

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestDecodeStanzas(t *testing.T) {
	tests := []struct {
		name string
		in   string // stanzas inside testHeader
		want []string
	}{
		{
			name: "message",
			in:   `<message to='bob@example.org' type='chat' id='1' xml:lang='en'><body>Hi &amp; bye &lt;3 &#x1F600;&#65;</body></message>`,
			want: []string{`{jabber:client}message[to="bob@example.org" type="chat" id="1" {http://www.w3.org/XML/1998/namespace}lang="en"]({jabber:client}body("Hi & bye <3 😀A"))`},
		},
		{
			name: "iq with payload namespace",
			in:   `<iq type="get" id="r1"><query xmlns="jabber:iq:roster"/></iq>`,
			want: []string{`{jabber:client}iq[type="get" id="r1"]({jabber:iq:roster}query)`},
		},
		{
			name: "presence and whitespace keepalives",
			in:   "\n \t\r\n<presence/>  \n<presence type='unavailable'/> ",
			want: []string{`{jabber:client}presence`, `{jabber:client}presence[type="unavailable"]`},
		},
		{
			name: "stream prefix from header",
			in:   `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
			want: []string{`{http://etherx.jabber.org/streams}features({urn:ietf:params:xml:ns:xmpp-bind}bind)`},
		},
		{
			name: "prefixed element and attribute",
			in:   `<message xmlns:x='urn:x'><x:foo x:a='1' b='2'><bar/></x:foo></message>`,
			want: []string{`{jabber:client}message({urn:x}foo[{urn:x}a="1" b="2"]({jabber:client}bar))`},
		},
		{
			name: "default namespace undeclared",
			in:   `<message><x xmlns=''><y/></x></message>`,
			want: []string{`{jabber:client}message({}x({}y))`},
		},
		{
			name: "redeclared prefix shadows",
			in:   `<iq xmlns:p='urn:a'><p:a><p:b xmlns:p='urn:b'/><p:c/></p:a></iq>`,
			want: []string{`{jabber:client}iq({urn:a}a({urn:b}b {urn:a}c))`},
		},
		{
			name: "CDATA merged with text",
			in:   `<message><body>a<![CDATA[<b>&amp;]]>c</body></message>`,
			want: []string{`{jabber:client}message({jabber:client}body("a<b>&amp;c"))`},
		},
		{
			name: "line ends and attribute normalization",
			in:   "<message a='x\ty\r\nz' b='&#9;&#xA;'><body>1\r\n2\r3</body></message>",
			want: []string{`{jabber:client}message[a="x y z" b="\t\n"]({jabber:client}body("1\n2\n3"))`},
		},
		{
			name: "mixed content and quotes",
			in:   `<message><body a="it's" b='say "hi"'>x<i>y</i>z &gt; ]] ></body></message>`,
			want: []string{`{jabber:client}message({jabber:client}body[a="it's" b="say \"hi\""]("x" {jabber:client}i("y") "z > ]] >"))`},
		},
		{
			name: "space around equals and in end tag",
			in:   "<message to = 'a'\n></message\n>",
			want: []string{`{jabber:client}message[to="a"]`},
		},
		{
			name: "non-ASCII names and text",
			in:   `<message><é xmlns='urn:ü'>日本語</é></message>`,
			want: []string{`{jabber:client}message({urn:ü}é("日本語"))`},
		},
		{
			name: "xml prefix declared explicitly",
			in:   `<message xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='de'/>`,
			want: []string{`{jabber:client}message[{http://www.w3.org/XML/1998/namespace}lang="de"]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			els, err := decodeAll(t, strings.NewReader(testHeader+tt.in+"</stream:stream>"), Limits{}, true)
			wantErr(t, err, ErrStreamEnd)
			if len(els) != len(tt.want) {
				t.Fatalf("got %d elements, want %d", len(els), len(tt.want))
			}
			for i, e := range els {
				if got := dump(e); got != tt.want[i] {
					t.Errorf("element %d:\ngot  %s\nwant %s", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestStreamStart(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    StreamHeader
		wantErr error
	}{
		{
			name: "client stream with declaration",
			in:   `<?xml version='1.0' encoding="utf-8"?>` + `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' from='a@example.org' version='1.0' xml:lang='en' id='x1' foo='bar'>`,
			want: StreamHeader{To: "example.org", From: "a@example.org", ID: "x1", Version: "1.0", Lang: "en", DefaultNS: NSClient, StreamNS: NSStream, Local: "stream",
				Attr: map[string]string{"xmlns:stream": NSStream, "foo": "bar"}},
		},
		{
			name: "server stream with dialback",
			in:   `<stream:stream xmlns:db='jabber:server:dialback' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>`,
			want: StreamHeader{DefaultNS: NSServer, StreamNS: NSStream, Local: "stream",
				Attr: map[string]string{"xmlns:stream": NSStream, "xmlns:db": "jabber:server:dialback"}},
		},
		{
			name: "other name is reported, not checked",
			in:   `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org'>`,
			want: StreamHeader{To: "example.org", DefaultNS: "urn:ietf:params:xml:ns:xmpp-framing", StreamNS: "urn:ietf:params:xml:ns:xmpp-framing", Local: "open"},
		},
		{name: "unbound stream prefix", in: `<stream:stream xmlns='jabber:client'>`, wantErr: ErrBadNamespace},
		{name: "declaration after white space", in: ` <?xml version='1.0'?><stream:stream>`, wantErr: ErrRestricted},
		{name: "bad declaration version", in: `<?xml version='2.0'?><a>`, wantErr: ErrNotWellFormed},
		{name: "declaration with other encoding", in: `<?xml version='1.0' encoding='ISO-8859-1'?><a>`, wantErr: ErrNotWellFormed},
		{name: "declaration without version", in: `<?xml encoding='UTF-8'?><a>`, wantErr: ErrNotWellFormed},
		{name: "two declarations", in: `<?xml version='1.0'?><?xml version='1.0'?><a>`, wantErr: ErrRestricted},
		{name: "stylesheet PI", in: `<?xml-stylesheet href='a'?><a>`, wantErr: ErrRestricted},
		{name: "DTD", in: `<!DOCTYPE a><a>`, wantErr: ErrRestricted},
		{name: "comment", in: `<!-- hi --><a>`, wantErr: ErrRestricted},
		{name: "text", in: `hello<a>`, wantErr: ErrNotWellFormed},
		{name: "end tag", in: `</a>`, wantErr: ErrNotWellFormed},
		{name: "empty input", in: ``, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated header", in: `<stream:stream xmlns='jabber:client'`, wantErr: io.ErrUnexpectedEOF},
		{name: "malformed header", in: `<stream:stream a=b>`, wantErr: ErrNotWellFormed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tt.in), Limits{})
			h, err := d.StreamStart()
			wantErr(t, err, tt.wantErr)
			if tt.wantErr != nil {
				return
			}
			if got, want := fmtHeader(h), fmtHeader(tt.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if got, want := d.InputOffset(), int64(len(tt.in)); got != want {
				t.Errorf("InputOffset = %d, want %d", got, want)
			}
		})
	}
}

func fmtHeader(h StreamHeader) string {
	var b strings.Builder
	b.WriteString(strings.Join([]string{h.To, h.From, h.ID, h.Version, h.Lang, h.DefaultNS, h.StreamNS, h.Local}, "|"))
	for _, k := range sortedKeys(h.Attr) {
		b.WriteString(" " + k + "=" + h.Attr[k])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

func TestStreamLifecycle(t *testing.T) {
	t.Run("empty stream element", func(t *testing.T) {
		els, err := decodeAll(t, strings.NewReader(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>`), Limits{}, true)
		wantErr(t, err, ErrStreamEnd)
		if len(els) != 0 {
			t.Errorf("got %d elements, want 0", len(els))
		}
	})
	t.Run("end of input inside stream", func(t *testing.T) {
		els, err := decodeAll(t, strings.NewReader(testHeader+"<presence/> "), Limits{}, true)
		wantErr(t, err, io.ErrUnexpectedEOF)
		if len(els) != 1 {
			t.Errorf("got %d elements, want 1", len(els))
		}
	})
	t.Run("wrong stream end tag", func(t *testing.T) {
		_, err := decodeAll(t, strings.NewReader(testHeader+"</stream:other>"), Limits{}, true)
		wantErr(t, err, ErrNotWellFormed)
	})
	t.Run("end tag with space", func(t *testing.T) {
		_, err := decodeAll(t, strings.NewReader(testHeader+"</stream:stream \n>"), Limits{}, true)
		wantErr(t, err, ErrStreamEnd)
	})
	t.Run("errors are final", func(t *testing.T) {
		d := NewDecoder(strings.NewReader(testHeader+"<a><!--x--></a><presence/>"), Limits{})
		if _, err := d.StreamStart(); err != nil {
			t.Fatal(err)
		}
		_, err1 := d.Next()
		_, err2 := d.Next()
		wantErr(t, err1, ErrRestricted)
		if err2 != err1 {
			t.Errorf("second Next: got %v, want %v", err2, err1)
		}
	})
	t.Run("StreamStart again restarts", func(t *testing.T) {
		d := NewDecoder(strings.NewReader(testHeader+"<auth/>\n<?xml version='1.0'?>"+
			`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'><iq/>`), Limits{})
		if _, err := d.StreamStart(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
		h, err := d.StreamStart()
		if err != nil {
			t.Fatalf("second StreamStart: %v", err)
		}
		if h.DefaultNS != NSServer {
			t.Errorf("DefaultNS = %q, want %q", h.DefaultNS, NSServer)
		}
		e, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dump(e), "{jabber:server}iq"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("StreamStart inside an element", func(t *testing.T) {
		d := NewDecoder(&flakyReader{r: strings.NewReader(testHeader + "<presence><x/></presence>")}, Limits{})
		for {
			if _, err := d.StreamStart(); err == nil {
				break
			}
		}
		if _, err := d.Next(); err == nil {
			t.Fatal("Next succeeded on the first read")
		}
		if _, err := d.Next(); err == nil {
			t.Fatal("Next succeeded before the timeout")
		}
		if _, err := d.StreamStart(); err == nil || !strings.Contains(err.Error(), "inside an element") {
			t.Errorf("StreamStart mid-element: got %v, want an error", err)
		}
	})
	t.Run("Reset", func(t *testing.T) {
		d := NewDecoder(strings.NewReader(testHeader+"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><junk"), Limits{})
		if _, err := d.StreamStart(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
		if got := d.Buffered(); got != len("<junk") {
			t.Errorf("Buffered = %d, want %d", got, len("<junk"))
		}
		d.Reset(strings.NewReader(`<?xml version='1.0'?>` + testHeader + "<presence/>"))
		if _, err := d.StreamStart(); err != nil {
			t.Fatalf("StreamStart after Reset: %v", err)
		}
		e, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dump(e), "{jabber:client}presence"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("Restart keeps buffered header", func(t *testing.T) {
		d := NewDecoder(strings.NewReader(testHeader+"<auth/>"+testHeader+"<iq/>"), Limits{})
		if _, err := d.StreamStart(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
		d.Restart()
		if _, err := d.StreamStart(); err != nil {
			t.Fatalf("StreamStart after Restart: %v", err)
		}
		e, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dump(e), "{jabber:client}iq"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestStandalone(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{name: "framing open", in: `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0" />`,
			want: []string{`{urn:ietf:params:xml:ns:xmpp-framing}open[to="example.com" version="1.0"]`}, wantErr: io.EOF},
		{name: "no inherited namespace", in: `<message><body>x</body></message>`,
			want: []string{`{}message({}body("x"))`}, wantErr: io.EOF},
		{name: "declaration per document", in: `<?xml version='1.0'?><a/><?xml version="1.0"?><b/>` + "\n",
			want: []string{`{}a`, `{}b`}, wantErr: io.EOF},
		{name: "stray end tag", in: `<a/></a>`, want: []string{`{}a`}, wantErr: ErrNotWellFormed},
		{name: "truncated element", in: `<a><b/>`, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated after lt", in: `<`, wantErr: io.ErrUnexpectedEOF},
		{name: "empty", in: "", wantErr: io.EOF},
		{name: "only white space", in: " \n", wantErr: io.EOF},
		{name: "stream prefix unbound", in: `<stream:features/>`, wantErr: ErrBadNamespace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			els, err := decodeAll(t, strings.NewReader(tt.in), Limits{}, false)
			wantErr(t, err, tt.wantErr)
			if len(els) != len(tt.want) {
				t.Fatalf("got %d elements, want %d", len(els), len(tt.want))
			}
			for i, e := range els {
				if got := dump(e); got != tt.want[i] {
					t.Errorf("element %d: got %s, want %s", i, got, tt.want[i])
				}
			}
		})
	}
}

// rejectTests are inputs (inside a client stream) that must be refused.
var rejectTests = []struct {
	name string
	in   string
	want error
}{
	{"comment", `<message><!-- x --></message>`, ErrRestricted},
	{"comment at stream level", `<!-- x -->`, ErrRestricted},
	{"processing instruction", `<message><?php x ?></message>`, ErrRestricted},
	{"XML declaration mid-stream", `<?xml version='1.0'?><message/>`, ErrRestricted},
	{"DTD", `<!DOCTYPE message [<!ENTITY x "y">]><message/>`, ErrRestricted},
	{"internal DTD in element", `<message><!DOCTYPE x></message>`, ErrRestricted},
	{"undefined entity", `<message><body>&foo;</body></message>`, ErrRestricted},
	{"entity in attribute", `<message to='&foo;'/>`, ErrRestricted},
	{"unterminated reference", `<message><body>&amp x</body></message>`, ErrNotWellFormed},
	{"bare ampersand", `<message><body>a & b</body></message>`, ErrNotWellFormed},
	{"char ref to NUL", `<message><body>&#0;</body></message>`, ErrNotWellFormed},
	{"char ref to surrogate", `<message><body>&#xD800;</body></message>`, ErrNotWellFormed},
	{"char ref too large", `<message><body>&#x110000;</body></message>`, ErrNotWellFormed},
	{"char ref huge", `<message><body>&#99999999999999999999;</body></message>`, ErrNotWellFormed},
	{"char ref not digits", `<message><body>&#x12g;</body></message>`, ErrNotWellFormed},
	{"empty char ref", `<message><body>&#;</body></message>`, ErrNotWellFormed},
	{"invalid UTF-8 in text", "<message><body>\xff</body></message>", ErrNotWellFormed},
	{"invalid UTF-8 in attribute", "<message to='\xc3'/>", ErrNotWellFormed},
	{"overlong UTF-8", "<message><body>\xc0\xaf</body></message>", ErrNotWellFormed},
	{"encoded surrogate", "<message><body>\xed\xa0\x80</body></message>", ErrNotWellFormed},
	{"control character", "<message><body>\x01</body></message>", ErrNotWellFormed},
	{"control character in attribute", "<message to='\x1b'/>", ErrNotWellFormed},
	{"U+FFFE", "<message><body>\xef\xbf\xbe</body></message>", ErrNotWellFormed},
	{"NUL", "<message>\x00</message>", ErrNotWellFormed},
	{"mismatched tags", `<message><body></message></body>`, ErrNotWellFormed},
	{"mismatched prefix", `<message xmlns:a='urn:x' xmlns:b='urn:x'><a:x></b:x></message>`, ErrNotWellFormed},
	{"duplicate attribute", `<message to='a' to='b'/>`, ErrNotWellFormed},
	{"duplicate after resolution", `<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>`, ErrNotWellFormed},
	{"duplicate xmlns", `<message xmlns='a' xmlns='b'/>`, ErrNotWellFormed},
	{"lt in attribute", `<message to='a<b'/>`, ErrNotWellFormed},
	{"unquoted attribute", `<message to=a/>`, ErrNotWellFormed},
	{"attribute without value", `<message to/>`, ErrNotWellFormed},
	{"attributes without space", `<message a='1'b='2'/>`, ErrNotWellFormed},
	{"unterminated tag", `<message <body/>`, ErrNotWellFormed},
	{"space after lt", `< message/>`, ErrNotWellFormed},
	{"name starting with digit", `<1message/>`, ErrNotWellFormed},
	{"two colons", `<a:b:c xmlns:a='x'/>`, ErrNotWellFormed},
	{"empty prefix", `<:a/>`, ErrNotWellFormed},
	{"empty local", `<a: xmlns:a='x'/>`, ErrNotWellFormed},
	{"slash not before gt", `<message / >`, ErrNotWellFormed},
	{"CDATA end in text", `<message>]]></message>`, ErrNotWellFormed},
	{"text at stream level", `hello`, ErrNotWellFormed},
	{"reference at stream level", `&#32;`, ErrNotWellFormed},
	{"CDATA at stream level", `<![CDATA[ ]]>`, ErrNotWellFormed},
	{"bad markup", `<message><!x></message>`, ErrNotWellFormed},
	{"bad CDATA opener", `<message><![CDATX[x]]></message>`, ErrNotWellFormed},
	{"data after end tag name", `<message></message x>`, ErrNotWellFormed},
	{"unbound element prefix", `<foo:message/>`, ErrBadNamespace},
	{"unbound attribute prefix", `<message foo:to='x'/>`, ErrBadNamespace},
	{"xmlns prefix on element", `<xmlns:a/>`, ErrBadNamespace},
	{"declare xmlns prefix", `<message xmlns:xmlns='urn:x'/>`, ErrBadNamespace},
	{"undeclare prefix", `<message xmlns:a=''/>`, ErrBadNamespace},
	{"rebind xml prefix", `<message xmlns:xml='urn:x'/>`, ErrBadNamespace},
	{"bind xml namespace", `<message xmlns:a='http://www.w3.org/XML/1998/namespace'/>`, ErrBadNamespace},
	{"default xml namespace", `<message xmlns='http://www.w3.org/XML/1998/namespace'/>`, ErrBadNamespace},
	{"prefix out of scope", `<message><a xmlns:p='urn:x'/><p:b/></message>`, ErrBadNamespace},
}

func TestReject(t *testing.T) {
	for _, tt := range rejectTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(t, strings.NewReader(testHeader+tt.in+"<presence/></stream:stream>"), Limits{}, true)
			wantErr(t, err, tt.want)
			if StreamErrorFor(err) == nil {
				t.Errorf("StreamErrorFor(%v) = nil", err)
			}
		})
	}
}

// TestRejectEarly checks that errors the scanner can see are reported
// without waiting for the element to end: the reader blocks forever after
// the offending input.
func TestRejectEarly(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"comment", `<message><!--`, ErrRestricted},
		{"PI", `<message><?x`, ErrRestricted},
		{"mismatched end tag", `<message><body></message>`, ErrNotWellFormed},
		{"lt in attribute", `<message to='<`, ErrNotWellFormed},
		{"earlier error wins", `<message><body>&foo;</body><!--`, ErrRestricted},
		{"earlier well-formedness error wins", "<message><body>\x01</body><!--", ErrNotWellFormed},
		{"too deep", strings.Repeat("<a>", 65), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := io.MultiReader(strings.NewReader(testHeader+tt.in), blockingReader{})
			done := make(chan error, 1)
			go func() {
				d := NewDecoder(r, Limits{})
				if _, err := d.StreamStart(); err != nil {
					done <- err
					return
				}
				_, err := d.Next()
				done <- err
			}()
			select {
			case err := <-done:
				wantErr(t, err, tt.want)
			case <-time.After(5 * time.Second):
				t.Fatal("decoder waited for more input")
			}
		})
	}
}

// blockingReader never returns.
type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }

func TestLimits(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("<a>", n) + strings.Repeat("</a>", n) }
	attrs := func(n int) string {
		var b strings.Builder
		b.WriteString("<a")
		for i := range n {
			b.WriteString(" a" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "='x'")
		}
		return b.String() + "/>"
	}
	small := Limits{MaxStanzaBytes: 100, MaxDepth: 3, MaxAttrs: 2}
	tests := []struct {
		name string
		lim  Limits
		in   string
		want error
	}{
		{"default depth ok", Limits{}, nest(64), nil},
		{"default depth exceeded", Limits{}, nest(65), ErrTooLarge},
		{"default attrs ok", Limits{}, attrs(64), nil},
		{"default attrs exceeded", Limits{}, attrs(65), ErrTooLarge},
		{"namespace declarations count", small, `<a xmlns='x' xmlns:p='y' b='1'/>`, ErrTooLarge},
		{"attrs ok", small, `<a xmlns='x' b='1'/>`, nil},
		{"depth ok", small, nest(3), nil},
		{"depth exceeded", small, nest(4), ErrTooLarge},
		{"size ok", small, "<a>" + strings.Repeat("x", 93) + "</a>", nil},
		{"size exceeded", small, "<a>" + strings.Repeat("x", 94) + "</a>", ErrTooLarge},
		{"default size exceeded", Limits{}, "<a>" + strings.Repeat("x", 256<<10) + "</a>", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			els, err := decodeAll(t, strings.NewReader(tt.in), tt.lim, false)
			if tt.want == nil {
				wantErr(t, err, io.EOF)
				if len(els) != 1 {
					t.Errorf("got %d elements, want 1", len(els))
				}
				return
			}
			wantErr(t, err, tt.want)
		})
	}
}

// endlessReader returns prefix, then repeats fill forever, counting bytes.
type endlessReader struct {
	prefix string
	fill   byte
	n      int64
}

func (r *endlessReader) Read(p []byte) (int, error) {
	if r.prefix != "" {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		r.n += int64(n)
		return n, nil
	}
	p = p[:min(len(p), 1000)]
	for i := range p {
		p[i] = r.fill
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestBoundedMemory(t *testing.T) {
	const limit = 10000
	tests := []struct {
		name   string
		prefix string
		fill   byte
	}{
		{"endless start tag", "<message", ' '},
		{"endless name", "<m", 'm'},
		{"endless attribute value", "<message to='", 'a'},
		{"endless text", "<message>", 'a'},
		{"endless end tag", "<message></message", ' '},
		{"endless CDATA", "<message><![CDATA[", ']'},
		{"endless stream end tag", "</stream:stream", ' '},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &endlessReader{prefix: testHeader + tt.prefix, fill: tt.fill}
			d := NewDecoder(r, Limits{MaxStanzaBytes: limit})
			if _, err := d.StreamStart(); err != nil {
				t.Fatal(err)
			}
			_, err := d.Next()
			wantErr(t, err, ErrTooLarge)
			if r.n > int64(len(testHeader))+2*limit {
				t.Errorf("read %d bytes, want at most about %d", r.n, limit)
			}
			if cap(d.buf) > limit+1 {
				t.Errorf("buffer grew to %d bytes, limit %d", cap(d.buf), limit)
			}
		})
	}
	t.Run("endless keepalive white space", func(t *testing.T) {
		r := io.LimitReader(&endlessReader{prefix: testHeader, fill: ' '}, 5<<20)
		d := NewDecoder(r, Limits{MaxStanzaBytes: limit})
		if _, err := d.StreamStart(); err != nil {
			t.Fatal(err)
		}
		_, err := d.Next()
		wantErr(t, err, io.ErrUnexpectedEOF)
		if got, want := d.InputOffset(), int64(5<<20); got != want {
			t.Errorf("InputOffset = %d, want %d", got, want)
		}
		if cap(d.buf) > minBufSize {
			t.Errorf("buffer grew to %d bytes for white space", cap(d.buf))
		}
	})
}

// oneByteReader returns at most one byte per Read.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestFragmentedStream feeds a stream one byte per Read through a pipe and
// checks every element is returned before the writer sends any byte of the
// next one.
func TestFragmentedStream(t *testing.T) {
	stanzas := []string{
		`<message to='bob@example.org' id='1'><body>a &amp; b</body></message>`,
		`<iq type='get' id='2'><query xmlns='jabber:iq:roster'/></iq>`,
		`<presence/>`,
		`<message><body><![CDATA[x]]>]]&gt;</body></message>`,
		`<stream:features><a xmlns='urn:a'><b c="d'>"/></a></stream:features>`,
	}
	pr, pw := io.Pipe()
	acks := make(chan struct{})
	go func() {
		write := func(s string) bool {
			_, err := pw.Write([]byte(s))
			return err == nil
		}
		if !write(testHeader) {
			return
		}
		for _, s := range stanzas {
			if !write(s) {
				return
			}
			select {
			case <-acks:
			case <-time.After(5 * time.Second):
				pw.CloseWithError(errors.New("element not returned before the next was written"))
				return
			}
			if !write(" \n") { // keepalive
				return
			}
		}
		write("</stream:stream>")
		// No Close: the decoder must not need the end of input.
	}()
	d := NewDecoder(oneByteReader{pr}, Limits{})
	if _, err := d.StreamStart(); err != nil {
		t.Fatal(err)
	}
	for i, s := range stanzas {
		e, err := d.Next()
		if err != nil {
			t.Fatalf("stanza %d: %v", i, err)
		}
		want, err := decodeAll(t, strings.NewReader(testHeader+s), Limits{}, true)
		if len(want) != 1 {
			t.Fatalf("reference decode of %d: %v", i, err)
		}
		if got, want := dump(e), dump(want[0]); got != want {
			t.Errorf("stanza %d: got %s, want %s", i, got, want)
		}
		acks <- struct{}{}
	}
	_, err := d.Next()
	wantErr(t, err, ErrStreamEnd)
	pr.Close()
}

// TestFragmentation decodes the same inputs whole and in every
// fragmentation testing/iotest offers and expects identical results.
func TestFragmentation(t *testing.T) {
	var inputs []string
	for _, tt := range rejectTests {
		inputs = append(inputs, testHeader+tt.in+"<presence/></stream:stream>")
	}
	inputs = append(inputs, testHeader+benchStanza+benchStanza+"</stream:stream>")
	for i, in := range inputs {
		whole, werr := decodeAll(t, strings.NewReader(in), Limits{}, true)
		readers := map[string]io.Reader{
			"one byte": iotest.OneByteReader(strings.NewReader(in)),
			"half":     iotest.HalfReader(strings.NewReader(in)),
			"data+EOF": iotest.DataErrReader(strings.NewReader(in)),
		}
		for name, r := range readers {
			got, gerr := decodeAll(t, r, Limits{}, true)
			if errString(gerr) != errString(werr) {
				t.Errorf("input %d, %s: got error %v, want %v", i, name, gerr, werr)
			}
			if len(got) != len(whole) {
				t.Errorf("input %d, %s: got %d elements, want %d", i, name, len(got), len(whole))
				continue
			}
			for j := range got {
				if dump(got[j]) != dump(whole[j]) {
					t.Errorf("input %d, %s, element %d: got %s, want %s", i, name, j, dump(got[j]), dump(whole[j]))
				}
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// flakyReader fails with a timeout every other Read.
type flakyReader struct {
	r    io.Reader
	fail bool
}

type timeoutError struct{}

func (timeoutError) Error() string { return "i/o timeout" }
func (timeoutError) Timeout() bool { return true }

func (f *flakyReader) Read(p []byte) (int, error) {
	f.fail = !f.fail
	if f.fail {
		return 0, timeoutError{}
	}
	return f.r.Read(p[:min(len(p), 7)])
}

func TestReaderErrorsAreNotFinal(t *testing.T) {
	in := testHeader + benchStanza + "<presence/></stream:stream>"
	d := NewDecoder(&flakyReader{r: strings.NewReader(in)}, Limits{})
	var got []string
	for range 1000 {
		var err error
		if len(got) == 0 && d.streamTag == "" {
			_, err = d.StreamStart()
			if err == nil {
				got = append(got, "header")
			}
		} else {
			var e *Element
			e, err = d.Next()
			if err == nil {
				got = append(got, e.Name.Local)
			}
		}
		if errors.Is(err, ErrStreamEnd) {
			break
		}
		if err != nil {
			if _, ok := err.(timeoutError); !ok {
				t.Fatalf("unexpected error %v", err)
			}
			if se := StreamErrorFor(err); se == nil || se.Condition != "connection-timeout" {
				t.Errorf("StreamErrorFor(timeout) = %v, want connection-timeout", se)
			}
		}
	}
	if want := "header message presence"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
}

func TestDecodedSlicesAreIndependent(t *testing.T) {
	els, _ := decodeAll(t, strings.NewReader(`<a x='1'><b y='2'/><c z='3'/></a>`), Limits{}, false)
	a := els[0]
	b, c := a.Elements()[0], a.Elements()[1]
	b.Attr = append(b.Attr, c.Attr[0])
	a.Children = append(a.Children, CharData("t"))
	b.Set("y", "changed")
	if got, want := dump(c), `{}c[z="3"]`; got != want {
		t.Errorf("sibling changed: got %s, want %s", got, want)
	}
	if got, want := dump(a), `{}a[x="1"]({}b[y="changed" z="3"] {}c[z="3"] "t")`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestInputOffset(t *testing.T) {
	in := testHeader + " <presence/>\n<iq/>"
	d := NewDecoder(bytes.NewReader([]byte(in)), Limits{})
	if _, err := d.StreamStart(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{len(testHeader + " <presence/>"), len(in)} {
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
		if got := d.InputOffset(); got != int64(want) {
			t.Errorf("InputOffset = %d, want %d", got, want)
		}
	}
}

// TestDecoderIdleHoldsNoBuffer: once an element is read and nothing more is
// buffered, the decoder gives its buffer back, and it waits for the next
// input in its peek array, so an idle connection holds no buffer.
func TestDecoderIdleHoldsNoBuffer(t *testing.T) {
	pr, pw := io.Pipe()
	d := NewDecoder(pr, Limits{})
	go pw.Write([]byte(testHeader + "<message><body>one</body></message>"))
	if _, err := d.StreamStart(); err != nil {
		t.Fatal(err)
	}
	el, err := d.Next()
	if err != nil || el.ChildText("", "body") != "one" {
		t.Fatalf("Next = %v, %v", el, err)
	}
	if d.buf != nil || d.w != nil {
		t.Fatalf("idle decoder holds a %d-byte buffer", cap(d.buf))
	}
	// Input larger than the peek array, arriving while idle.
	big := "<message><body>" + strings.Repeat("x", 3*peekSize) + "</body></message>"
	go pw.Write([]byte(big + "<iq type='get' id='1'/>"))
	if el, err = d.Next(); err != nil || len(el.ChildText("", "body")) != 3*peekSize {
		t.Fatalf("Next = %v, %v", el, err)
	}
	if el, err = d.Next(); err != nil || el.Get("id") != "1" {
		t.Fatalf("Next = %v, %v", el, err)
	}
	if d.buf != nil {
		t.Fatalf("idle decoder holds a %d-byte buffer", cap(d.buf))
	}
}

// TestDecoderPeek checks that Peek hands out an element's bytes without
// consuming them, that Next parses the peeked element and Skip drops it,
// also when the input arrives one byte at a time.
func TestDecoderPeek(t *testing.T) {
	const (
		a = `<message id='a'><body>1</body></message>`
		b = `<presence/>`
		c = `<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`
	)
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = strings.NewReader(testHeader + a + " " + b + "\n" + c + "</stream:stream>")
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		d := NewDecoder(r, Limits{})
		if _, err := d.StreamStart(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if raw, err := d.Peek(); err != nil || string(raw) != a {
				t.Fatalf("Peek = %q, %v; want %q", raw, err, a)
			}
		}
		d.Skip()
		d.Skip() // nothing peeked: no-op
		if raw, err := d.Peek(); err != nil || string(raw) != b {
			t.Fatalf("Peek after Skip = %q, %v; want %q", raw, err, b)
		}
		if el, err := d.Next(); err != nil || el.Name.Local != "presence" {
			t.Fatalf("Next after Peek = %v, %v; want the presence", el, err)
		}
		el, err := d.Next()
		if err != nil || el.Name.Space != NSStream || el.Name.Local != "error" {
			t.Fatalf("Next = %v, %v; want the stream error in its namespace", el, err)
		}
		if raw, err := d.Peek(); !errors.Is(err, ErrStreamEnd) {
			t.Fatalf("Peek at the end = %q, %v; want ErrStreamEnd", raw, err)
		}
	}
}

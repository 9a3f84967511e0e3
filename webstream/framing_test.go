package webstream

import (
	"strings"
	"testing"

	"hearth/stanza"
)

func TestInbound(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.org" version="1.0" xml:lang="fr"/>`,
			`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="example.org" version="1.0" xml:lang="fr">`},
		{` <close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`, `</stream:stream>`},
		{`<message xmlns="jabber:client"><body>&lt;open/&gt;</body></message>`, `<message xmlns="jabber:client"><body>&lt;open/&gt;</body></message>`},
		{`<r xmlns="urn:xmpp:sm:3"/>`, `<r xmlns="urn:xmpp:sm:3"/>`},
		{`<open xmlns="other"/>`, `<open xmlns="other"/>`},
		{`<broken`, `<broken`},
	} {
		if got := string(inbound([]byte(tc.in))); got != tc.want {
			t.Errorf("inbound(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestOutbound(t *testing.T) {
	header := string(stanza.AppendStreamHeader(nil, stanza.StreamHeader{From: "example.org", ID: "s1", Version: "1.0", Lang: "en", DefaultNS: stanza.NSClient}, true))
	features := stanza.New(stanza.NSStream, "features").Append(stanza.New("urn:xmpp:sm:3", "sm"))
	msg := stanza.New(stanza.NSClient, "message", "to", `a"b>c@example.org`).
		Append(stanza.New(stanza.NSClient, "body").AppendText("1 < 2 > 0 & <x/>"), stanza.New("urn:x", "x", "a", "/>"))
	ack := stanza.New("urn:xmpp:sm:3", "a", "h", "3")
	in := header + string(stanza.Append(nil, features, stanza.NSClient)) + " \n" +
		string(stanza.Append(nil, msg, stanza.NSClient)) + string(stanza.Append(nil, ack, stanza.NSClient)) + "</stream:stream>"
	want := []string{
		`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="example.org" id="s1" version="1.0" xml:lang="en"/>`,
		`<stream:features xmlns:stream="http://etherx.jabber.org/streams"><sm xmlns="urn:xmpp:sm:3"/></stream:features>`,
		`<message xmlns="jabber:client" to="a&quot;b>c@example.org"><body>1 &lt; 2 &gt; 0 &amp; &lt;x/&gt;</body><x xmlns="urn:x" a="/>"/></message>`,
		`<a xmlns="urn:xmpp:sm:3" h="3"/>`,
		`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`,
	}
	// Every way of cutting the output in two gives the same messages.
	for cut := 0; cut <= len(in); cut++ {
		var got []string
		emit := func(b []byte) error { got = append(got, string(b)); return nil }
		n, err := outbound([]byte(in[:cut]), emit)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		rest := in[n:]
		if n2, err := outbound([]byte(rest), emit); err != nil || n2 != len(rest) {
			t.Fatalf("cut %d: rest consumed %d of %d: %v", cut, n2, len(rest), err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("cut %d:\n got %q\nwant %q", cut, got, want)
		}
	}
	// Each message parses on its own back to what was encoded.
	for i, w := range want[1:4] {
		el, err := stanza.NewDecoder(strings.NewReader(w), stanza.Limits{}).Next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		orig := []*stanza.Element{features, msg, ack}[i]
		if el.String() != orig.String() {
			t.Errorf("message %d decodes to %s, want %s", i, el, orig)
		}
	}
}

func TestOutboundRejectsText(t *testing.T) {
	if _, err := outbound([]byte("stray"), func([]byte) error { return nil }); err == nil {
		t.Error("text outside an element accepted")
	}
}

// FuzzFraming checks that neither direction panics or loses its place on
// any input, and that outbound never consumes more than it was given.
func FuzzFraming(f *testing.F) {
	f.Add([]byte(`<stream:stream xmlns="jabber:client" id="a"><message to="x"><body>hi</body></message></stream:stream>`))
	f.Add([]byte(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.org" version="1.0"/>`))
	f.Add([]byte(`<a b='>'/><c d="/>"></c>`))
	f.Add([]byte(`</stream:str`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inbound(b)
		n, _ := outbound(b, func([]byte) error { return nil })
		if n < 0 || n > len(b) {
			t.Fatalf("outbound consumed %d of %d bytes", n, len(b))
		}
	})
}

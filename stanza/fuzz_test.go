package stanza

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// fuzzLimits are small so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxStanzaBytes: 4096, MaxDepth: 16, MaxAttrs: 16}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(benchStanza))
	f.Add([]byte(`<?xml version='1.0'?><a xmlns='urn:a' xmlns:p='urn:p' p:x='1' xml:lang='en'><p:b>t&amp;&#x41;<![CDATA[<c>]]></p:b></a>`))
	f.Add([]byte(`<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features></stream:stream>`))
	f.Add([]byte("<a b='x\ty\r\nz'>\r\n</a> <c/>"))
	for _, tt := range rejectTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		els, err := fuzzDecode(bytes.NewReader(data), false)
		checkRoundTrip(t, els, false)

		if len(data) <= fuzzLimits.MaxStanzaBytes {
			got, gerr := fuzzDecode(iotest.OneByteReader(bytes.NewReader(data)), false)
			if errString(gerr) != errString(err) {
				t.Errorf("one byte at a time: got error %v, want %v", gerr, err)
			}
			if len(got) != len(els) {
				t.Fatalf("one byte at a time: got %d elements, want %d", len(got), len(els))
			}
			for i := range got {
				if dump(got[i]) != dump(els[i]) {
					t.Errorf("one byte at a time, element %d: got %s, want %s", i, dump(got[i]), dump(els[i]))
				}
			}
		}

		if err == io.EOF {
			checkStdlibAccepts(t, data)
		}

		els, _ = fuzzDecode(io.MultiReader(strings.NewReader(testHeader), bytes.NewReader(data)), true)
		checkRoundTrip(t, els, true)
	})
}

// fuzzDecode is decodeAll without a testing.T: every element consumes at
// least three bytes, so it always ends.
func fuzzDecode(r io.Reader, stream bool) ([]*Element, error) {
	d := NewDecoder(r, fuzzLimits)
	if stream {
		if _, err := d.StreamStart(); err != nil {
			return nil, err
		}
	}
	var els []*Element
	for {
		e, err := d.Next()
		if err != nil {
			return els, err
		}
		els = append(els, e)
	}
}

// checkRoundTrip checks decode → encode → decode yields the same trees and
// that encoding them again yields the same bytes.
func checkRoundTrip(t *testing.T, els []*Element, stream bool) {
	t.Helper()
	parentNS, prefix := "", ""
	if stream {
		parentNS, prefix = NSClient, testHeader
	}
	for _, e := range els {
		enc := Append(nil, e, parentNS)
		d := NewDecoder(strings.NewReader(prefix+string(enc)), Limits{})
		if stream {
			if _, err := d.StreamStart(); err != nil {
				t.Fatal(err)
			}
		}
		again, err := d.Next()
		if err != nil {
			t.Fatalf("decoding encoded %s: %v", dump(e), err)
		}
		if got, want := dump(again), dump(e); got != want {
			t.Fatalf("round trip changed tree:\ngot  %s\nwant %s\nvia  %q", got, want, enc)
		}
		if enc2 := Append(nil, again, parentNS); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\nfirst  %q\nsecond %q", enc, enc2)
		}
	}
}

// checkStdlibAccepts checks that encoding/xml in strict mode accepts input
// that hearth accepted: hearth is the stricter of the two. encoding/xml
// checks names against the character tables of XML 1.0 editions 1 to 4,
// hearth against edition 5, so a disagreement on a non-ASCII name is
// expected.
func checkStdlibAccepts(t *testing.T, data []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) && strings.Contains(se.Msg, "name") && !isASCII(data) {
				return
			}
			t.Fatalf("hearth accepted %q, encoding/xml: %v", data, err)
		}
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

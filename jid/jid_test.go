package jid

import (
	"encoding"
	"errors"
	"strings"
	"testing"
)

var (
	_ encoding.TextMarshaler   = JID{}
	_ encoding.TextUnmarshaler = (*JID)(nil)
)

type parseCase struct {
	name                    string
	in                      string
	local, domain, resource string // expected parts when valid
	invalid                 bool
}

var (
	long1023 = strings.Repeat("a", maxPartLen)
	long1024 = strings.Repeat("a", maxPartLen+1)
)

var parseCases = []parseCase{
	// RFC 7622 §3.5.1, valid.
	{name: "rfc/bare", in: "juliet@example.com", local: "juliet", domain: "example.com"},
	{name: "rfc/full", in: "juliet@example.com/foo", local: "juliet", domain: "example.com", resource: "foo"},
	{name: "rfc/resource space", in: "juliet@example.com/foo bar", local: "juliet", domain: "example.com", resource: "foo bar"},
	{name: "rfc/resource at", in: "juliet@example.com/foo@bar", local: "juliet", domain: "example.com", resource: "foo@bar"},
	{name: "rfc/xep0106 escape", in: `foo\20bar@example.com`, local: `foo\20bar`, domain: "example.com"},
	{name: "rfc/fussball", in: "fussball@example.com", local: "fussball", domain: "example.com"},
	{name: "rfc/eszett", in: "fußball@example.com", local: "fußball", domain: "example.com"},
	{name: "rfc/pi", in: "π@example.com", local: "π", domain: "example.com"},
	{name: "rfc/capital sigma", in: "Σ@example.com/foo", local: "σ", domain: "example.com", resource: "foo"},
	{name: "rfc/small sigma", in: "σ@example.com/foo", local: "σ", domain: "example.com", resource: "foo"},
	{name: "rfc/final sigma", in: "ς@example.com/foo", local: "ς", domain: "example.com", resource: "foo"},
	{name: "rfc/king resource", in: "king@example.com/♚", local: "king", domain: "example.com", resource: "♚"},
	{name: "rfc/domain", in: "example.com", domain: "example.com"},
	{name: "rfc/domain resource", in: "example.com/foobar", domain: "example.com", resource: "foobar"},
	{name: "rfc/resource looks like jid", in: "a.example.com/b@example.net", domain: "a.example.com", resource: "b@example.net"},

	// RFC 7622 §3.5.2, invalid.
	{name: "rfc/quoted localpart", in: `"juliet"@example.com`, invalid: true},
	{name: "rfc/space in localpart", in: "foo bar@example.com", invalid: true},
	{name: "rfc/roman numeral", in: "henry\u2163@example.com", invalid: true},
	{name: "rfc/king localpart", in: "♚@example.com", invalid: true},
	{name: "rfc/no domain", in: "juliet@", invalid: true},
	{name: "rfc/no domain with resource", in: "/foobar", invalid: true},

	// Splitting.
	{name: "split/slash in resource", in: "a@b/c/d", local: "a", domain: "b", resource: "c/d"},
	{name: "split/at and slash in resource", in: "b/c@d/e@f", domain: "b", resource: "c@d/e@f"},
	{name: "split/two ats", in: "a@b@c", invalid: true},
	{name: "split/at at", in: "juliet@@example.com", invalid: true},

	// Empty parts.
	{name: "empty/input", in: "", invalid: true},
	{name: "empty/localpart", in: "@example.com", invalid: true},
	{name: "empty/resource", in: "example.com/", invalid: true},
	{name: "empty/resource full", in: "a@example.com/", invalid: true},
	{name: "empty/all", in: "@/", invalid: true},
	{name: "empty/at", in: "@", invalid: true},
	{name: "empty/slash", in: "/", invalid: true},

	// Case folding and width mapping.
	{name: "case/ascii", in: "ALICE@EXAMPLE.ORG/Laptop", local: "alice", domain: "example.org", resource: "Laptop"},
	{name: "case/unicode", in: "ÄLICE@ÉXAMPLE.org", local: "älice", domain: "éxample.org"},
	{name: "case/resource kept", in: "a@b/ÄÖÜ", local: "a", domain: "b", resource: "ÄÖÜ"},
	{name: "width/localpart", in: "ＦＯＯ@example.com", local: "foo", domain: "example.com"},
	{name: "width/domain", in: "ｅｘａｍｐｌｅ．ｃｏｍ", domain: "example.com"},
	{name: "width/resource kept", in: "example.com/ＦＯＯ", domain: "example.com", resource: "ＦＯＯ"},
	{name: "width/fullwidth at in localpart", in: "a＠b@example.com", invalid: true},
	{name: "nfc/localpart", in: "e\u0301@example.com", local: "é", domain: "example.com"},
	{name: "nfc/resource", in: "example.com/e\u0301", domain: "example.com", resource: "é"},
	{name: "space/resource nbsp", in: "example.com/a\u00a0b", domain: "example.com", resource: "a b"},
	{name: "space/resource ideographic", in: "example.com/\u3000", domain: "example.com", resource: " "},
	{name: "space/resource leading", in: "example.com/ x", domain: "example.com", resource: " x"},

	// Localpart characters.
	{name: "local/ampersand", in: "a&b@example.com", invalid: true},
	{name: "local/apostrophe", in: "d'artagnan@example.com", invalid: true},
	{name: "local/colon", in: "a:b@example.com", invalid: true},
	{name: "local/less than", in: "<a@example.com", invalid: true},
	{name: "local/greater than", in: "a>@example.com", invalid: true},
	{name: "local/control", in: "a\x01b@example.com", invalid: true},
	{name: "local/tab", in: "a\tb@example.com", invalid: true},
	{name: "local/del", in: "a\x7fb@example.com", invalid: true},
	{name: "local/punctuation", in: "a.b-c_d+e!#$%*=?^`{|}~@example.com", local: "a.b-c_d+e!#$%*=?^`{|}~", domain: "example.com"},
	{name: "local/invalid utf8", in: "\xff@example.com", invalid: true},

	// Domainparts.
	{name: "domain/trailing dot", in: "a@example.com./r", local: "a", domain: "example.com", resource: "r"},
	{name: "domain/trailing dot bare", in: "example.com.", domain: "example.com"},
	{name: "domain/trailing ideographic full stop", in: "example.com\u3002", domain: "example.com"},
	{name: "domain/two trailing dots", in: "example.com..", invalid: true},
	{name: "domain/only dot", in: "a@.", invalid: true},
	{name: "domain/leading dot", in: ".example.com", invalid: true},
	{name: "domain/empty label", in: "example..com", invalid: true},
	{name: "domain/single label", in: "localhost", domain: "localhost"},
	{name: "domain/leading hyphen", in: "-example.com", invalid: true},
	{name: "domain/trailing hyphen", in: "example-.com", invalid: true},
	{name: "domain/hyphens 3 and 4", in: "ab--c.com", invalid: true},
	{name: "domain/inner hyphen", in: "a-b.c-d", domain: "a-b.c-d"},
	{name: "domain/underscore", in: "a_b.example", invalid: true},
	{name: "domain/space", in: "exa mple.com", invalid: true},
	{name: "domain/invalid utf8", in: "a@\xffexample.com", invalid: true},
	{name: "idna/u-label", in: "bücher.example", domain: "bücher.example"},
	{name: "idna/a-label", in: "xn--bcher-kva.example", domain: "bücher.example"},
	{name: "idna/a-label upper", in: "XN--BCHER-KVA.example", domain: "bücher.example"},
	{name: "idna/eszett kept", in: "faß.de", domain: "faß.de"},
	{name: "idna/ascii a-label", in: "xn--abc-.example", invalid: true},
	{name: "idna/bad punycode", in: "xn--ü.example", invalid: true},
	{name: "idna/disallowed symbol", in: "a@☃\u2488.example", invalid: true},
	{name: "idna/rtl", in: "a@\u05d0\u05d1.example", local: "a", domain: "\u05d0\u05d1.example"},
	{name: "idna/bidi violation", in: "a@\u05d0a.example", invalid: true},
	{name: "ip/ipv4", in: "a@192.0.2.1/r", local: "a", domain: "192.0.2.1", resource: "r"},
	{name: "ip/ipv6", in: "a@[2001:db8::1]/r", local: "a", domain: "[2001:db8::1]", resource: "r"},
	{name: "ip/ipv6 canonical form", in: "[2001:DB8:0:0::0001]", domain: "[2001:db8::1]"},
	{name: "ip/ipv6 mapped ipv4", in: "[::ffff:192.0.2.1]", domain: "[::ffff:192.0.2.1]"},
	{name: "ip/ipv6 trailing dot", in: "[::1].", domain: "[::1]"},
	{name: "ip/ipv6 unbracketed", in: "a@::1", invalid: true},
	{name: "ip/ipv6 unclosed", in: "a@[::1", invalid: true},
	{name: "ip/ipv6 zone", in: "a@[fe80::1%eth0]", invalid: true},
	{name: "ip/ipv4 bracketed", in: "a@[192.0.2.1]", invalid: true},
	{name: "ip/empty brackets", in: "a@[]", invalid: true},
	{name: "ip/bracket alone", in: "[", invalid: true},
	{name: "ip/junk after bracket", in: "[::1]x", invalid: true},

	// Resourceparts.
	{name: "resource/control", in: "a@b/c\x00d", invalid: true},
	{name: "resource/newline", in: "a@b/c\nd", invalid: true},
	{name: "resource/invalid utf8", in: "a@b/\xff", invalid: true},
	{name: "resource/emoji", in: "a@b/🍺", local: "a", domain: "b", resource: "🍺"},

	// Length limits, after normalisation.
	{name: "length/localpart 1023", in: long1023 + "@b", local: long1023, domain: "b"},
	{name: "length/localpart 1024", in: long1024 + "@b", invalid: true},
	{name: "length/domain 1023", in: long1023, domain: long1023},
	{name: "length/domain 1024", in: long1024, invalid: true},
	{name: "length/domain 1023 trailing dot", in: long1023 + ".", domain: long1023},
	{name: "length/resource 1023", in: "b/" + long1023, domain: "b", resource: long1023},
	{name: "length/resource 1024", in: "b/" + long1024, invalid: true},
	{name: "length/localpart fullwidth folds to 1023", in: strings.Repeat("Ａ", maxPartLen) + "@b", local: long1023, domain: "b"},
	{name: "length/localpart 2-byte runes 1024", in: strings.Repeat("é", 512) + "@b", invalid: true},
	{name: "length/localpart uppercase 1024", in: strings.ToUpper(long1024) + "@b", invalid: true},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Parse(tc.in)
			if tc.invalid {
				if err == nil {
					t.Fatalf("Parse(%q) = %q, want error", tc.in, j)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%q) error %v does not wrap ErrMalformed", tc.in, err)
				}
				if !j.IsZero() {
					t.Fatalf("Parse(%q) returned non-zero JID %q with error", tc.in, j)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			checkParts(t, j, tc.local, tc.domain, tc.resource)
			again, err := Parse(j.String())
			if err != nil || again != j {
				t.Fatalf("Parse(%q) = %q, %v; want %q (not idempotent)", j.String(), again, err, j)
			}
		})
	}
}

// TestFastPathMatchesSlowPath checks that the table gives the same result
// with the ASCII fast paths off.
func TestFastPathMatchesSlowPath(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			checkPaths(t, tc.in)
		})
	}
}

// TestFastPathASCII compares the fast and full paths on every part made of
// up to three ASCII bytes, which covers every byte class, upper case,
// separators and hyphen positions.
func TestFastPathASCII(t *testing.T) {
	alphabet := make([]byte, 0, 128)
	for c := 0; c < 0x80; c++ {
		alphabet = append(alphabet, byte(c))
	}
	var parts []string
	for _, a := range alphabet {
		parts = append(parts, string(a))
		for _, b := range alphabet {
			parts = append(parts, string([]byte{a, b}))
		}
	}
	// Three bytes over a smaller alphabet that still has every class.
	small := []byte("aZ9-._ @/\x00~")
	for _, a := range small {
		for _, b := range small {
			for _, c := range small {
				parts = append(parts, string([]byte{a, b, c}))
			}
		}
	}
	parts = append(parts, "ab--c", "xn--a", "xn--bcher-kva", "a-", "-a", "1.2.3.4", "a.b.")
	for _, p := range parts {
		checkPartPaths(t, p)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		local, domain, resource string
		want                    string
		invalid                 bool
	}{
		{name: "full", local: "Alice", domain: "Example.org.", resource: "Home", want: "alice@example.org/Home"},
		{name: "bare", local: "alice", domain: "example.org", want: "alice@example.org"},
		{name: "domain", domain: "example.org", want: "example.org"},
		{name: "domain resource", domain: "example.org", resource: "r/s@t", want: "example.org/r/s@t"},
		{name: "a-label", domain: "xn--bcher-kva.example", want: "bücher.example"},
		{name: "no domain", local: "alice", invalid: true},
		{name: "zero", invalid: true},
		{name: "at in localpart", local: "a@b", domain: "example.org", invalid: true},
		{name: "slash in localpart", local: "a/b", domain: "example.org", invalid: true},
		{name: "slash in domain", domain: "example.org/r", invalid: true},
		{name: "at in domain", domain: "a@example.org", invalid: true},
		{name: "long resource", domain: "example.org", resource: long1024, invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := New(tc.local, tc.domain, tc.resource)
			if tc.invalid {
				if err == nil || !errors.Is(err, ErrMalformed) {
					t.Fatalf("New(%q, %q, %q) = %q, %v; want ErrMalformed", tc.local, tc.domain, tc.resource, j, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q, %q, %q): %v", tc.local, tc.domain, tc.resource, err)
			}
			if got := j.String(); got != tc.want {
				t.Fatalf("New(%q, %q, %q) = %q, want %q", tc.local, tc.domain, tc.resource, got, tc.want)
			}
			if p := MustParse(tc.want); p != j {
				t.Fatalf("New(...) = %#v, Parse(%q) = %#v", j, tc.want, p)
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, ErrMalformed) {
			t.Fatalf("MustParse panicked with %v, want an ErrMalformed error", r)
		}
	}()
	MustParse("@")
}

func TestDerived(t *testing.T) {
	full := MustParse("Alice@Example.org/Laptop")
	checkParts(t, full, "alice", "example.org", "Laptop")
	if full.IsBare() || full.IsZero() {
		t.Fatalf("%q: IsBare = %v, IsZero = %v", full, full.IsBare(), full.IsZero())
	}

	bare := full.Bare()
	if bare != MustParse("alice@example.org") || !bare.IsBare() {
		t.Fatalf("Bare() = %#v", bare)
	}
	if bare.Bare() != bare {
		t.Fatalf("Bare of a bare JID changed it")
	}

	domain := full.DomainJID()
	if domain != MustParse("example.org") || domain.String() != "example.org" {
		t.Fatalf("DomainJID() = %#v", domain)
	}

	phone, err := full.WithResource("Phone\u00a01")
	if err != nil {
		t.Fatal(err)
	}
	if phone != MustParse("alice@example.org/Phone 1") {
		t.Fatalf("WithResource = %#v", phone)
	}
	if r, err := domain.WithResource("x/y"); err != nil || r.String() != "example.org/x/y" {
		t.Fatalf("DomainJID().WithResource = %q, %v", r, err)
	}
	for _, bad := range []string{"", long1024, "a\x00"} {
		if r, err := full.WithResource(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("WithResource(%q) = %q, %v; want ErrMalformed", bad, r, err)
		}
	}
	if r, err := (JID{}).WithResource("r"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("zero JID WithResource = %q, %v; want ErrMalformed", r, err)
	}

	var zero JID
	if !zero.IsZero() || !zero.IsBare() || zero.String() != "" || !zero.Bare().IsZero() || !zero.DomainJID().IsZero() {
		t.Fatalf("zero JID misbehaves")
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"example.org", "example.org"},
		{"Alice@Example.org", "alice@example.org"},
		{"example.org/R", "example.org/R"},
		{"Alice@ＥＸＡＭＰＬＥ.org./R", "alice@example.org/R"},
		{"Σ@xn--bcher-kva.example/ Σ", "σ@bücher.example/ Σ"},
		{"a@[2001:DB8::1]", "a@[2001:db8::1]"},
	} {
		j := MustParse(tc.in)
		if got := j.String(); got != tc.want {
			t.Errorf("MustParse(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(j.AppendTo([]byte("x:"))); got != "x:"+tc.want {
			t.Errorf("AppendTo = %q, want %q", got, "x:"+tc.want)
		}
		text, err := j.MarshalText()
		if err != nil || string(text) != tc.want {
			t.Errorf("MarshalText = %q, %v; want %q", text, err, tc.want)
		}
		var u JID
		if err := u.UnmarshalText([]byte(tc.in)); err != nil || u != j {
			t.Errorf("UnmarshalText(%q) = %q, %v; want %q", tc.in, u, err, j)
		}
	}
}

func TestUnmarshalText(t *testing.T) {
	j := MustParse("a@b/c")
	if err := j.UnmarshalText(nil); err != nil || !j.IsZero() {
		t.Fatalf("UnmarshalText(empty) = %q, %v; want zero JID", j, err)
	}
	j = MustParse("a@b/c")
	if err := j.UnmarshalText([]byte("a@")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("UnmarshalText(%q) error = %v, want ErrMalformed", "a@", err)
	}
	if j != MustParse("a@b/c") {
		t.Fatalf("failed UnmarshalText changed the JID to %q", j)
	}
}

func TestMapKey(t *testing.T) {
	m := map[JID]int{}
	for i, s := range []string{
		"alice@example.org/laptop",
		"ALICE@example.org/laptop",
		"alice@EXAMPLE.ORG./laptop",
		"ａｌｉｃｅ@example.org/laptop",
	} {
		m[MustParse(s)] += i + 1
	}
	m[MustParse("alice@example.org/Laptop")]++ // resources keep case
	m[MustParse("alice@example.org")]++
	if len(m) != 3 {
		t.Fatalf("map has %d keys, want 3: %v", len(m), m)
	}
	if got := m[MustParse("alice@example.org/laptop")]; got != 1+2+3+4 {
		t.Fatalf("m[alice@example.org/laptop] = %d, want 10", got)
	}
	if MustParse("fussball@example.com") == MustParse("fußball@example.com") {
		t.Fatalf("ß must not be folded to ss")
	}
}

// TestParseAllocs guards the hot path: parsing an already normalised ASCII
// JID shares the input's memory and allocates nothing.
func TestParseAllocs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  float64
		name string
	}{
		{"alice@example.org/laptop", 0, "normalised"},
		{"example.org", 0, "domain"},
		{"a@[2001:db8::1]", 0, "ipv6 canonical"},
		{"Alice@example.org/laptop", 1, "upper localpart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testing.AllocsPerRun(100, func() {
				if _, err := Parse(tc.in); err != nil {
					t.Fatal(err)
				}
			})
			if got > tc.max {
				t.Fatalf("Parse(%q) allocates %v times, want at most %v", tc.in, got, tc.max)
			}
		})
	}
	j := MustParse("alice@example.org/laptop")
	if got := testing.AllocsPerRun(100, func() { _ = j.String() }); got > 1 {
		t.Fatalf("String allocates %v times, want at most 1", got)
	}
}

// checkParts fails t unless j has the given parts.
func checkParts(t *testing.T, j JID, local, domain, resource string) {
	t.Helper()
	if j.Local() != local || j.Domain() != domain || j.Resource() != resource {
		t.Fatalf("got parts (%q, %q, %q), want (%q, %q, %q)",
			j.Local(), j.Domain(), j.Resource(), local, domain, resource)
	}
}

// checkPaths fails t unless Parse gives the same result with and without
// the ASCII fast paths.
func checkPaths(t *testing.T, s string) {
	t.Helper()
	fast, fastErr := parse(s, true)
	slow, slowErr := parse(s, false)
	if fast != slow || (fastErr == nil) != (slowErr == nil) {
		t.Fatalf("parse(%q): fast path gives %#v, %v; full path gives %#v, %v", s, fast, fastErr, slow, slowErr)
	}
}

// checkPartPaths fails t if a fast path accepts s as a part and the full
// path gives a different result.
func checkPartPaths(t *testing.T, s string) {
	t.Helper()
	if v, ok := asciiLocal(s); ok {
		if w, err := precisLocal(s); err != nil || w != v {
			t.Fatalf("localpart %q: fast path gives %q, full path %q, %v", s, v, w, err)
		}
	}
	if v, ok := asciiDomain(s); ok {
		if w, err := idnaDomain(s); err != nil || w != v {
			t.Fatalf("domainpart %q: fast path gives %q, full path %q, %v", s, v, w, err)
		}
	}
	if v, ok := asciiResource(s); ok {
		if w, err := precisResource(s); err != nil || w != v {
			t.Fatalf("resourcepart %q: fast path gives %q, full path %q, %v", s, v, w, err)
		}
	}
}

// TestErrorsDoNotEchoInput checks that errors stay short however long the
// offending part is: peer-supplied addresses end up in logs.
func TestErrorsDoNotEchoInput(t *testing.T) {
	huge := strings.Repeat("x", 1<<16)
	for _, in := range []string{
		huge + "\x00@example.org",
		"a@xn--" + huge + "-9",
		"a@" + huge + "_",
		"a@[" + huge + "]",
		"a@b/" + huge + "\x00",
		huge + "@b",
	} {
		_, err := Parse(in)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Parse(%.20q...) error = %v, want ErrMalformed", in, err)
		}
		if len(err.Error()) > 200 {
			t.Fatalf("error for a %d-byte input is %d bytes long: %.80s...", len(in), len(err.Error()), err)
		}
	}
}

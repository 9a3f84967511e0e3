package jid

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every error wraps
// ErrMalformed, that the ASCII fast paths agree with the full PRECIS and IDNA
// paths, and that a parsed JID is a fixed point: parsing its string form, or
// rebuilding it from its parts, gives it back.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkPaths(t, s)
		checkPartPaths(t, s)

		j, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrMalformed", s, err)
			}
			return
		}
		if j.Domain() == "" {
			t.Fatalf("Parse(%q) = %#v has no domainpart", s, j)
		}
		for _, part := range []string{j.Local(), j.Domain(), j.Resource()} {
			if len(part) > maxPartLen || !utf8.ValidString(part) {
				t.Fatalf("Parse(%q) = %#v: part %q too long or not UTF-8", s, j, part)
			}
		}
		str := j.String()
		again, err := Parse(str)
		if err != nil || again != j {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v, %v", s, j, str, again, err)
		}
		if string(j.AppendTo(nil)) != str {
			t.Fatalf("AppendTo and String differ for %#v", j)
		}
		rebuilt, err := New(j.Local(), j.Domain(), j.Resource())
		if err != nil || rebuilt != j {
			t.Fatalf("New(parts of %#v) = %#v, %v", j, rebuilt, err)
		}
		if j.Resource() != "" {
			with, err := j.Bare().WithResource(j.Resource())
			if err != nil || with != j {
				t.Fatalf("WithResource(%q) = %#v, %v; want %#v", j.Resource(), with, err, j)
			}
		}
	})
}

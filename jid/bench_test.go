package jid

import "testing"

var (
	sinkJID    JID
	sinkString string
)

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"ascii", "alice@example.org/laptop"},
		{"ascii-bare", "alice@example.org"},
		{"ascii-upper", "Alice@Example.org/laptop"},
		{"unicode", "Σίσυφος@ελληνικά.example/Θέση"},
		{"a-label", "alice@xn--bcher-kva.example/laptop"},
		{"ipv6", "alice@[2001:db8::1]/laptop"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				j, err := Parse(bc.in)
				if err != nil {
					b.Fatal(err)
				}
				sinkJID = j
			}
		})
	}
}

// BenchmarkParseSlow is BenchmarkParse's ASCII case without the fast path,
// to show what the fast path saves.
func BenchmarkParseSlow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		j, err := parse("alice@example.org/laptop", false)
		if err != nil {
			b.Fatal(err)
		}
		sinkJID = j
	}
}

func BenchmarkString(b *testing.B) {
	j := MustParse("alice@example.org/laptop")
	b.ReportAllocs()
	for b.Loop() {
		sinkString = j.String()
	}
}

package jid

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// maxPartLen is the RFC 7622 §3.1 limit on each part, in bytes of UTF-8
// after normalisation.
const maxPartLen = 1023

// localProhibited are the characters RFC 7622 §3.3.1 forbids in a localpart
// on top of the UsernameCaseMapped profile.
const localProhibited = `"&'/:<>@`

var (
	errEmptyLocal    = fmt.Errorf("%w: empty localpart", ErrMalformed)
	errLongLocal     = fmt.Errorf("%w: localpart longer than %d bytes", ErrMalformed, maxPartLen)
	errLocalChar     = fmt.Errorf("%w: localpart contains a prohibited character", ErrMalformed)
	errNoDomain      = fmt.Errorf("%w: empty domainpart", ErrMalformed)
	errLongDomain    = fmt.Errorf("%w: domainpart longer than %d bytes", ErrMalformed, maxPartLen)
	errIDNA          = fmt.Errorf("%w: domainpart is not a valid IDNA2008 host name", ErrMalformed)
	errEmptyLabel    = fmt.Errorf("%w: domainpart has an empty label", ErrMalformed)
	errUTF8          = fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	errIPLiteral     = fmt.Errorf("%w: domainpart is not a valid bracketed IPv6 literal", ErrMalformed)
	errEmptyResource = fmt.Errorf("%w: empty resourcepart", ErrMalformed)
	errLongResource  = fmt.Errorf("%w: resourcepart longer than %d bytes", ErrMalformed, maxPartLen)
)

// domainProfile maps and validates domainparts. It is the UTS #46 lookup
// profile (mapping, STD3 ASCII rules, hyphen and joiner checks, Bidi rule)
// with non-transitional processing, so that "ß" and "ς" stay themselves as
// IDNA2008 requires. It does not check DNS lengths (RFC 7622 allows 1023
// bytes), so empty labels are checked separately.
var domainProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
)

// Byte classes for the ASCII fast paths.
const (
	classLocal    = 1 << iota // allowed in a localpart as is
	classResource             // allowed in a resourcepart as is
	classLDH                  // lowercase letter, digit or hyphen
	classUpper                // A-Z: allowed in local and domain, lowercased
)

var asciiClass = func() (t [256]uint8) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] |= classResource
		// IdentifierClass allows printable ASCII but not space.
		if c != ' ' && !strings.ContainsRune(localProhibited, rune(c)) {
			t[c] |= classLocal
		}
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
			t[c] |= classLDH
		case 'A' <= c && c <= 'Z':
			t[c] |= classUpper
		}
	}
	return t
}()

// prepLocal normalises and validates a localpart that is present.
func prepLocal(s string, fast bool) (string, error) {
	if s == "" {
		return "", errEmptyLocal
	}
	v, ok := "", false
	if fast {
		v, ok = asciiLocal(s)
	}
	if !ok {
		var err error
		if v, err = precisLocal(s); err != nil {
			return "", err
		}
	}
	if len(v) > maxPartLen {
		return "", errLongLocal
	}
	return v, nil
}

// asciiLocal is the fast path of precisLocal: it reports ok only for ASCII
// input that precisLocal accepts, and then returns what precisLocal returns.
// It does not allocate when s is already lowercase.
func asciiLocal(s string) (v string, ok bool) {
	if s == "" {
		return "", false
	}
	upper := false
	for i := 0; i < len(s); i++ {
		c := asciiClass[s[i]]
		if c&classLocal == 0 {
			return "", false
		}
		if c&classUpper != 0 {
			upper = true
		}
	}
	if upper {
		return lowerASCII(s), true
	}
	return s, true
}

// precisLocal is the full RFC 7622 §3.3 localpart preparation and
// enforcement.
func precisLocal(s string) (string, error) {
	// Checked here because the transformations below replace invalid
	// bytes with U+FFFD instead of failing.
	if !utf8.ValidString(s) {
		return "", errUTF8
	}
	v, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", fmt.Errorf("%w: localpart: %w", ErrMalformed, err)
	}
	if v == "" {
		return "", errEmptyLocal
	}
	// Checked after the profile, because width folding maps for example
	// U+FF20 FULLWIDTH COMMERCIAL AT to '@'.
	if strings.ContainsAny(v, localProhibited) {
		return "", errLocalChar
	}
	return v, nil
}

// prepDomain normalises and validates a domainpart.
func prepDomain(s string, fast bool) (string, error) {
	s = trimLabelSeparator(s)
	if s == "" {
		return "", errNoDomain
	}
	v, ok := "", false
	if fast {
		v, ok = asciiDomain(s)
	}
	if !ok {
		var err error
		if v, err = idnaDomain(s); err != nil {
			return "", err
		}
	}
	if len(v) > maxPartLen {
		return "", errLongDomain
	}
	return v, nil
}

// trimLabelSeparator strips one final label separator. RFC 7622 §3.2
// requires this before any other canonicalisation; the separators are those
// of IDNA (UTS #46 §2.3), of which RFC 1034's '.' is the usual one.
func trimLabelSeparator(s string) string {
	if strings.HasSuffix(s, ".") {
		return s[:len(s)-1]
	}
	for _, sep := range [...]string{"\u3002", "\uff0e", "\uff61"} {
		if strings.HasSuffix(s, sep) {
			return s[:len(s)-len(sep)]
		}
	}
	return s
}

// asciiDomain is the fast path of idnaDomain: it reports ok only for
// letter-digit-hyphen host names (which include dotted IPv4 literals) that
// idnaDomain accepts, and then returns what idnaDomain returns. Anything
// else, notably A-labels and IPv6 literals, is left to idnaDomain. It does
// not allocate when s is already lowercase.
func asciiDomain(s string) (v string, ok bool) {
	upper := false
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := asciiClass[s[i]]
			if c&(classLDH|classUpper) == 0 {
				return "", false
			}
			if c&classUpper != 0 {
				upper = true
			}
			continue
		}
		label := s[start:i]
		start = i + 1
		// UTS #46 CheckHyphens: no leading or trailing hyphen, and no "--"
		// in the third and fourth positions (which also catches "xn--").
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' ||
			len(label) >= 4 && label[2] == '-' && label[3] == '-' {
			return "", false
		}
	}
	if upper {
		return lowerASCII(s), true
	}
	return s, true
}

// idnaDomain is the full RFC 7622 §3.2 domainpart preparation and
// enforcement, for a domainpart whose final label separator has been
// stripped.
func idnaDomain(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errUTF8
	}
	if s[0] == '[' {
		return ipv6Literal(s)
	}
	v, err := domainProfile.ToUnicode(s)
	if err != nil {
		// Not wrapped: idna's errors quote the whole offending label, which
		// can be kilobytes of peer-controlled text headed for the logs.
		return "", errIDNA
	}
	if v == "" {
		return "", errNoDomain
	}
	// The profile lets empty labels through when it does not check DNS
	// lengths; a host name has none.
	if v[0] == '.' || v[len(v)-1] == '.' || strings.Contains(v, "..") {
		return "", errEmptyLabel
	}
	return v, nil
}

// ipv6Literal validates a bracketed IPv6 literal (RFC 3986 IP-literal,
// without zone or IPvFuture) and returns it in RFC 5952 form, so that the
// many spellings of one address compare equal.
func ipv6Literal(s string) (string, error) {
	if len(s) < 2 || s[len(s)-1] != ']' {
		return "", errIPLiteral
	}
	inner := s[1 : len(s)-1]
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", errIPLiteral
	}
	var buf [64]byte
	canon := a.AppendTo(buf[:0])
	if string(canon) == inner {
		return s, nil
	}
	return "[" + string(canon) + "]", nil
}

// prepResource normalises and validates a resourcepart that is present.
func prepResource(s string, fast bool) (string, error) {
	if s == "" {
		return "", errEmptyResource
	}
	v, ok := "", false
	if fast {
		v, ok = asciiResource(s)
	}
	if !ok {
		var err error
		if v, err = precisResource(s); err != nil {
			return "", err
		}
	}
	if len(v) > maxPartLen {
		return "", errLongResource
	}
	return v, nil
}

// asciiResource is the fast path of precisResource: it reports ok only for
// printable ASCII, which OpaqueString leaves as is. It never allocates.
func asciiResource(s string) (v string, ok bool) {
	if s == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if asciiClass[s[i]]&classResource == 0 {
			return "", false
		}
	}
	return s, true
}

// precisResource is the full RFC 7622 §3.4 resourcepart preparation and
// enforcement.
func precisResource(s string) (string, error) {
	// Checked here because the transformations below replace invalid
	// bytes with U+FFFD instead of failing.
	if !utf8.ValidString(s) {
		return "", errUTF8
	}
	v, err := precis.OpaqueString.String(s)
	if err != nil {
		return "", fmt.Errorf("%w: resourcepart: %w", ErrMalformed, err)
	}
	if v == "" {
		return "", errEmptyResource
	}
	return v, nil
}

// lowerASCII returns s, which is ASCII, with A-Z mapped to a-z.
func lowerASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

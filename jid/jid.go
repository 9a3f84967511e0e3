// Package jid implements RFC 7622 XMPP addresses.
//
// A JID is a small comparable value: two JIDs are equal with == exactly when
// their normalised parts are equal, so a JID can be used as a map key.
//
// Normalisation follows RFC 7622:
//
//   - the localpart is enforced with the PRECIS UsernameCaseMapped profile
//     (RFC 8265: width folding, lowercasing, NFC) and may not contain any of
//     " & ' / : < > @ after that;
//   - the domainpart loses one trailing label separator, then is mapped and
//     validated with IDNA2008/UTS #46 (lookup mapping, STD3 rules, hyphen,
//     joiner and Bidi checks) and stored in its Unicode form: lowercase, with
//     every A-label ("xn--…") converted to its U-label, as RFC 7622 §3.2.2
//     requires. Dotted IPv4 literals are accepted as they are; IPv6 literals
//     must be bracketed ("[::1]") and are stored in the RFC 5952 text form;
//   - the resourcepart is enforced with the PRECIS OpaqueString profile
//     (non-ASCII spaces to U+0020, NFC; case is kept).
//
// Each part present is 1 to 1023 bytes long after normalisation. Inputs that
// are entirely ASCII take a fast path that gives the same result as the full
// PRECIS and IDNA processing and, when the input is already normalised,
// shares its memory with the input instead of allocating.
package jid

import (
	"errors"
	"strings"
)

// ErrMalformed is wrapped by every error Parse and New return for input that
// is not a valid RFC 7622 address.
var ErrMalformed = errors.New("jid: malformed")

// JID is a normalised XMPP address: localpart@domainpart/resourcepart, where
// the localpart and resourcepart may be empty. The zero JID is "no address".
type JID struct {
	local, domain, resource string
}

// Parse parses and normalises s (PRECIS UsernameCaseMapped for the localpart,
// IDNA/lowercase for the domainpart, OpaqueString for the resourcepart) and
// checks the length limits of RFC 7622 (1023 bytes per part).
//
// As RFC 7622 §3.2 prescribes, s is split at its first '/' (the resourcepart
// may itself contain '/' and '@') and what precedes it at its first '@'. A
// separator followed or preceded by nothing ("a@", "@b", "b/") is malformed.
// The error wraps ErrMalformed.
func Parse(s string) (JID, error) {
	return parse(s, true)
}

// parse is Parse with the ASCII fast path switchable, so tests can check
// that both paths agree.
func parse(s string, fast bool) (JID, error) {
	rest, resource, hasResource := strings.Cut(s, "/")
	local, domain, hasLocal := strings.Cut(rest, "@")
	if !hasLocal {
		local, domain = "", rest
	}
	return build(local, hasLocal, domain, resource, hasResource, fast)
}

// MustParse is Parse that panics on error; for tests and constants.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return j
}

// New builds a JID from parts, normalising and validating each as Parse does.
// An empty local or resource means the part is absent; the domain is
// required. The error wraps ErrMalformed.
func New(local, domain, resource string) (JID, error) {
	return build(local, local != "", domain, resource, resource != "", true)
}

// build prepares each part that is present; a present part may not be empty.
func build(local string, hasLocal bool, domain, resource string, hasResource, fast bool) (JID, error) {
	var j JID
	var err error
	if hasLocal {
		if j.local, err = prepLocal(local, fast); err != nil {
			return JID{}, err
		}
	}
	if j.domain, err = prepDomain(domain, fast); err != nil {
		return JID{}, err
	}
	if hasResource {
		if j.resource, err = prepResource(resource, fast); err != nil {
			return JID{}, err
		}
	}
	return j, nil
}

// Local returns j's normalised localpart, or "" if it has none.
func (j JID) Local() string { return j.local }

// Domain returns j's normalised domainpart, in Unicode form; it is "" only
// for the zero JID.
func (j JID) Domain() string { return j.domain }

// Resource returns j's normalised resourcepart, or "" if it has none.
func (j JID) Resource() string { return j.resource }

// IsZero reports whether j is the zero JID.
func (j JID) IsZero() bool { return j == JID{} }

// Bare returns j without its resourcepart.
func (j JID) Bare() JID { return JID{local: j.local, domain: j.domain} }

// IsBare reports whether j has no resourcepart.
func (j JID) IsBare() bool { return j.resource == "" }

// DomainJID returns the JID made of j's domainpart alone.
func (j JID) DomainJID() JID { return JID{domain: j.domain} }

// WithResource returns j's bare JID with resource r, normalised and
// validated as a resourcepart. An empty r, or a j without a domainpart (the
// zero JID), is malformed; the error wraps ErrMalformed.
func (j JID) WithResource(r string) (JID, error) {
	if j.domain == "" {
		return JID{}, errNoDomain
	}
	res, err := prepResource(r, true)
	if err != nil {
		return JID{}, err
	}
	return JID{local: j.local, domain: j.domain, resource: res}, nil
}

// String returns the canonical string form ("" for the zero JID). Parse of
// the result returns a JID equal to j.
func (j JID) String() string {
	if j.local == "" && j.resource == "" {
		return j.domain
	}
	var b strings.Builder
	b.Grow(j.len())
	if j.local != "" {
		b.WriteString(j.local)
		b.WriteByte('@')
	}
	b.WriteString(j.domain)
	if j.resource != "" {
		b.WriteByte('/')
		b.WriteString(j.resource)
	}
	return b.String()
}

// AppendTo appends the canonical string form of j to b and returns the
// extended slice; it does not allocate when b has room.
func (j JID) AppendTo(b []byte) []byte {
	if j.local != "" {
		b = append(b, j.local...)
		b = append(b, '@')
	}
	b = append(b, j.domain...)
	if j.resource != "" {
		b = append(b, '/')
		b = append(b, j.resource...)
	}
	return b
}

// len returns the length of the canonical string form of j.
func (j JID) len() int {
	n := len(j.domain)
	if j.local != "" {
		n += len(j.local) + 1
	}
	if j.resource != "" {
		n += len(j.resource) + 1
	}
	return n
}

// MarshalText implements encoding.TextMarshaler with the canonical string
// form; the zero JID marshals to empty text.
func (j JID) MarshalText() ([]byte, error) {
	return j.AppendTo(make([]byte, 0, j.len())), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with Parse, except that
// empty text gives the zero JID, mirroring MarshalText. On error *j is left
// unchanged and the error wraps ErrMalformed.
func (j *JID) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*j = JID{}
		return nil
	}
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*j = v
	return nil
}

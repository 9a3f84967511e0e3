// Package jid implements RFC 7622 XMPP addresses.
//
// A JID is a small comparable value: two JIDs are equal with == exactly when
// their normalised parts are equal, so a JID can be used as a map key.
package jid

import "errors"

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
func Parse(s string) (JID, error) { panic("unimplemented") }

// MustParse is Parse that panics on error; for tests and constants.
func MustParse(s string) JID { panic("unimplemented") }

// New builds a JID from parts, normalising and validating each as Parse does.
func New(local, domain, resource string) (JID, error) { panic("unimplemented") }

func (j JID) Local() string    { return j.local }
func (j JID) Domain() string   { return j.domain }
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
// validated as a resourcepart.
func (j JID) WithResource(r string) (JID, error) { panic("unimplemented") }

// String returns the canonical string form ("" for the zero JID).
func (j JID) String() string { panic("unimplemented") }

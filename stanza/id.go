package stanza

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a new random identifier for a stanza, a stream or a
// session (24 hex digits, 96 random bits): unique without coordination,
// and unguessable, so that a reply cannot be forged for a request its
// sender did not see.
func NewID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

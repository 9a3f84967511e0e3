package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// saltLen is the length in bytes of the salts NewCredentials generates
// (RFC 5802 sets no minimum; NIST SP 800-132 asks for at least 16).
const saltLen = 16

// hashSpec is one hash function SCRAM runs over.
type hashSpec struct {
	name string // as in the mechanism name: "SHA-1", "SHA-256"
	new  func() hash.Hash
	size int
	// key selects the stored key for this hash.
	key func(Credentials) SCRAMKey
}

var (
	sha1Spec = &hashSpec{
		name: "SHA-1",
		new:  sha1.New,
		size: sha1.Size,
		key:  func(c Credentials) SCRAMKey { return c.SHA1 },
	}
	sha256Spec = &hashSpec{
		name: "SHA-256",
		new:  sha256.New,
		size: sha256.Size,
		key:  func(c Credentials) SCRAMKey { return c.SHA256 },
	}
)

func (h *hashSpec) hmac(key []byte, parts ...string) []byte {
	m := hmac.New(h.new, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func (h *hashSpec) sum(b []byte) []byte {
	d := h.new()
	d.Write(b)
	return d.Sum(nil)
}

// valid reports whether k has the shape this hash needs; a key that does not
// is treated like a missing one.
func (h *hashSpec) valid(k SCRAMKey) bool {
	return len(k.Salt) > 0 && k.Iterations > 0 &&
		len(k.StoredKey) == h.size && len(k.ServerKey) == h.size
}

// saltedPassword is SaltedPassword := Hi(Normalize(password), salt, i) of
// RFC 5802 §3; prepared is the already normalised password.
func (h *hashSpec) saltedPassword(prepared string, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(h.new, prepared, salt, iterations, h.size)
}

// clientKey is ClientKey := HMAC(SaltedPassword, "Client Key").
func (h *hashSpec) clientKey(salted []byte) []byte { return h.hmac(salted, "Client Key") }

// deriveKey computes the stored form of a prepared password.
func (h *hashSpec) deriveKey(prepared string, salt []byte, iterations int) (SCRAMKey, error) {
	salted, err := h.saltedPassword(prepared, salt, iterations)
	if err != nil {
		return SCRAMKey{}, err
	}
	return SCRAMKey{
		Salt:       salt,
		Iterations: iterations,
		StoredKey:  h.sum(h.clientKey(salted)),
		ServerKey:  h.hmac(salted, "Server Key"),
	}, nil
}

// preparePassword applies the OpaqueString profile of RFC 8265 (which
// replaces SASLprep, RFC 4013, as RFC 7613 did before it). It rejects empty
// passwords and ones with disallowed code points such as controls.
func preparePassword(password string) (string, error) {
	// precis replaces invalid UTF-8 with U+FFFD, which would make distinct
	// byte strings the same password.
	if !utf8.ValidString(password) {
		return "", errors.New("sasl: invalid password: not UTF-8")
	}
	p, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", fmt.Errorf("sasl: invalid password: %w", err)
	}
	return p, nil
}

// NewCredentials prepares password with SASLprep (RFC 4013 / OpaqueString)
// and derives fresh-salted SCRAM-SHA-1 and SCRAM-SHA-256 keys with the given
// iteration count (DefaultIterations when <= 0).
//
// Each hash gets its own random salt of saltLen bytes. The error is non-nil
// when the password is empty or not allowed by the OpaqueString profile of
// RFC 8265 (for instance, it contains control characters), or not UTF-8.
func NewCredentials(password string, iterations int) (Credentials, error) {
	if iterations <= 0 {
		iterations = DefaultIterations
	}
	prepared, err := preparePassword(password)
	if err != nil {
		return Credentials{}, err
	}
	var c Credentials
	for _, x := range []struct {
		h   *hashSpec
		dst *SCRAMKey
	}{{sha1Spec, &c.SHA1}, {sha256Spec, &c.SHA256}} {
		salt := make([]byte, saltLen)
		rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
		k, err := x.h.deriveKey(prepared, salt, iterations)
		if err != nil {
			return Credentials{}, fmt.Errorf("sasl: deriving %s key: %w", x.h.name, err)
		}
		*x.dst = k
	}
	return c, nil
}

// errNoKey is why verifyKey fails on credentials without a usable key.
var errNoKey = errors.New("sasl: credentials have no usable key")

// Verify reports, in constant time with respect to the stored keys, whether
// password matches c (used by PLAIN).
//
// It checks the SCRAM-SHA-256 key, or the SCRAM-SHA-1 key when c has no
// SCRAM-SHA-256 key. The password is prepared as NewCredentials does; a
// password the OpaqueString profile rejects never matches. The time taken
// depends on the stored iteration count only.
func (c Credentials) Verify(password string) bool {
	ok, _ := c.verify(password)
	return ok
}

func (c Credentials) verify(password string) (bool, error) {
	h, k := sha256Spec, c.SHA256
	if len(k.StoredKey) == 0 {
		h, k = sha1Spec, c.SHA1
	}
	if !h.valid(k) {
		return false, errNoKey
	}
	prepared, err := preparePassword(password)
	if err != nil {
		return false, err
	}
	salted, err := h.saltedPassword(prepared, k.Salt, k.Iterations)
	if err != nil {
		return false, err
	}
	stored := h.sum(h.clientKey(salted))
	return subtle.ConstantTimeCompare(stored, k.StoredKey) == 1, nil
}

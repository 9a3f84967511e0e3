package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
)

// fakeSecretLen is the length of the per-process fake secret.
const fakeSecretLen = 32

// processSecret keys fake salts when Config.FakeSecret is empty.
var processSecret = sync.OnceValue(func() []byte {
	b := make([]byte, fakeSecretLen)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
})

// fakeKey returns the credentials shown for username when it has no
// account (or no usable key for h): a salt and keys that are a function of
// the secret, the hash and the username only, so that every attempt for the
// same name sees the same salt, as it would for a real account. No password
// matches the keys except by a 2^-size chance, and callers fail the exchange
// anyway.
func fakeKey(cfg Config, h *hashSpec, username string) SCRAMKey {
	secret := cfg.FakeSecret
	if len(secret) == 0 {
		secret = processSecret()
	}
	derive := func(label string, n int) []byte {
		// The NUL separators keep (label, hash, username) triples apart:
		// labels and hash names contain no NUL. n is at most
		// sha256.Size: no salt or hash here is longer.
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label + "\x00" + h.name + "\x00" + username))
		return m.Sum(nil)[:n]
	}
	return SCRAMKey{
		Salt:       derive("salt", saltLen),
		Iterations: iterations(cfg),
		StoredKey:  derive("stored-key", h.size),
		ServerKey:  derive("server-key", h.size),
	}
}

// iterations is the iteration count cfg says accounts are created with.
func iterations(cfg Config) int {
	if cfg.Iterations <= 0 {
		return DefaultIterations
	}
	return cfg.Iterations
}

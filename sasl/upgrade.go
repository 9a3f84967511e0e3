package sasl

import (
	"crypto/rand"
	"fmt"
)

// UpgradeSalt returns a fresh salt for an XEP-0480 SCRAM upgrade task.
func UpgradeSalt() []byte {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	return salt
}

// KeyFromSalted returns the stored key for the SCRAM hash hashName
// ("SHA-1" or "SHA-256") from a SaltedPassword the client computed with
// salt and iterations (XEP-0480 SCRAM upgrade). It fails for an unknown
// hash or a SaltedPassword of the wrong length; whether the client used
// the account's password cannot be checked, which is why only a client
// that has just proved it knows the password may upgrade.
func KeyFromSalted(hashName string, salt []byte, iterations int, salted []byte) (SCRAMKey, error) {
	var h *hashSpec
	switch hashName {
	case sha1Spec.name:
		h = sha1Spec
	case sha256Spec.name:
		h = sha256Spec
	default:
		return SCRAMKey{}, fmt.Errorf("sasl: unknown SCRAM hash %q", hashName)
	}
	if len(salted) != h.size || len(salt) == 0 || iterations <= 0 {
		return SCRAMKey{}, fmt.Errorf("sasl: SaltedPassword of %d bytes for %s", len(salted), hashName)
	}
	return SCRAMKey{
		Salt:       salt,
		Iterations: iterations,
		StoredKey:  h.sum(h.clientKey(salted)),
		ServerKey:  h.hmac(salted, "Server Key"),
	}, nil
}

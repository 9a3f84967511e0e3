package sasl

import (
	"context"
	"encoding/base64"
	"testing"
)

// BenchmarkSCRAMSHA256 measures one whole SCRAM-SHA-256 exchange with
// credentials at DefaultIterations (4096). "server" is the server's work
// with a client whose PBKDF2 result is cached, as real clients do;
// "with-client-kdf" adds the client's PBKDF2 (via xdg-go/scram), which is
// what a login costs end to end.
func BenchmarkSCRAMSHA256(b *testing.B) {
	creds := userCredentials(b)
	cfg := Config{Lookup: mapLookup(map[string]Credentials{testUser: creds})}
	mech := mechanism(b, "SCRAM-SHA-256")
	ctx := context.Background()

	b.Run("server", func(b *testing.B) {
		salted, err := sha256Spec.saltedPassword(testPassword, creds.SHA256.Salt, creds.SHA256.Iterations)
		if err != nil {
			b.Fatal(err)
		}
		clientKey := sha256Spec.clientKey(salted)
		storedKey := sha256Spec.sum(clientKey)
		const first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
		b.ReportAllocs()
		for b.Loop() {
			neg := mech.New(cfg)
			s1, _, err := neg.Step(ctx, []byte(first))
			if err != nil {
				b.Fatal(err)
			}
			withoutProof := "c=biws,r=" + neg.(*scram).nonce
			proof := sha256Spec.hmac(storedKey, "n=user,r=rOprNGfwEbeRWgbNEkqO,"+string(s1)+","+withoutProof)
			for i := range proof {
				proof[i] ^= clientKey[i]
			}
			if _, done, err := neg.Step(ctx, []byte(withoutProof+",p="+base64.StdEncoding.EncodeToString(proof))); err != nil || !done {
				b.Fatal(done, err)
			}
		}
	})
	b.Run("with-client-kdf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// A new client each time: xdg-go/scram caches derived keys.
			conv := xdgClient(b, "SCRAM-SHA-256", testUser, testPassword, "").NewConversation()
			if _, err := runExchange(b, mech.New(cfg), conv); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPLAIN measures a PLAIN login: one PBKDF2 at 4096 iterations.
func BenchmarkPLAIN(b *testing.B) {
	cfg := Config{Lookup: mapLookup(map[string]Credentials{testUser: userCredentials(b)})}
	mech := mechanism(b, "PLAIN")
	for _, bc := range []struct{ name, msg string }{
		{"known", "\x00user\x00pencil"},
		{"unknown", "\x00nobody\x00pencil"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mech.New(cfg).Step(context.Background(), []byte(bc.msg))
			}
		})
	}
}

// BenchmarkNewCredentials measures deriving both keys at 4096 iterations.
func BenchmarkNewCredentials(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewCredentials(testPassword, DefaultIterations); err != nil {
			b.Fatal(err)
		}
	}
}

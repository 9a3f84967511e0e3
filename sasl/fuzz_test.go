package sasl

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
)

// fuzzCredentials use one iteration: the fuzzer should spend its time on
// parsing, not on PBKDF2.
var fuzzCredentials = sync.OnceValues(func() (Credentials, error) {
	return NewCredentials(testPassword, 1)
})

func fuzzConfig(t testing.TB) Config {
	t.Helper()
	c, err := fuzzCredentials()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Lookup:  mapLookup(map[string]Credentials{testUser: c}),
		Binding: testBinding(),
		// Fake keys for unknown users at one iteration too.
		Iterations: 1,
	}
	return cfg
}

// FuzzSCRAM feeds arbitrary client-first and client-final messages to the
// four SCRAM mechanisms. In final, NONCE stands for the nonce the server
// chose and GOOD for the right proof, so the fuzzer reaches the proof check
// and success. Nothing may panic, every error must be a *Failure, and
// success must mean the right user.
func FuzzSCRAM(f *testing.F) {
	seeds := []struct {
		mech         uint8
		plus         bool
		first, final string
	}{
		{0, false, "n,,n=user,r=abc", "c=biws,r=NONCE,p=GOOD"},
		{1, false, "n,a=admin,n=user,r=abc", "c=bixhPWFkbWluLA==,r=NONCE,p=GOOD"},
		{0, true, "y,,n=user,r=abc", "c=eSws,r=NONCE,x=y,p=GOOD"},
		{2, false, "p=tls-exporter,,n=user,r=abc", "c=cD10bHMtZXhwb3J0ZXIsLKqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq,r=NONCE,p=GOOD"},
		{3, true, "p=tls-server-end-point,,n=user,r=abc", "c=biws,r=NONCE,p=AAAA"},
		{0, false, "n,,n=nobody,r=abc", "c=biws,r=NONCE,p=GOOD"},
		{1, false, "n,,m=x,n=user,r=abc", ""},
		{0, false, "n,,n=us=2Cer,r=a", "c=biws,r=NONCE,m=1,p=GOOD"},
		{0, false, "n,,n=user,r=abc", "c=biws,r=NONCE,p=%%%"},
		{0, false, "", "n,,n=user,r=abc"},
		{0, false, "n,,n=\xff,r=abc", ""},
		{1, false, "n,,n=user,r=abc,", "c=,r=,p="},
	}
	for _, s := range seeds {
		f.Add(s.mech, s.plus, []byte(s.first), []byte(s.final))
	}
	mechs := []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"}
	f.Fuzz(func(t *testing.T, mech uint8, plusAdvertised bool, first, final []byte) {
		cfg := fuzzConfig(t)
		cfg.PlusAdvertised = plusAdvertised
		neg := mechanism(t, mechs[int(mech)%len(mechs)]).New(cfg)
		ctx := context.Background()
		s1, done, err := neg.Step(ctx, first)
		if err != nil {
			failure(t, err)
			return
		}
		if done {
			t.Fatal("done after the first message")
		}
		s := neg.(*scram)
		if s.nonce != "" {
			final = bytes.ReplaceAll(final, []byte("NONCE"), []byte(s.nonce))
		}
		if i := bytes.LastIndex(final, []byte(",p=GOOD")); i >= 0 && s.serverFirst != "" {
			proof := testProof(t, s.h, s.key, testPassword, s.first.bare+","+string(s1)+","+string(final[:i]))
			final = bytes.ReplaceAll(final, []byte("GOOD"), []byte(proof))
		}
		s2, done, err := neg.Step(ctx, final)
		if err != nil {
			failure(t, err)
			return
		}
		if len(first) == 0 { // the second Step took client-first
			return
		}
		if !done || !strings.HasPrefix(string(s2), "v=") || neg.Username() != testUser {
			t.Fatalf("success with %q, done %v, user %q", s2, done, neg.Username())
		}
	})
}

// FuzzPLAIN feeds arbitrary PLAIN messages.
func FuzzPLAIN(f *testing.F) {
	for _, s := range []string{
		"\x00user\x00pencil", "authz\x00user\x00pencil", "\x00nobody\x00pencil",
		"\x00user\x00", "user", "\x00\x00", "\x00user\x00pen\xffcil", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		neg := mechanism(t, "PLAIN").New(fuzzConfig(t))
		challenge, done, err := neg.Step(context.Background(), msg)
		switch {
		case err != nil:
			failure(t, err)
		case len(msg) == 0:
			if done || challenge == nil {
				t.Fatalf("Step(empty) = %q, %v", challenge, done)
			}
		case !done:
			t.Fatal("PLAIN not done after its message")
		case neg.Username() != testUser || !bytes.HasSuffix(msg, []byte("\x00"+testPassword)):
			t.Fatalf("success for %q as %q", msg, neg.Username())
		}
	})
}

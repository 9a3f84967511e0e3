package sasl

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	xdg "github.com/xdg-go/scram"
)

// TestSCRAMVectors replays the examples of RFC 5802 §5 and RFC 7677 §3
// with the server nonce fixed, checking every server message byte for byte.
func TestSCRAMVectors(t *testing.T) {
	tests := []struct {
		name        string
		h           *hashSpec
		salt        string
		serverNonce string
		clientFirst string
		serverFirst string
		clientFinal string
		serverFinal string
	}{
		{
			name:        "RFC 5802 SCRAM-SHA-1",
			h:           sha1Spec,
			salt:        "QSXCR+Q6sek8bf92",
			serverNonce: "3rfcNHYJY1ZVvWVs7j",
			clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name:        "RFC 7677 SCRAM-SHA-256",
			h:           sha256Spec,
			salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
			serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			salt, err := base64.StdEncoding.DecodeString(tt.salt)
			if err != nil {
				t.Fatal(err)
			}
			key, err := tt.h.deriveKey("pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			var creds Credentials
			if tt.h == sha1Spec {
				creds.SHA1 = key
			} else {
				creds.SHA256 = key
			}
			s := newSCRAM(Config{Lookup: mapLookup(map[string]Credentials{"user": creds})}, tt.h, false)
			s.serverNonce = func() string { return tt.serverNonce }
			ctx := context.Background()

			got, done, err := s.Step(ctx, []byte(tt.clientFirst))
			if err != nil || done || string(got) != tt.serverFirst {
				t.Fatalf("server-first = %q, %v, %v; want %q", got, done, err, tt.serverFirst)
			}
			got, done, err = s.Step(ctx, []byte(tt.clientFinal))
			if err != nil || !done || string(got) != tt.serverFinal {
				t.Fatalf("server-final = %q, %v, %v; want %q", got, done, err, tt.serverFinal)
			}
			if s.Username() != "user" || s.AuthzID() != "" {
				t.Errorf("Username, AuthzID = %q, %q", s.Username(), s.AuthzID())
			}
		})
	}
}

// TestSCRAMClient runs whole exchanges against xdg-go/scram's client.
func TestSCRAMClient(t *testing.T) {
	const oddUser = "us,er=x" // needs saslname escaping both ways
	tests := []struct {
		name     string
		mech     string
		user     string
		password string
		authzID  string
		cbType   string // client uses p=cbType
		cbData   []byte // instead of the connection's data
		yFlag    bool   // client uses y
		plusAdv  bool
		types    []string // channel binding types of the connection; nil: both
		wantCond string
		wantText string
	}{
		{name: "SHA-1", mech: "SCRAM-SHA-1"},
		{name: "SHA-256", mech: "SCRAM-SHA-256"},
		{name: "SHA-256 with authzid", mech: "SCRAM-SHA-256", authzID: "admin@example.org,x=y"},
		{name: "SHA-256 escaped username", mech: "SCRAM-SHA-256", user: oddUser},
		// The account's password was set as "pen\u00a0cil": OpaqueString here
		// and SASLprep there both map the no-break space to a space.
		{name: "SHA-256 password prepared alike", mech: "SCRAM-SHA-256", password: "pen cil", user: "nbsp"},
		{name: "SHA-1 password prepared alike", mech: "SCRAM-SHA-1", password: "pen\u2003cil", user: "nbsp"},
		{name: "SHA-1-PLUS tls-exporter", mech: "SCRAM-SHA-1-PLUS", cbType: "tls-exporter", plusAdv: true},
		{name: "SHA-1-PLUS tls-server-end-point", mech: "SCRAM-SHA-1-PLUS", cbType: "tls-server-end-point", plusAdv: true},
		{name: "SHA-256-PLUS tls-exporter", mech: "SCRAM-SHA-256-PLUS", cbType: "tls-exporter", plusAdv: true},
		{name: "SHA-256-PLUS tls-server-end-point", mech: "SCRAM-SHA-256-PLUS", cbType: "tls-server-end-point", plusAdv: true, authzID: "a"},
		{name: "y flag without PLUS offered", mech: "SCRAM-SHA-256", yFlag: true},
		{name: "y flag downgrade SHA-256", mech: "SCRAM-SHA-256", yFlag: true, plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "server-does-support-channel-binding"},
		{name: "y flag downgrade SHA-1", mech: "SCRAM-SHA-1", yFlag: true, plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "server-does-support-channel-binding"},
		{name: "n flag with PLUS offered", mech: "SCRAM-SHA-256", plusAdv: true},
		{name: "wrong password SHA-1", mech: "SCRAM-SHA-1", password: "pencil2",
			wantCond: CondNotAuthorized, wantText: "invalid-proof"},
		{name: "wrong password SHA-256-PLUS", mech: "SCRAM-SHA-256-PLUS", password: "Pencil", cbType: "tls-exporter", plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "invalid-proof"},
		{name: "unknown user", mech: "SCRAM-SHA-256", user: "nobody",
			wantCond: CondNotAuthorized, wantText: "invalid-proof"},
		{name: "unknown user PLUS", mech: "SCRAM-SHA-1-PLUS", user: "nobody", cbType: "tls-exporter", plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "invalid-proof"},
		{name: "channel binding data mismatch", mech: "SCRAM-SHA-256-PLUS", cbType: "tls-exporter", cbData: []byte("other connection"), plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "channel-bindings-dont-match"},
		{name: "channel binding data of other type", mech: "SCRAM-SHA-1-PLUS", cbType: "tls-exporter", cbData: testBindingData["tls-server-end-point"], plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "channel-bindings-dont-match"},
		{name: "channel binding type not available", mech: "SCRAM-SHA-256-PLUS", cbType: "tls-server-end-point", types: []string{"tls-exporter"}, plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "unsupported-channel-binding-type"},
		{name: "tls-unique not supported", mech: "SCRAM-SHA-256-PLUS", cbType: "tls-unique", cbData: []byte("finished"), plusAdv: true,
			wantCond: CondNotAuthorized, wantText: "unsupported-channel-binding-type"},
		{name: "p flag on non-PLUS", mech: "SCRAM-SHA-256", cbType: "tls-exporter", plusAdv: true,
			wantCond: CondMalformedRequest},
		{name: "n flag on PLUS", mech: "SCRAM-SHA-256-PLUS", plusAdv: true,
			wantCond: CondMalformedRequest},
		{name: "y flag on PLUS", mech: "SCRAM-SHA-1-PLUS", yFlag: true, plusAdv: true,
			wantCond: CondMalformedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, password := tt.user, tt.password
			if user == "" {
				user = testUser
			}
			if password == "" {
				password = testPassword
			}
			cfg := testConfig(t, oddUser)
			cfg.Lookup = mapLookup(map[string]Credentials{
				testUser: userCredentials(t),
				oddUser:  userCredentials(t),
				"nbsp":   nbspCredentials(t),
			})
			cfg.PlusAdvertised = tt.plusAdv
			if tt.types != nil {
				cfg.Binding.Types = tt.types
			}
			client := xdgClient(t, tt.mech, user, password, tt.authzID)
			var conv *xdg.ClientConversation
			switch {
			case tt.cbType != "":
				data := tt.cbData
				if data == nil {
					data = testBindingData[tt.cbType]
				}
				conv = client.NewConversationWithChannelBinding(xdg.ChannelBinding{
					Type: xdg.ChannelBindingType(tt.cbType), Data: data,
				})
			case tt.yFlag:
				conv = client.NewConversationAdvertisingChannelBinding()
			default:
				conv = client.NewConversation()
			}
			neg := mechanism(t, tt.mech).New(cfg)
			_, err := runExchange(t, neg, conv)
			checkFailure(t, err, tt.wantCond, tt.wantText)
			if tt.wantCond != "" {
				// Claimed, not authenticated: for throttling and logs.
				if got := neg.Username(); got != user {
					t.Errorf("Username() = %q after failure, want the claimed %q", got, user)
				}
				return
			}
			if neg.Username() != user || neg.AuthzID() != tt.authzID {
				t.Errorf("Username, AuthzID = %q, %q; want %q, %q", neg.Username(), neg.AuthzID(), user, tt.authzID)
			}
		})
	}
}

var nbspCredentialsOnce = sync.OnceValues(func() (Credentials, error) {
	return NewCredentials("pen\u00a0cil", DefaultIterations)
})

func nbspCredentials(t testing.TB) Credentials {
	t.Helper()
	c, err := nbspCredentialsOnce()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSCRAMUnknownUser checks that an unknown user cannot be told from a
// known one with a wrong password: same failure, a salt of the same shape
// and iteration count, stable across attempts.
func TestSCRAMUnknownUser(t *testing.T) {
	// serverFirst runs one failing exchange and returns the salt and
	// iteration count the server showed, and the failure.
	attempt := func(t *testing.T, cfg Config, mech, user string) (salt, iter string, f *Failure) {
		t.Helper()
		conv := xdgClient(t, mech, user, "wrong password", "").NewConversation()
		s1, err := runExchange(t, mechanism(t, mech).New(cfg), conv)
		if err == nil {
			t.Fatal("exchange succeeded")
		}
		attrs := strings.Split(s1, ",")
		if len(attrs) != 3 {
			t.Fatalf("server-first %q", s1)
		}
		return attrs[1], attrs[2], failure(t, err)
	}
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256"} {
		t.Run(mech, func(t *testing.T) {
			cfg := testConfig(t)
			knownSalt, knownIter, knownFail := attempt(t, cfg, mech, testUser)
			salt1, iter1, fail1 := attempt(t, cfg, mech, "nobody")
			salt2, _, fail2 := attempt(t, cfg, mech, "nobody")
			otherSalt, _, _ := attempt(t, cfg, mech, "somebody")

			if fail1.Condition != knownFail.Condition || fail1.Text != knownFail.Text ||
				fail2.Condition != knownFail.Condition || fail2.Text != knownFail.Text {
				t.Errorf("unknown user failed with %s/%s, known with %s/%s",
					fail1.Condition, fail1.Text, knownFail.Condition, knownFail.Text)
			}
			if iter1 != knownIter {
				t.Errorf("iterations %s for unknown user, %s for known", iter1, knownIter)
			}
			if len(salt1) != len(knownSalt) {
				t.Errorf("salt %s for unknown user, %s for known: lengths differ", salt1, knownSalt)
			}
			if salt1 != salt2 {
				t.Errorf("unknown user's salt changed between attempts: %s, %s", salt1, salt2)
			}
			if salt1 == otherSalt {
				t.Errorf("two unknown users share salt %s", salt1)
			}
		})
	}
	t.Run("salt per hash", func(t *testing.T) {
		cfg := testConfig(t)
		s1, _, _ := attempt(t, cfg, "SCRAM-SHA-1", "nobody")
		s256, _, _ := attempt(t, cfg, "SCRAM-SHA-256", "nobody")
		if s1 == s256 {
			t.Errorf("unknown user has salt %s for both hashes", s1)
		}
	})
	t.Run("configured iterations and secret", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Iterations = 10000
		cfg.FakeSecret = []byte("persistent secret")
		salt1, iter, _ := attempt(t, cfg, "SCRAM-SHA-256", "nobody")
		if iter != "i=10000" {
			t.Errorf("iterations %s, want i=10000", iter)
		}
		// A restart keeps the secret: a fresh Config gives the same salt.
		cfg2 := testConfig(t)
		cfg2.Iterations = 10000
		cfg2.FakeSecret = []byte("persistent secret")
		if salt2, _, _ := attempt(t, cfg2, "SCRAM-SHA-256", "nobody"); salt1 != salt2 {
			t.Errorf("salt %s after restart, was %s", salt2, salt1)
		}
		cfg2.FakeSecret = []byte("other secret")
		if salt3, _, _ := attempt(t, cfg2, "SCRAM-SHA-256", "nobody"); salt1 == salt3 {
			t.Errorf("salt %s does not depend on the secret", salt3)
		}
	})
	t.Run("account without key for the hash", func(t *testing.T) {
		creds := userCredentials(t)
		creds.SHA1 = SCRAMKey{}
		cfg := Config{Lookup: mapLookup(map[string]Credentials{testUser: creds})}
		_, iter, f := attempt(t, cfg, "SCRAM-SHA-1", testUser)
		if f.Condition != CondNotAuthorized || iter != "i=4096" {
			t.Errorf("failure %s, %s; want not-authorized, i=4096", f.Condition, iter)
		}
	})
}

// TestSCRAMFakeKeyNeverSucceeds checks the guard behind the proof check:
// a proof that matches the key still fails when the key is not the user's
// own. (A proof matching a fake key cannot be made, so the test makes the
// real key look fake instead.)
func TestSCRAMFakeKeyNeverSucceeds(t *testing.T) {
	for _, known := range []bool{true, false} {
		t.Run(map[bool]string{true: "real key", false: "key marked fake"}[known], func(t *testing.T) {
			s := newSCRAM(testConfig(t), sha256Spec, false)
			ctx := context.Background()
			s1, _, err := s.Step(ctx, []byte("n,,n=user,r=abc"))
			if err != nil {
				t.Fatal(err)
			}
			s.known = known
			withoutProof := "c=biws,r=" + s.nonce
			proof := testProof(t, sha256Spec, s.key, testPassword, "n=user,r=abc,"+string(s1)+","+withoutProof)
			_, _, err = s.Step(ctx, []byte(withoutProof+",p="+proof))
			if known {
				checkFailure(t, err, "", "")
			} else {
				checkFailure(t, err, CondNotAuthorized, "invalid-proof")
			}
		})
	}
}

// TestSCRAMClientFirst feeds client-first-messages to a fresh negotiator.
func TestSCRAMClientFirst(t *testing.T) {
	tests := []struct {
		name     string
		mech     string // default SCRAM-SHA-256
		msg      string
		wantCond string
		wantText string
	}{
		{name: "ok", msg: "n,,n=user,r=abc"},
		{name: "ok with authzid", msg: "n,a=admin,n=user,r=abc"},
		{name: "ok with extension", msg: "n,,n=user,r=abc,x=foo=bar"},
		{name: "ok escaped names", msg: "n,a=a=2Cb=3Dc,n=u=3D=2C,r=abc"},
		{name: "ok PLUS", mech: "SCRAM-SHA-1-PLUS", msg: "p=tls-exporter,,n=user,r=abc"},
		{name: "ok y without PLUS advertised", mech: "SCRAM-SHA-1", msg: "y,,n=user,r=abc"}, // cfg below sets PlusAdvertised only for PLUS
		{name: "no comma", msg: "n", wantCond: CondMalformedRequest},
		{name: "bad flag", msg: "x,,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "nonstandard GS2 flag", msg: "F,n,,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "flag with value", msg: "n=1,,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "gs2 header unterminated", msg: "n,a=admin", wantCond: CondMalformedRequest},
		{name: "missing authzid separator", msg: "n,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "bad authzid attribute", msg: "n,b=x,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "empty authzid", msg: "n,a=,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "bad authzid escape", msg: "n,a=b=c,n=user,r=abc", wantCond: CondMalformedRequest, wantText: "invalid-username-encoding"},
		{name: "empty bare", msg: "n,,", wantCond: CondMalformedRequest},
		{name: "no nonce", msg: "n,,n=user", wantCond: CondMalformedRequest},
		{name: "order swapped", msg: "n,,r=abc,n=user", wantCond: CondMalformedRequest},
		{name: "extension before nonce", msg: "n,,n=user,x=1,r=abc", wantCond: CondMalformedRequest},
		{name: "empty username", msg: "n,,n=,r=abc", wantCond: CondMalformedRequest},
		{name: "username bad escape", msg: "n,,n=us=er,r=abc", wantCond: CondMalformedRequest, wantText: "invalid-username-encoding"},
		{name: "username lower-case escape", msg: "n,,n=us=2cer,r=abc", wantCond: CondMalformedRequest, wantText: "invalid-username-encoding"},
		{name: "username truncated escape", msg: "n,,n=user=2,r=abc", wantCond: CondMalformedRequest, wantText: "invalid-username-encoding"},
		{name: "empty nonce", msg: "n,,n=user,r=", wantCond: CondMalformedRequest},
		{name: "nonce with space", msg: "n,,n=user,r=a c", wantCond: CondMalformedRequest},
		{name: "nonce with DEL", msg: "n,,n=user,r=a\x7f", wantCond: CondMalformedRequest},
		{name: "nonce not ASCII", msg: "n,,n=user,r=ab\u00e9", wantCond: CondMalformedRequest},
		{name: "not UTF-8", msg: "n,,n=\xff\xfe,r=abc", wantCond: CondMalformedRequest},
		{name: "NUL", msg: "n,,n=us\x00er,r=abc", wantCond: CondMalformedRequest},
		{name: "mandatory extension first", msg: "n,,m=foo,n=user,r=abc", wantCond: CondMalformedRequest, wantText: "extensions-not-supported"},
		{name: "mandatory extension alone", msg: "n,,m=foo", wantCond: CondMalformedRequest, wantText: "extensions-not-supported"},
		{name: "mandatory extension later", msg: "n,,n=user,r=abc,m=foo", wantCond: CondMalformedRequest, wantText: "extensions-not-supported"},
		{name: "extension without value", msg: "n,,n=user,r=abc,x=", wantCond: CondMalformedRequest},
		{name: "extension without equals", msg: "n,,n=user,r=abc,x", wantCond: CondMalformedRequest},
		{name: "extension bad name", msg: "n,,n=user,r=abc,1=x", wantCond: CondMalformedRequest},
		{name: "extension long name", msg: "n,,n=user,r=abc,xy=z", wantCond: CondMalformedRequest},
		{name: "trailing comma", msg: "n,,n=user,r=abc,", wantCond: CondMalformedRequest},
		{name: "duplicate nonce", msg: "n,,n=user,r=abc,r=def", wantCond: CondMalformedRequest},
		{name: "p flag on non-PLUS", msg: "p=tls-exporter,,n=user,r=abc", wantCond: CondMalformedRequest, wantText: "channel-binding-not-supported"},
		{name: "empty cb-name", mech: "SCRAM-SHA-256-PLUS", msg: "p=,,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "bad cb-name", mech: "SCRAM-SHA-256-PLUS", msg: "p=tls_exporter,,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "cb type not offered", mech: "SCRAM-SHA-256-PLUS", msg: "p=tls-unique,,n=user,r=abc", wantCond: CondNotAuthorized, wantText: "unsupported-channel-binding-type"},
		{name: "cb type case differs", mech: "SCRAM-SHA-256-PLUS", msg: "p=TLS-EXPORTER,,n=user,r=abc", wantCond: CondNotAuthorized},
		{name: "n on PLUS", mech: "SCRAM-SHA-256-PLUS", msg: "n,,n=user,r=abc", wantCond: CondMalformedRequest},
		{name: "y on PLUS", mech: "SCRAM-SHA-256-PLUS", msg: "y,,n=user,r=abc", wantCond: CondMalformedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mech := tt.mech
			if mech == "" {
				mech = "SCRAM-SHA-256"
			}
			cfg := testConfig(t)
			cfg.PlusAdvertised = strings.HasSuffix(mech, "-PLUS")
			neg := mechanism(t, mech).New(cfg)
			challenge, done, err := neg.Step(context.Background(), []byte(tt.msg))
			checkFailure(t, err, tt.wantCond, tt.wantText)
			if done {
				t.Error("done after client-first-message")
			}
			if err == nil && !strings.HasPrefix(string(challenge), "r=abc") {
				t.Errorf("server-first = %q", challenge)
			}
		})
	}
}

// TestSCRAMClientFinal feeds client-final-messages after a valid
// client-first-message "n,,n=user,r=abc". NONCE in msg stands for the
// nonce the server chose; PROOF for a proof of the right length that is
// wrong, and GOOD for the right proof.
func TestSCRAMClientFinal(t *testing.T) {
	zero := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name     string
		msg      string
		wantCond string
		wantText string
	}{
		{name: "ok", msg: "c=biws,r=NONCE,p=GOOD"},
		{name: "ok with extension", msg: "c=biws,r=NONCE,x=1,y=a=b,p=GOOD"},
		{name: "wrong proof", msg: "c=biws,r=NONCE,p=PROOF", wantCond: CondNotAuthorized, wantText: "invalid-proof"},
		{name: "wrong proof with extension", msg: "c=biws,r=NONCE,x=1,p=PROOF", wantCond: CondNotAuthorized, wantText: "invalid-proof"},
		{name: "empty", msg: "", wantCond: CondMalformedRequest},
		{name: "no proof", msg: "c=biws,r=NONCE", wantCond: CondMalformedRequest},
		{name: "proof not last", msg: "c=biws,r=NONCE,p=GOOD,x=1", wantCond: CondMalformedRequest},
		{name: "order swapped", msg: "r=NONCE,c=biws,p=GOOD", wantCond: CondMalformedRequest},
		{name: "extension before nonce", msg: "c=biws,x=1,r=NONCE,p=GOOD", wantCond: CondMalformedRequest},
		{name: "proof bad base64", msg: "c=biws,r=NONCE,p=%%%%", wantCond: CondIncorrectEncoding},
		{name: "proof bad padding", msg: "c=biws,r=NONCE,p=" + strings.TrimRight(zero, "="), wantCond: CondIncorrectEncoding},
		{name: "proof with line break", msg: "c=biws,r=NONCE,p=" + zero[:4] + "\n" + zero[4:], wantCond: CondIncorrectEncoding},
		{name: "proof non-canonical base64", msg: "c=biws,r=NONCE,p=AB==", wantCond: CondIncorrectEncoding},
		{name: "proof empty", msg: "c=biws,r=NONCE,p=", wantCond: CondMalformedRequest},
		{name: "proof too short", msg: "c=biws,r=NONCE,p=AAAA", wantCond: CondMalformedRequest},
		{name: "proof too long", msg: "c=biws,r=NONCE,p=" + base64.StdEncoding.EncodeToString(make([]byte, 33)), wantCond: CondMalformedRequest},
		{name: "binding bad base64", msg: "c=bi*s,r=NONCE,p=GOOD", wantCond: CondIncorrectEncoding},
		{name: "binding truncated base64", msg: "c=biw,r=NONCE,p=GOOD", wantCond: CondIncorrectEncoding},
		{name: "binding empty", msg: "c=,r=NONCE,p=GOOD", wantCond: CondNotAuthorized, wantText: "channel-bindings-dont-match"},
		{name: "binding of y header", msg: "c=eSws,r=NONCE,p=GOOD", wantCond: CondNotAuthorized, wantText: "channel-bindings-dont-match"},
		{name: "binding with data", msg: "c=" + base64.StdEncoding.EncodeToString([]byte("n,,x")) + ",r=NONCE,p=GOOD", wantCond: CondNotAuthorized, wantText: "channel-bindings-dont-match"},
		{name: "client nonce only", msg: "c=biws,r=abc,p=GOOD", wantCond: CondNotAuthorized},
		{name: "nonce extended", msg: "c=biws,r=NONCEx,p=GOOD", wantCond: CondNotAuthorized},
		{name: "nonce empty", msg: "c=biws,r=,p=GOOD", wantCond: CondNotAuthorized},
		{name: "mandatory extension", msg: "c=biws,r=NONCE,m=1,p=GOOD", wantCond: CondMalformedRequest, wantText: "extensions-not-supported"},
		{name: "duplicate binding", msg: "c=biws,r=NONCE,c=biws,p=GOOD", wantCond: CondMalformedRequest},
		{name: "duplicate proof", msg: "c=biws,r=NONCE,p=PROOF,p=GOOD", wantCond: CondMalformedRequest},
		{name: "bad extension", msg: "c=biws,r=NONCE,x,p=GOOD", wantCond: CondMalformedRequest},
		{name: "not UTF-8", msg: "c=biws,r=NONCE,x=\xc3,p=GOOD", wantCond: CondMalformedRequest},
		{name: "NUL", msg: "c=biws,r=NONCE,x=\x00,p=GOOD", wantCond: CondMalformedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			neg := newSCRAM(testConfig(t), sha256Spec, false)
			ctx := context.Background()
			s1, _, err := neg.Step(ctx, []byte("n,,n=user,r=abc"))
			if err != nil {
				t.Fatal(err)
			}
			msg := strings.ReplaceAll(tt.msg, "NONCE", neg.nonce)
			msg = strings.ReplaceAll(msg, "PROOF", zero)
			if strings.Contains(msg, "GOOD") {
				withoutProof := msg[:strings.LastIndex(msg, ",p=GOOD")]
				proof := testProof(t, sha256Spec, userCredentials(t).SHA256, testPassword, "n=user,r=abc,"+string(s1)+","+withoutProof)
				msg = strings.ReplaceAll(msg, "GOOD", proof)
			}
			s2, done, err := neg.Step(ctx, []byte(msg))
			checkFailure(t, err, tt.wantCond, tt.wantText)
			if done != (err == nil) {
				t.Errorf("done = %v with err = %v", done, err)
			}
			if err == nil && !strings.HasPrefix(string(s2), "v=") {
				t.Errorf("server-final = %q", s2)
			}
		})
	}
}

// testProof computes a ClientProof the way RFC 5802 §3 says a client does.
func testProof(t testing.TB, h *hashSpec, key SCRAMKey, password, authMessage string) string {
	t.Helper()
	salted, err := h.saltedPassword(password, key.Salt, key.Iterations)
	if err != nil {
		t.Fatal(err)
	}
	clientKey := h.clientKey(salted)
	proof := h.hmac(h.sum(clientKey), authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	return base64.StdEncoding.EncodeToString(proof)
}

// TestSCRAMSteps checks the Step protocol around the messages: a missing
// initial response, and Step after the end.
func TestSCRAMSteps(t *testing.T) {
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"} {
		t.Run(mech+"/no initial response", func(t *testing.T) {
			neg := mechanism(t, mech).New(testConfig(t))
			if neg.Username() != "" || neg.AuthzID() != "" {
				t.Errorf("Username, AuthzID = %q, %q before any message", neg.Username(), neg.AuthzID())
			}
			challenge, done, err := neg.Step(context.Background(), nil)
			if err != nil || done || challenge == nil || len(challenge) != 0 {
				t.Fatalf("Step(empty) = %q, %v, %v; want empty challenge", challenge, done, err)
			}
			client := xdgClient(t, mech, testUser, testPassword, "")
			conv := client.NewConversation()
			if strings.HasSuffix(mech, "-PLUS") {
				conv = client.NewConversationWithChannelBinding(xdg.ChannelBinding{
					Type: xdg.ChannelBindingTLSExporter, Data: testBindingData["tls-exporter"],
				})
			}
			if _, err := runExchange(t, neg, conv); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(mech+"/two empty messages", func(t *testing.T) {
			neg := mechanism(t, mech).New(testConfig(t))
			neg.Step(context.Background(), nil)
			_, _, err := neg.Step(context.Background(), nil)
			checkFailure(t, err, CondMalformedRequest, "")
		})
	}
	t.Run("after success", func(t *testing.T) {
		neg := mechanism(t, "SCRAM-SHA-256").New(testConfig(t))
		conv := xdgClient(t, "SCRAM-SHA-256", testUser, testPassword, "").NewConversation()
		if _, err := runExchange(t, neg, conv); err != nil {
			t.Fatal(err)
		}
		_, _, err := neg.Step(context.Background(), []byte("n,,n=user,r=abc"))
		checkFailure(t, err, CondMalformedRequest, "")
		if neg.Username() != testUser {
			t.Errorf("Username() = %q", neg.Username())
		}
	})
	t.Run("after failure", func(t *testing.T) {
		neg := mechanism(t, "SCRAM-SHA-256").New(testConfig(t))
		_, _, err := neg.Step(context.Background(), []byte("bogus"))
		checkFailure(t, err, CondMalformedRequest, "")
		_, _, err = neg.Step(context.Background(), []byte("n,,n=user,r=abc"))
		checkFailure(t, err, CondMalformedRequest, "")
	})
}

// TestSCRAMEnvironmentErrors checks failures that are the server's fault.
func TestSCRAMEnvironmentErrors(t *testing.T) {
	errStorage := errors.New("storage down")
	tests := []struct {
		name  string
		mech  string
		msg   string
		setup func(*Config)
		want  string
		is    error
	}{
		{name: "lookup error", mech: "SCRAM-SHA-256", msg: "n,,n=user,r=abc",
			setup: func(c *Config) {
				c.Lookup = func(context.Context, string) (Credentials, error) { return Credentials{}, errStorage }
			},
			want: CondTemporaryAuthFailure, is: errStorage},
		{name: "lookup cancelled", mech: "SCRAM-SHA-1", msg: "n,,n=user,r=abc",
			setup: func(c *Config) {
				c.Lookup = func(ctx context.Context, _ string) (Credentials, error) { return Credentials{}, context.Canceled }
			},
			want: CondTemporaryAuthFailure, is: context.Canceled},
		{name: "wrapped unknown user is unknown user", mech: "SCRAM-SHA-1", msg: "n,,n=user,r=abc",
			setup: func(c *Config) {
				c.Lookup = func(context.Context, string) (Credentials, error) {
					return Credentials{}, errors.Join(errors.New("no row"), ErrUnknownUser)
				}
			}},
		{name: "no lookup", mech: "SCRAM-SHA-256", msg: "n,,n=user,r=abc",
			setup: func(c *Config) { c.Lookup = nil }, want: CondTemporaryAuthFailure},
		{name: "binding data error", mech: "SCRAM-SHA-256-PLUS", msg: "p=tls-exporter,,n=user,r=abc",
			setup: func(c *Config) {
				c.Binding.Data = func(string) ([]byte, error) { return nil, errStorage }
			},
			want: CondTemporaryAuthFailure, is: errStorage},
		{name: "no binding data source", mech: "SCRAM-SHA-256-PLUS", msg: "p=tls-exporter,,n=user,r=abc",
			setup: func(c *Config) { c.Binding.Data = nil }, want: CondTemporaryAuthFailure},
		{name: "no TLS", mech: "SCRAM-SHA-256-PLUS", msg: "p=tls-exporter,,n=user,r=abc",
			setup: func(c *Config) { c.Binding = ChannelBinding{} }, want: CondNotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.setup(&cfg)
			_, _, err := mechanism(t, tt.mech).New(cfg).Step(context.Background(), []byte(tt.msg))
			checkFailure(t, err, tt.want, "")
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestDecodeSASLName(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "plain", in: "user", want: "user"},
		{name: "comma", in: "a=2Cb", want: "a,b"},
		{name: "equals", in: "a=3Db", want: "a=b"},
		{name: "escape of escape", in: "=3D2C", want: "=2C"},
		{name: "both at ends", in: "=2C=3D", want: ",="},
		{name: "UTF-8", in: "j\u00fcrgen", want: "j\u00fcrgen"},
		{name: "empty", in: "", wantErr: true},
		{name: "bare equals", in: "a=b", wantErr: true},
		{name: "trailing equals", in: "a=", wantErr: true},
		{name: "short escape", in: "a=2", wantErr: true},
		{name: "lower case", in: "a=3d", wantErr: true},
		{name: "other hex", in: "a=41", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSASLName(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("decodeSASLName(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestServerNonce(t *testing.T) {
	a, b := randomNonce(), randomNonce()
	if a == b {
		t.Errorf("two nonces equal: %s", a)
	}
	raw, err := base64.StdEncoding.DecodeString(a)
	if err != nil || len(raw) < 18 || !validNonce(a) {
		t.Errorf("nonce %q: %d bytes, %v, printable %v", a, len(raw), err, validNonce(a))
	}
}

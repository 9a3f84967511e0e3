package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// TestTokenKey checks that the stored key of a long token gives the
// same MACs as the token itself (RFC 2104 §2), which is what lets FAST
// keep a hash of the token instead of the token.
func TestTokenKey(t *testing.T) {
	long := strings.Repeat("x", 96)
	mac := func(key []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte("Initiator"))
		return m.Sum(nil)
	}
	if !bytes.Equal(mac(TokenKey(long)), mac([]byte(long))) {
		t.Errorf("HMAC with TokenKey differs from HMAC with the token")
	}
	if k := TokenKey(long); len(k) != sha256.Size || bytes.Contains([]byte(long), k) {
		t.Errorf("TokenKey of a long token is not its hash")
	}
	if string(TokenKey("short")) != "short" {
		t.Errorf("TokenKey of a short token changed it")
	}
}

func htMessage(user, token string, cb []byte) []byte {
	return append([]byte(user+"\x00"), htMAC(TokenKey(token), "Initiator", cb)...)
}

func TestHT(t *testing.T) {
	token := strings.Repeat("t", 96)
	cbData := bytes.Repeat([]byte{9}, 32)
	binding := ChannelBinding{Types: []string{"tls-exporter"}, Data: func(string) ([]byte, error) { return cbData, nil }}
	lookup := func(_ context.Context, user, mech string) ([][]byte, error) {
		if user != "alice" {
			return nil, nil
		}
		return [][]byte{TokenKey("other token"), TokenKey(token)}, nil
	}
	mech := func(name string) Mechanism {
		for _, m := range TokenMechanisms(binding) {
			if m.Name == name {
				return m
			}
		}
		t.Fatalf("%s not offered", name)
		return Mechanism{}
	}
	if len(TokenMechanisms(binding)) != 2 || len(TokenMechanisms(ChannelBinding{})) != 1 {
		t.Errorf("offered %v", TokenMechanisms(binding))
	}
	tests := []struct {
		name, mech string
		msg        []byte
		want       string // failure condition, "" for success
	}{
		{"none", HTNone, htMessage("alice", token, nil), ""},
		{"exporter", HTExpr, htMessage("alice", token, cbData), ""},
		{"exporter without binding data", HTExpr, htMessage("alice", token, nil), CondNotAuthorized},
		{"wrong token", HTNone, htMessage("alice", token+"x", nil), CondNotAuthorized},
		{"unknown user", HTNone, htMessage("bob", token, nil), CondNotAuthorized},
		{"no separator", HTNone, []byte("alice"), CondMalformedRequest},
		{"short mac", HTNone, []byte("alice\x00abc"), CondMalformedRequest},
		{"empty user", HTNone, htMessage("", token, nil), CondMalformedRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			neg := mech(tc.mech).New(Config{Binding: binding, Tokens: lookup})
			out, done, err := neg.Step(context.Background(), tc.msg)
			if tc.want != "" {
				var f *Failure
				if !errors.As(err, &f) || f.Condition != tc.want {
					t.Fatalf("got %v, want %s", err, tc.want)
				}
				return
			}
			if err != nil || !done {
				t.Fatalf("Step: %v %v", done, err)
			}
			cb := []byte(nil)
			if tc.mech == HTExpr {
				cb = cbData
			}
			if !bytes.Equal(out, htMAC(TokenKey(token), "Responder", cb)) {
				t.Errorf("wrong server answer")
			}
			if !bytes.Equal(neg.(TokenNegotiator).MatchedKey(), TokenKey(token)) {
				t.Errorf("matched the wrong key")
			}
			if _, _, err := neg.Step(context.Background(), tc.msg); err == nil {
				t.Errorf("a second Step succeeded")
			}
		})
	}
}

// TestSSDPHashXEPExample checks the hash of the XEP-0474 §5.3 example.
func TestSSDPHashXEPExample(t *testing.T) {
	got := sha1Spec.ssdpHash(&Advertisement{
		Mechanisms:      []string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
		ChannelBindings: []string{"tls-server-end-point", "tls-exporter"},
		CBAdvertised:    true,
	})
	if got != "G6k/rBLDqgOhRRaCuuatSDFkJ08=" {
		t.Errorf("got %s", got)
	}
}

// TestKeyFromSalted derives from a client's SaltedPassword the key the
// server would have derived from the password.
func TestKeyFromSalted(t *testing.T) {
	salt := UpgradeSalt()
	want, err := sha256Spec.deriveKey("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	salted, err := pbkdf2.Key(sha256.New, "pencil", salt, 4096, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	got, err := KeyFromSalted("SHA-256", salt, 4096, salted)
	if err != nil || !bytes.Equal(got.StoredKey, want.StoredKey) || !bytes.Equal(got.ServerKey, want.ServerKey) {
		t.Errorf("got %+v, %v", got, err)
	}
	if _, err := KeyFromSalted("SHA-256", salt, 4096, salted[:20]); err == nil {
		t.Errorf("accepted a short SaltedPassword")
	}
	if _, err := KeyFromSalted("MD5", salt, 4096, salted); err == nil {
		t.Errorf("accepted an unknown hash")
	}
}

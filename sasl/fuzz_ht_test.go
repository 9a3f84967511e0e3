package sasl

import (
	"bytes"
	"context"
	"testing"
)

// FuzzHT feeds arbitrary messages, one or two, to both HT mechanisms of
// FAST. In msg, GOOD stands for the right HMAC of the user's token, so the
// fuzzer reaches success. Nothing may panic, every error must be a
// *Failure, success must mean the user who holds the token and the right
// key, and no exchange succeeds twice.
func FuzzHT(f *testing.F) {
	for _, s := range []struct {
		expr bool
		msg  string
	}{
		{false, "alice\x00GOOD"},
		{true, "alice\x00GOOD"},
		{false, "bob\x00GOOD"},
		{false, "alice\x00" + string(bytes.Repeat([]byte{1}, 32))},
		{false, "alice"},
		{true, "\x00GOOD"},
		{false, "al\xffice\x00GOOD"},
		{false, ""},
	} {
		f.Add(s.expr, []byte(s.msg), []byte(s.msg))
	}
	const token = "fuzz-token"
	cb := bytes.Repeat([]byte{7}, 32)
	binding := ChannelBinding{Types: []string{"tls-exporter"}, Data: func(string) ([]byte, error) { return cb, nil }}
	lookup := func(_ context.Context, user, _ string) ([][]byte, error) {
		if user != "alice" {
			return nil, nil
		}
		return [][]byte{TokenKey("old"), TokenKey(token)}, nil
	}
	f.Fuzz(func(t *testing.T, expr bool, msg, again []byte) {
		name, data := HTNone, []byte(nil)
		if expr {
			name, data = HTExpr, cb
		}
		good := htMAC(TokenKey(token), "Initiator", data)
		msg = bytes.ReplaceAll(msg, []byte("GOOD"), good)
		var neg Negotiator
		for _, m := range TokenMechanisms(binding) {
			if m.Name == name {
				neg = m.New(Config{Binding: binding, Tokens: lookup})
			}
		}
		if neg == nil {
			t.Fatalf("%s not offered", name)
		}
		out, done, err := neg.Step(context.Background(), msg)
		if err != nil {
			failure(t, err)
		} else {
			if !done || neg.Username() != "alice" || !bytes.HasSuffix(msg, good) {
				t.Fatalf("success for %q as %q (done %v)", msg, neg.Username(), done)
			}
			if !bytes.Equal(out, htMAC(TokenKey(token), "Responder", data)) {
				t.Fatalf("wrong server proof for %q", msg)
			}
			if !bytes.Equal(neg.(TokenNegotiator).MatchedKey(), TokenKey(token)) {
				t.Fatal("matched the wrong key")
			}
		}
		if _, _, err := neg.Step(context.Background(), again); err == nil {
			t.Fatal("a second Step succeeded")
		} else {
			failure(t, err)
		}
	})
}

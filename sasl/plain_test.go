package sasl

import (
	"context"
	"errors"
	"testing"
)

func TestPLAIN(t *testing.T) {
	creds := userCredentials(t)
	accounts := map[string]Credentials{
		testUser:   creds,
		"nbsp":     nbspCredentials(t),
		"sha1only": {SHA1: creds.SHA1},
		"nokeys":   {},
	}
	tests := []struct {
		name      string
		msgs      []string // Step messages; all but the last expect a challenge
		lookup    Lookup
		noLookup  bool
		wantCond  string
		wantUser  string // Username() at the end, claimed or authenticated
		wantAuthz string
	}{
		{name: "ok", msgs: []string{"\x00user\x00pencil"}, wantUser: testUser},
		{name: "ok with authzid", msgs: []string{"admin@example.org\x00user\x00pencil"}, wantUser: testUser, wantAuthz: "admin@example.org"},
		{name: "ok without initial response", msgs: []string{"", "\x00user\x00pencil"}, wantUser: testUser},
		{name: "ok password prepared", msgs: []string{"\x00nbsp\x00pen\u2002cil"}, wantUser: "nbsp"},
		{name: "ok SHA-1 only account", msgs: []string{"\x00sha1only\x00pencil"}, wantUser: "sha1only"},
		{name: "wrong password", msgs: []string{"\x00user\x00pencil2"}, wantUser: "user", wantCond: CondNotAuthorized},
		{name: "unknown user", msgs: []string{"\x00nobody\x00pencil"}, wantUser: "nobody", wantCond: CondNotAuthorized},
		{name: "account without keys", msgs: []string{"\x00nokeys\x00pencil"}, wantUser: "nokeys", wantCond: CondNotAuthorized},
		{name: "password with control character", msgs: []string{"\x00user\x00pencil\x07"}, wantUser: "user", wantCond: CondNotAuthorized},
		{name: "empty password", msgs: []string{"\x00user\x00"}, wantCond: CondMalformedRequest},
		{name: "empty authcid", msgs: []string{"\x00\x00pencil"}, wantCond: CondMalformedRequest},
		{name: "no NUL", msgs: []string{"userpencil"}, wantCond: CondMalformedRequest},
		{name: "one NUL", msgs: []string{"user\x00pencil"}, wantCond: CondMalformedRequest},
		{name: "three NULs", msgs: []string{"\x00user\x00pen\x00cil"}, wantCond: CondMalformedRequest},
		{name: "only NULs", msgs: []string{"\x00\x00"}, wantCond: CondMalformedRequest},
		{name: "not UTF-8", msgs: []string{"\x00user\x00pen\xffcil"}, wantCond: CondMalformedRequest},
		{name: "two empty messages", msgs: []string{"", ""}, wantCond: CondMalformedRequest},
		{name: "step after success", msgs: []string{"\x00user\x00pencil", "\x00user\x00pencil"}, wantCond: CondMalformedRequest, wantUser: testUser},
		{name: "lookup error", msgs: []string{"\x00user\x00pencil"}, wantUser: "user", wantCond: CondTemporaryAuthFailure,
			lookup: func(context.Context, string) (Credentials, error) { return Credentials{}, errors.New("storage down") }},
		{name: "no lookup", msgs: []string{"\x00user\x00pencil"}, wantUser: "user", wantCond: CondTemporaryAuthFailure, noLookup: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Lookup: mapLookup(accounts)}
			if tt.lookup != nil {
				cfg.Lookup = tt.lookup
			}
			if tt.noLookup {
				cfg.Lookup = nil
			}
			neg := mechanism(t, "PLAIN").New(cfg)
			ctx := context.Background()
			var (
				challenge []byte
				done      bool
				err       error
			)
			for i, m := range tt.msgs {
				challenge, done, err = neg.Step(ctx, []byte(m))
				if i < len(tt.msgs)-1 && !done && (err != nil || challenge == nil || len(challenge) != 0) {
					t.Fatalf("Step %d = %q, %v, %v; want empty challenge", i, challenge, done, err)
				}
			}
			checkFailure(t, err, tt.wantCond, "")
			if tt.wantCond == "" && (!done || challenge != nil) {
				t.Errorf("last Step = %q, %v; want nil, done", challenge, done)
			}
			if neg.Username() != tt.wantUser || neg.AuthzID() != tt.wantAuthz {
				t.Errorf("Username, AuthzID = %q, %q; want %q, %q", neg.Username(), neg.AuthzID(), tt.wantUser, tt.wantAuthz)
			}
		})
	}
}

// TestPLAINUnknownUserSameFailure checks that the failures for an unknown
// user and a wrong password are the same, to the byte of their text.
func TestPLAINUnknownUserSameFailure(t *testing.T) {
	cfg := Config{Lookup: mapLookup(map[string]Credentials{testUser: userCredentials(t)})}
	fail := func(msg string) *Failure {
		t.Helper()
		_, _, err := mechanism(t, "PLAIN").New(cfg).Step(context.Background(), []byte(msg))
		return failure(t, err)
	}
	known, unknown := fail("\x00user\x00wrong"), fail("\x00nobody\x00wrong")
	if known.Condition != unknown.Condition || known.Text != unknown.Text || known.Error() != unknown.Error() {
		t.Errorf("wrong password: %v; unknown user: %v", known, unknown)
	}
}

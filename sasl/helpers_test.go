package sasl

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	xdg "github.com/xdg-go/scram"
)

const (
	testUser     = "user"
	testPassword = "pencil"
)

// Fake channel binding data: any bytes do, as long as both ends agree.
var testBindingData = map[string][]byte{
	"tls-exporter":         bytes.Repeat([]byte{0xAA}, 32),
	"tls-server-end-point": bytes.Repeat([]byte{0xBB}, 32),
}

// testCredentials are computed once: PBKDF2 at DefaultIterations is the
// slow part of these tests.
var testCredentials = sync.OnceValues(func() (Credentials, error) {
	return NewCredentials(testPassword, DefaultIterations)
})

func userCredentials(t testing.TB) Credentials {
	t.Helper()
	c, err := testCredentials()
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	return c
}

// mapLookup serves accounts from a map keyed by the name as sent.
func mapLookup(accounts map[string]Credentials) Lookup {
	return func(_ context.Context, username string) (Credentials, error) {
		c, ok := accounts[username]
		if !ok {
			return Credentials{}, ErrUnknownUser
		}
		return c, nil
	}
}

func testBinding() ChannelBinding {
	return ChannelBinding{
		Types: []string{"tls-exporter", "tls-server-end-point"},
		Data: func(cbType string) ([]byte, error) {
			d, ok := testBindingData[cbType]
			if !ok {
				return nil, errors.New("no such binding")
			}
			return d, nil
		},
	}
}

// testConfig has testUser (and the names in extra) with testPassword, and
// TLS channel binding with -PLUS advertised.
func testConfig(t testing.TB, extra ...string) Config {
	t.Helper()
	accounts := map[string]Credentials{testUser: userCredentials(t)}
	for _, name := range extra {
		accounts[name] = userCredentials(t)
	}
	return Config{Lookup: mapLookup(accounts), Binding: testBinding(), PlusAdvertised: true}
}

func mechanism(t testing.TB, name string) Mechanism {
	t.Helper()
	for _, m := range Mechanisms() {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no mechanism %q", name)
	return Mechanism{}
}

// failure asserts that err is a *Failure and returns it.
func failure(t testing.TB, err error) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *Failure", err, err)
	}
	return f
}

// checkFailure asserts err is a *Failure with the condition and, when text
// is not "", the text; wantCond "" asserts err is nil.
func checkFailure(t testing.TB, err error, wantCond, wantText string) {
	t.Helper()
	if wantCond == "" {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("err = nil, want %s", wantCond)
	}
	f := failure(t, err)
	if f.Condition != wantCond || (wantText != "" && f.Text != wantText) {
		t.Fatalf("failure = %s/%s (%v), want %s/%s", f.Condition, f.Text, f.Err, wantCond, wantText)
	}
}

// xdgClient returns an independent SCRAM client for mechanism mech.
func xdgClient(t testing.TB, mech, user, password, authzID string) *xdg.Client {
	t.Helper()
	h := xdg.SHA256
	if mech == "SCRAM-SHA-1" || mech == "SCRAM-SHA-1-PLUS" {
		h = xdg.SHA1
	}
	c, err := h.NewClient(user, password, authzID)
	if err != nil {
		t.Fatalf("scram client: %v", err)
	}
	return c
}

// runExchange drives neg with conv until success or the server's failure,
// which it returns. A client-side rejection of the server fails the test.
// It returns the server-first-message as well.
func runExchange(t testing.TB, neg Negotiator, conv *xdg.ClientConversation) (serverFirst string, err error) {
	t.Helper()
	ctx := context.Background()
	c1, err := conv.Step("")
	if err != nil {
		t.Fatalf("client first: %v", err)
	}
	s1, done, err := neg.Step(ctx, []byte(c1))
	if err != nil {
		return "", err
	}
	if done {
		t.Fatal("done after client-first-message")
	}
	c2, err := conv.Step(string(s1))
	if err != nil {
		t.Fatalf("client rejected server-first %q: %v", s1, err)
	}
	s2, done, err := neg.Step(ctx, []byte(c2))
	if err != nil {
		return string(s1), err
	}
	if !done {
		t.Fatal("not done after client-final-message")
	}
	if _, err := conv.Step(string(s2)); err != nil || !conv.Valid() {
		t.Fatalf("client rejected server-final %q: %v", s2, err)
	}
	return string(s1), nil
}

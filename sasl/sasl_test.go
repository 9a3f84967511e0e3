package sasl

import (
	"errors"
	"testing"
)

func TestMechanisms(t *testing.T) {
	want := []struct {
		name     string
		needsTLS bool
	}{
		{"SCRAM-SHA-256-PLUS", true},
		{"SCRAM-SHA-1-PLUS", true},
		{"SCRAM-SHA-256", false},
		{"SCRAM-SHA-1", false},
		{"PLAIN", true},
	}
	got := Mechanisms()
	if len(got) != len(want) {
		t.Fatalf("%d mechanisms, want %d", len(got), len(want))
	}
	for i, w := range want {
		t.Run(w.name, func(t *testing.T) {
			m := got[i]
			if m.Name != w.name || m.NeedsTLS != w.needsTLS {
				t.Errorf("mechanism %d = %s (NeedsTLS %v), want %s (NeedsTLS %v)", i, m.Name, m.NeedsTLS, w.name, w.needsTLS)
			}
			a, b := m.New(Config{}), m.New(Config{})
			if a == nil || a == b {
				t.Errorf("New returned %p and %p", a, b)
			}
		})
	}
	got[0].Name = "changed"
	if Mechanisms()[0].Name != "SCRAM-SHA-256-PLUS" {
		t.Error("Mechanisms returns a shared slice")
	}
}

func TestFailureError(t *testing.T) {
	cause := errors.New("storage down")
	tests := []struct {
		name string
		f    *Failure
		want string
	}{
		{name: "condition", f: &Failure{Condition: CondNotAuthorized}, want: "sasl: not-authorized"},
		{name: "text", f: &Failure{Condition: CondNotAuthorized, Text: "invalid-proof"}, want: "sasl: not-authorized (invalid-proof)"},
		{name: "cause", f: &Failure{Condition: CondTemporaryAuthFailure, Err: cause}, want: "sasl: temporary-auth-failure: storage down"},
		{name: "all", f: &Failure{Condition: CondMalformedRequest, Text: "other-error", Err: cause}, want: "sasl: malformed-request (other-error): storage down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if got := errors.Unwrap(tt.f); got != tt.f.Err {
				t.Errorf("Unwrap() = %v, want %v", got, tt.f.Err)
			}
		})
	}
}

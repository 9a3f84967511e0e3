package main

import (
	"strings"
	"testing"

	"hearth/compliance"
	"hearth/xmpptest"
)

func TestComplianceCommand(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "tester", "compliance-pw-1")
	args := []string{"compliance", "tester@localhost", "--password-stdin", "--server", srv.C2S,
		"--tls-server", srv.C2STLS, "--http", "http://127.0.0.1:1", "--insecure", "--timeout", "5s"}

	// hearth lacks required features today (PEP, MUC...): exit 1, with
	// the table on stdout.
	code, out, errOut := runCLI(t, "compliance-pw-1\n", args...)
	if code != exitFailure || !strings.Contains(errOut, "required compliance checks fail") {
		t.Errorf("exit %d, stderr %q; want %d", code, errOut, exitFailure)
	}
	rows, err := compliance.ParseTable(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rows["sm"] || !rows["carbons"] || rows["muc"] {
		t.Errorf("unexpected rows %v\n%s", rows, out)
	}

	code, _, errOut = runCLI(t, "wrong-password\n", args...)
	if code != exitFailure || !strings.Contains(errOut, "not-authorized") {
		t.Errorf("wrong password: exit %d, %q", code, errOut)
	}
	for _, bad := range [][]string{
		{"compliance", "--password-stdin"},
		{"compliance", "localhost", "--password-stdin"},
		{"compliance", "tester@localhost", "--password-stdin", "--level", "expert"},
	} {
		if code, _, _ := runCLI(t, "pw\n", bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
}

package main

import (
	"encoding/json"
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

	// Without web listeners and with a self-signed certificate, required
	// checks fail: exit 1, with the table on stdout.
	code, out, errOut := runCLI(t, "compliance-pw-1\n", args...)
	if code != exitFailure || !strings.Contains(errOut, "required compliance checks fail") {
		t.Errorf("exit %d, stderr %q; want %d", code, errOut, exitFailure)
	}
	rows, err := compliance.ParseTable(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rows["sm"] || !rows["carbons"] || !rows["muc"] || rows["upload"] {
		t.Errorf("unexpected rows %v\n%s", rows, out)
	}

	code, out, _ = runCLI(t, "compliance-pw-1\n", append(args, "--json")...)
	var rep struct {
		OK      bool
		Results []struct {
			ID     string
			Passed bool
			Fix    string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailure || rep.OK || len(rep.Results) != len(rows) {
		t.Errorf("--json: exit %d, %v, %+v\n%s", code, err, rep, out)
	}
	for _, r := range rep.Results {
		if r.Passed != rows[r.ID] || (r.Fix == "") != r.Passed {
			t.Errorf("--json row %+v, table says %v", r, rows[r.ID])
		}
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

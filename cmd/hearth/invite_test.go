package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestInviteCommand(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "hosts = [\"example.org\"]\n[registration]\nmode = \"invite\"\n[invites]\nweb_base = \"https://chat.example.org\"\n")
	if code, _, stderr := runCLI(t, "alice-password\n", "adduser", "alice@example.org", "-c", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("adduser: %s", stderr)
	}
	code, out, stderr := runCLI(t, "", "invite", "-c", cfg, "--from", "alice@example.org", "--uses", "2", "--expires", "2d")
	if code != 0 {
		t.Fatalf("invite: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`web page:  https://chat\.example\.org/invite/([A-Za-z0-9_-]{24})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no landing URL:\n%s", out)
	}
	for _, want := range []string{
		"for 2 account(s)",
		"app link:  xmpp:alice@example.org?roster;preauth=" + m[1] + ";ibr=y",
		"with: xmpp:alice@example.org?roster;preauth=" + m[1] + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Note:") {
		t.Errorf("mode invite but a note:\n%s", out)
	}
	// An account invitation, without inviter.
	_, out, _ = runCLI(t, "", "invite", "-c", cfg, "--admin")
	if !strings.Contains(out, "app link:  xmpp:example.org?register;preauth=") || !strings.Contains(out, "as administrator") {
		t.Errorf("admin invitation:\n%s", out)
	}
	for _, bad := range [][]string{
		{"--expires", "soon"}, {"--uses", "0"}, {"--from", "nobody@example.org"}, {"--from", "alice@elsewhere.org"}, {"--host", "elsewhere.org"},
	} {
		if code, _, _ := runCLI(t, "", append([]string{"invite", "-c", cfg}, bad...)...); code == 0 {
			t.Errorf("invite %v succeeded", bad)
		}
	}
	// Outside mode invite the operator is told.
	closed := writeConfig(t, "hosts = [\"example.org\"]\n")
	if _, out, _ := runCLI(t, "", "invite", "-c", closed); !strings.Contains(out, `mode is "closed"`) {
		t.Errorf("closed mode not mentioned:\n%s", out)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestManPage checks that docs/hearth.1 has an entry for every command
// `hearth help` lists, and that man renders it without warnings when man
// is installed.
func TestManPage(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../../docs/hearth.1")
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\.TP\n(?:\\fB|\.B )([a-z-]+)`).FindAllStringSubmatch(string(page), -1) {
		entries[m[1]] = true
	}
	_, commands, _ := strings.Cut(usage, "commands:\n")
	commands, _, _ = strings.Cut(commands, "\n\n")
	n := 0
	for _, line := range strings.Split(commands, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
			continue // continuation lines
		}
		n++
		if !entries[f[0]] {
			t.Errorf("docs/hearth.1 has no entry for %q", f[0])
		}
	}
	if n < 10 {
		t.Fatalf("found only %d commands in the usage text", n)
	}
	for _, extra := range []string{"version", "help"} {
		if !entries[extra] {
			t.Errorf("docs/hearth.1 has no entry for %q", extra)
		}
	}
	if _, err := exec.LookPath("man"); err != nil {
		return
	}
	abs, _ := filepath.Abs("../../docs/hearth.1")
	cmd := exec.Command("man", "--warnings", "-l", abs)
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "warning") {
		t.Errorf("man -l docs/hearth.1: %v\n%s", err, out)
	}
}

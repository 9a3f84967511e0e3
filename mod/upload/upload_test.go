package upload

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"photo.jpg":              "photo.jpg",
		"../../etc/passwd":       ".._.._etc_passwd",
		`a\b`:                    "a_b",
		"tab\there":              "tab_here",
		"  spaced.txt  ":         "spaced.txt",
		"..":                     "",
		"":                       "",
		"bad\xffutf8":            "bad_utf8",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameMediaType(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"image/png", "image/png", true},
		{"Text/Plain; charset=UTF-8", "text/plain;charset=utf-8", true},
		{"text/plain", "text/plain; charset=utf-8", false},
		{"image/png", "image/jpeg", false},
		{"", "image/png", false},
	} {
		if got := sameMediaType(tc.a, tc.b); got != tc.same {
			t.Errorf("sameMediaType(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestDirFiles(t *testing.T) {
	ctx := context.Background()
	d, err := newDirFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := newID()
	if err := d.Put(ctx, id, strings.NewReader("short"), 10); !errors.Is(err, ErrSize) {
		t.Errorf("short body: %v", err)
	}
	if err := d.Put(ctx, id, strings.NewReader("much too long"), 4); !errors.Is(err, ErrSize) {
		t.Errorf("long body: %v", err)
	}
	if _, _, err := d.Open(ctx, id); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed upload left a file: %v", err)
	}
	if err := d.Put(ctx, id, strings.NewReader("exact"), 5); err != nil {
		t.Fatal(err)
	}
	f, _, err := d.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, []byte("exact")) {
		t.Errorf("read back %q", got)
	}
	os.WriteFile(d.path("not-an-id"), nil, 0o600)
	if ids, err := d.List(ctx); err != nil || len(ids) != 1 || ids[0] != id {
		t.Errorf("List = %v, %v", ids, err)
	}
	if err := d.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, id); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}

package sasl

import (
	"bytes"
	"testing"

	xdg "github.com/xdg-go/scram"
)

func TestNewCredentials(t *testing.T) {
	tests := []struct {
		name       string
		iterations int
		want       int
	}{
		{name: "default for zero", iterations: 0, want: DefaultIterations},
		{name: "default for negative", iterations: -5, want: DefaultIterations},
		{name: "one", iterations: 1, want: 1},
		{name: "more than default", iterations: 10000, want: 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCredentials(testPassword, tt.iterations)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []struct {
				name string
				key  SCRAMKey
				xdg  xdg.HashGeneratorFcn
			}{{"SHA-1", c.SHA1, xdg.SHA1}, {"SHA-256", c.SHA256, xdg.SHA256}} {
				if k.key.Iterations != tt.want {
					t.Errorf("%s: %d iterations, want %d", k.name, k.key.Iterations, tt.want)
				}
				if len(k.key.Salt) < 16 {
					t.Errorf("%s: salt of %d bytes", k.name, len(k.key.Salt))
				}
				// xdg-go/scram derives the same keys independently.
				client, err := k.xdg.NewClient(testUser, testPassword, "")
				if err != nil {
					t.Fatal(err)
				}
				want := client.GetStoredCredentials(xdg.KeyFactors{Salt: string(k.key.Salt), Iters: k.key.Iterations})
				if !bytes.Equal(k.key.StoredKey, want.StoredKey) || !bytes.Equal(k.key.ServerKey, want.ServerKey) {
					t.Errorf("%s: keys differ from xdg-go/scram's", k.name)
				}
			}
			if bytes.Equal(c.SHA1.Salt, c.SHA256.Salt) {
				t.Error("SHA-1 and SHA-256 share a salt")
			}
		})
	}
	t.Run("fresh salts", func(t *testing.T) {
		a, err := NewCredentials(testPassword, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewCredentials(testPassword, 1)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a.SHA256.Salt, b.SHA256.Salt) || bytes.Equal(a.SHA256.StoredKey, b.SHA256.StoredKey) {
			t.Error("two calls gave the same salt or key")
		}
	})
}

func TestNewCredentialsInvalid(t *testing.T) {
	tests := []struct {
		name, password string
	}{
		{name: "empty", password: ""},
		{name: "control character", password: "pen\x07cil"},
		{name: "NUL", password: "pen\x00cil"},
		{name: "not UTF-8", password: "pen\xffcil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCredentials(tt.password, 1); err == nil {
				t.Errorf("NewCredentials(%q) succeeded", tt.password)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	creds := userCredentials(t)
	cafe, err := NewCredentials("caf\u00e9", 1)
	if err != nil {
		t.Fatal(err)
	}
	broken := creds
	broken.SHA256.StoredKey = broken.SHA256.StoredKey[:10]
	tests := []struct {
		name     string
		creds    Credentials
		password string
		want     bool
	}{
		{name: "right", creds: creds, password: testPassword, want: true},
		{name: "wrong", creds: creds, password: "pencil!"},
		{name: "case differs", creds: creds, password: "Pencil"},
		{name: "empty", creds: creds, password: ""},
		{name: "control character", creds: creds, password: "pencil\x07"},
		{name: "NFC applied", creds: cafe, password: "cafe\u0301", want: true},
		{name: "no-break space mapped", creds: nbspCredentials(t), password: "pen cil", want: true},
		{name: "SHA-1 fallback right", creds: Credentials{SHA1: creds.SHA1}, password: testPassword, want: true},
		{name: "SHA-1 fallback wrong", creds: Credentials{SHA1: creds.SHA1}, password: "x"},
		{name: "SHA-256 preferred", creds: Credentials{SHA1: cafe.SHA1, SHA256: creds.SHA256}, password: testPassword, want: true},
		{name: "SHA-1 ignored when SHA-256 present", creds: Credentials{SHA1: creds.SHA1, SHA256: cafe.SHA256}, password: testPassword},
		{name: "no keys", creds: Credentials{}, password: testPassword},
		{name: "malformed key", creds: broken, password: testPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.creds.Verify(tt.password); got != tt.want {
				t.Errorf("Verify(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

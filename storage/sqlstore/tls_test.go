package sqlstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestMySQLTLSOptions(t *testing.T) {
	dir := t.TempDir()
	ca := writeTestCA(t, dir)
	bad := filepath.Join(dir, "bad.pem")
	must(t, os.WriteFile(bad, []byte("not a certificate"), 0o600))
	for _, c := range []struct {
		name, dsn string
		opts      Options
		wantErr   string // "" = opens
	}{
		{"custom with CA", "u@tcp(db.example:3306)/h?tls=custom", Options{TLSCA: ca}, ""},
		{"files without tls=custom", "u@tcp(db.example:3306)/h", Options{TLSCA: ca}, "tls=custom"},
		{"tls=custom without files", "u@tcp(db.example:3306)/h?tls=custom", Options{}, "custom"},
		{"CA file without certificates", "u@tcp(db.example:3306)/h?tls=custom", Options{TLSCA: bad}, "no PEM certificate"},
		{"missing CA file", "u@tcp(db.example:3306)/h?tls=custom", Options{TLSCA: filepath.Join(dir, "nope.pem")}, "tls_ca"},
		{"key without certificate", "u@tcp(db.example:3306)/h?tls=custom", Options{TLSKey: ca}, "tls_cert"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := openMySQL(c.dsn, c.opts)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("openMySQL: %v", err)
				}
				db.Close()
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("openMySQL succeeded, want an error containing %q", c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// writeTestCA writes a self-signed CA certificate to dir and returns its path.
func writeTestCA(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
}

// testMySQLTLS checks that tls=custom with Options' files is used: the
// connection must fail, because the test server either has no TLS or has
// a certificate the random CA of the test did not sign.
func testMySQLTLS(t *testing.T, dsn string) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = mysqlTLSName
	tlsDSN := cfg.FormatDSN()
	_, err = Open(t.Context(), "mysql", tlsDSN, Options{TLSCA: writeTestCA(t, t.TempDir())})
	if err == nil {
		t.Fatal("Open with TLS verified against an unrelated CA succeeded")
	}
	t.Logf("as expected: %v", err)
}

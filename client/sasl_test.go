package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"hash"
	"math/big"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// TestSCRAMVectors checks the proof and server signature against the
// examples of RFC 5802 §5 and RFC 7677 §3.
func TestSCRAMVectors(t *testing.T) {
	for _, tc := range []struct {
		name                string
		h                   func() hash.Hash
		cnonce, serverFirst string
		wantProof, wantSig  string
	}{
		{"SHA-1", sha1.New, "fyko+d2lbbFgONRv9qkxdawL",
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ="},
		{"SHA-256", sha256.New, "rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
	} {
		a := scramAttrs(tc.serverFirst)
		salt, _ := base64.StdEncoding.DecodeString(a["s"])
		auth := "n=user,r=" + tc.cnonce + "," + tc.serverFirst + ",c=biws,r=" + a["r"]
		var cache KeyCache
		for range 2 { // derived, then from the cache
			checkProof(t, tc.name, tc.wantProof, tc.wantSig)(cache.proof(tc.name, tc.h, "pencil", salt, 4096, auth))
		}
		if len(cache.m) != 1 {
			t.Errorf("%s: cache holds %d keys, want 1", tc.name, len(cache.m))
		}
		proof, sig, err := scramProof(tc.h, "pencil", salt, 4096, auth, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.StdEncoding.EncodeToString(proof); got != tc.wantProof {
			t.Errorf("%s proof = %s, want %s", tc.name, got, tc.wantProof)
		}
		if got := base64.StdEncoding.EncodeToString(sig); got != tc.wantSig {
			t.Errorf("%s server signature = %s, want %s", tc.name, got, tc.wantSig)
		}
	}
}

func checkProof(t *testing.T, name, wantProof, wantSig string) func(proof, sig []byte, err error) {
	return func(proof, sig []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.StdEncoding.EncodeToString(proof); got != wantProof {
			t.Errorf("%s proof (cache) = %s, want %s", name, got, wantProof)
		}
		if got := base64.StdEncoding.EncodeToString(sig); got != wantSig {
			t.Errorf("%s server signature (cache) = %s, want %s", name, got, wantSig)
		}
	}
}

func TestSASLName(t *testing.T) {
	if got := saslName("a=b,c"); got != "a=3Db=2Cc" {
		t.Errorf("saslName = %q", got)
	}
}

// TestSCRAMServerSignature runs a fake server that accepts any proof but
// cannot sign: the client must refuse the success.
func TestSCRAMServerSignature(t *testing.T) {
	for _, tc := range []struct {
		name, final string
		want        string
	}{
		{"wrong signature", "v=" + base64.StdEncoding.EncodeToString(make([]byte, 20)), "signature is wrong"},
		{"no signature", "", "signature is wrong"},
		{"server error", "e=other-error", "server-error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, tc.final)
			_, err := Dial(context.Background(), Config{
				Addr: addr, JID: jid.MustParse("user@localhost"), Password: "pencil pencil",
				Security: DirectTLS, Insecure: true, Mechanism: SCRAMSHA1, Timeout: 5 * time.Second,
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Dial: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// fakeServer serves one direct TLS connection that offers SCRAM-SHA-1
// and ends the exchange with <success/> carrying final.
func fakeServer(t *testing.T, final string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		dec := stanza.NewDecoder(c, stanza.Limits{})
		if _, err := dec.StreamStart(); err != nil {
			return
		}
		hdr := stanza.AppendStreamHeader(nil, stanza.StreamHeader{From: "localhost", ID: "s1", Version: "1.0", DefaultNS: stanza.NSClient}, true)
		c.Write(append(hdr, "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"...))
		auth, err := dec.Next()
		if err != nil {
			return
		}
		first, _ := base64.StdEncoding.DecodeString(auth.Text())
		cnonce := scramAttrs(string(first[3:]))["r"]
		sf := "r=" + cnonce + "srv,s=" + base64.StdEncoding.EncodeToString([]byte("salt")) + ",i=4096"
		c.Write([]byte("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(sf)) + "</challenge>"))
		if _, err := dec.Next(); err != nil {
			return
		}
		c.Write([]byte("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(final)) + "</success>"))
		dec.Next() // until the client hangs up
	}()
	return ln.Addr().String()
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

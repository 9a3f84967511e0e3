// Package acmetest runs a local ACME (RFC 8555) test CA, Let's Encrypt's
// pebble, inside the test process, so that hearth's ACME client is tested
// end to end (real challenges over real sockets) and never against the
// internet.
package acmetest

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"golang.org/x/net/dns/dnsmessage"
)

// Options configure the test CA.
type Options struct {
	// HTTPPort and TLSPort are the ports the CA's validator connects to
	// on 127.0.0.1 for http-01 and tls-alpn-01 challenges (80 and 443 in
	// the real world).
	HTTPPort, TLSPort int
	// Validity is the lifetime of issued certificates in seconds; 0 means
	// pebble's default (90 days).
	Validity uint64
}

// CA is a running test CA.
type CA struct {
	// Directory is the URL of the ACME directory.
	Directory string
	// DirectoryCA is a PEM file with the root that signed the directory's
	// HTTPS certificate (the [acme] directory_ca key).
	DirectoryCA string
	ca          *ca.CAImpl
}

var envOnce sync.Once

// Start runs a CA until the end of the test. Every domain name resolves to
// 127.0.0.1 for its validator.
func Start(t testing.TB, opts Options) *CA {
	t.Helper()
	envOnce.Do(func() {
		// Process-wide pebble switches: no random validation delay, no
		// deliberately rejected nonces, a fresh validation for every order.
		os.Setenv("PEBBLE_VA_NOSLEEP", "1")
		os.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
		os.Setenv("PEBBLE_AUTHZREUSE", "0")
	})
	logger := log.New(io.Discard, "", 0)
	if os.Getenv("HEARTH_TEST_LOG") != "" {
		logger = log.New(os.Stderr, "pebble ", log.LstdFlags)
	}
	dnsAddr := startDNS(t)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: opts.Validity}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, opts.HTTPPort, opts.TLSPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)
	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "directory-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, block, 0o644); err != nil {
		t.Fatal(err)
	}
	return &CA{Directory: srv.URL + wfe.DirectoryPath, DirectoryCA: caFile, ca: authority}
}

// Roots returns the pool of the CA's root, which signs issued certificates.
func (c *CA) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.ca.GetRootCert(0).Cert)
	return p
}

// Intermediates returns the pool of the CA's intermediate certificates.
func (c *CA) Intermediates() *x509.CertPool {
	p := x509.NewCertPool()
	if ic := c.ca.GetIntermediateCert(0); ic != nil {
		p.AddCert(ic.Cert)
	}
	return p
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDNS serves DNS over TCP (what pebble's validator uses) on loopback:
// an A record 127.0.0.1 for every name, nothing else.
func startDNS(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveDNS(c)
		}
	}()
	return ln.Addr().String()
}

func serveDNS(c net.Conn) {
	defer c.Close()
	for {
		var n uint16
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		out, err := answer(buf)
		if err != nil {
			return
		}
		b := binary.BigEndian.AppendUint16(nil, uint16(len(out)))
		if _, err := c.Write(append(b, out...)); err != nil {
			return
		}
	}
}

func answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, errors.New("no question")
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if q.Type == dnsmessage.TypeA {
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
	}
	return b.Finish()
}

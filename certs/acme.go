package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// Challenge types hearth can answer.
const (
	ChallengeTLSALPN = "tls-alpn-01" // RFC 8737, on port 443 of a TLS listener sharing the Store
	ChallengeHTTP    = "http-01"     // RFC 8555 §8.3, on port 80 via ACME.HTTPHandler
)

// ACMEOptions configure an ACME client.
type ACMEOptions struct {
	Directory   string // URL of the CA's ACME directory
	DirectoryCA string // optional PEM file of extra roots trusted for the directory's HTTPS
	Email       string // account contact; may be empty
	Challenge   string // ChallengeTLSALPN or ChallengeHTTP
	// Dir keeps the account key and the issued certificates
	// (<domain>.crt, <domain>.key).
	Dir string
	// Domains are the names to keep certified, one certificate each.
	Domains []string
	// RenewBefore is how long before expiry a certificate is renewed.
	RenewBefore time.Duration
	// CheckInterval is how often certificates are checked for renewal; a
	// failed order is retried at the next check.
	CheckInterval time.Duration
	// OrderTimeout bounds one domain's whole order (challenges included).
	OrderTimeout time.Duration
	Log          *slog.Logger
}

// ACME obtains and renews certificates with the ACME protocol (RFC 8555)
// and puts them in a Store. Its methods are safe for concurrent use.
type ACME struct {
	opts   ACMEOptions
	store  *Store
	client *acme.Client

	mu       sync.Mutex
	tokens   map[string]string    // http-01: token → key authorization
	notAfter map[string]time.Time // domain → expiry of its current ACME certificate
	account  bool                 // registered during this run
}

// NewACME returns a client that keeps opts.Domains certified in store. It
// creates (or loads) the account key and puts the certificates already
// issued in an earlier run into store, so that a restart serves them at
// once; it does not talk to the CA (Run does).
func NewACME(opts ACMEOptions, store *Store) (*ACME, error) {
	if opts.Challenge != ChallengeTLSALPN && opts.Challenge != ChallengeHTTP {
		return nil, fmt.Errorf("acme: unknown challenge %q (%s or %s)", opts.Challenge, ChallengeTLSALPN, ChallengeHTTP)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	key, err := accountKey(filepath.Join(opts.Dir, "account.key"))
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: opts.OrderTimeout}
	if opts.DirectoryCA != "" {
		pemData, err := os.ReadFile(opts.DirectoryCA)
		if err != nil {
			return nil, fmt.Errorf("acme.directory_ca: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("acme.directory_ca: no PEM certificate in %s", opts.DirectoryCA)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		hc.Transport = tr
	}
	a := &ACME{
		opts:     opts,
		store:    store,
		client:   &acme.Client{Key: key, DirectoryURL: opts.Directory, HTTPClient: hc, UserAgent: "hearth"},
		tokens:   map[string]string{},
		notAfter: map[string]time.Time{},
	}
	for _, d := range opts.Domains {
		c, err := a.pair(d).Load()
		if err != nil {
			continue // not issued yet, or unreadable: Run orders a new one
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil || leaf.VerifyHostname(d) != nil {
			continue
		}
		c.Leaf = leaf
		store.Set(d, c)
		a.notAfter[d] = leaf.NotAfter
	}
	return a, nil
}

func (a *ACME) pair(domain string) Pair {
	return Pair{domain, filepath.Join(a.opts.Dir, domain+".crt"), filepath.Join(a.opts.Dir, domain+".key")}
}

// Run orders every missing or expiring certificate, then checks again
// every CheckInterval until ctx is done. Failures are logged and retried.
func (a *ACME) Run(ctx context.Context) {
	for {
		a.RenewDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.opts.CheckInterval):
		}
	}
}

// RenewDue orders a certificate for every domain that has none from ACME
// or whose certificate expires within RenewBefore, one domain at a time,
// and returns the first error (after trying every domain).
func (a *ACME) RenewDue(ctx context.Context) error {
	var first error
	for _, d := range a.opts.Domains {
		if !a.due(d, time.Now()) {
			continue
		}
		err := a.Obtain(ctx, d)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.opts.Log.Warn("acme: certificate order failed; will retry", "domain", d, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func (a *ACME) due(domain string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	na, ok := a.notAfter[domain]
	return !ok || !now.Add(a.opts.RenewBefore).Before(na)
}

// Expiry returns when the ACME certificate of domain expires, or false
// when it has none yet.
func (a *ACME) Expiry(domain string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	na, ok := a.notAfter[domain]
	return na, ok
}

// Obtain orders a certificate for domain, answers its challenge, stores
// the certificate and its key under Dir and swaps it into the Store.
func (a *ACME) Obtain(ctx context.Context, domain string) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.OrderTimeout)
	defer cancel()
	if err := a.register(ctx); err != nil {
		return err
	}
	order, err := a.client.AuthorizeOrder(ctx, acme.DomainIDs(domain))
	if err != nil {
		return fmt.Errorf("new order: %w", err)
	}
	for _, u := range order.AuthzURLs {
		if err := a.authorize(ctx, u, domain); err != nil {
			return err
		}
	}
	if order, err = a.client.WaitOrder(ctx, order.URI); err != nil {
		return fmt.Errorf("order: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{domain}}, key)
	if err != nil {
		return err
	}
	chain, _, err := a.client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	if len(chain) == 0 {
		return errors.New("finalize: the CA returned no certificate")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return fmt.Errorf("issued certificate: %w", err)
	}
	if err := leaf.VerifyHostname(domain); err != nil {
		return fmt.Errorf("issued certificate: %w", err)
	}
	if err := writePair(a.pair(domain), chain, key); err != nil {
		return fmt.Errorf("saving certificate: %w", err)
	}
	a.store.Set(domain, &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf})
	a.mu.Lock()
	a.notAfter[domain] = leaf.NotAfter
	a.mu.Unlock()
	a.opts.Log.Info("acme: certificate installed", "domain", domain, "not_after", leaf.NotAfter)
	return nil
}

// register creates the account (or finds the existing one of the key)
// once per run.
func (a *ACME) register(ctx context.Context) error {
	a.mu.Lock()
	done := a.account
	a.mu.Unlock()
	if done {
		return nil
	}
	acct := &acme.Account{}
	if a.opts.Email != "" {
		acct.Contact = []string{"mailto:" + a.opts.Email}
	}
	_, err := a.client.Register(ctx, acct, acme.AcceptTOS)
	if err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return fmt.Errorf("account: %w", err)
	}
	a.mu.Lock()
	a.account = true
	a.mu.Unlock()
	return nil
}

// authorize answers the configured challenge of one authorization and
// waits until the CA has validated it.
func (a *ACME) authorize(ctx context.Context, url, domain string) error {
	z, err := a.client.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("authorization: %w", err)
	}
	if z.Status == acme.StatusValid {
		return nil
	}
	var chal *acme.Challenge
	for _, c := range z.Challenges {
		if c.Type == a.opts.Challenge {
			chal = c
		}
	}
	if chal == nil {
		return fmt.Errorf("the CA offers no %s challenge for %s", a.opts.Challenge, domain)
	}
	switch chal.Type {
	case ChallengeTLSALPN:
		cert, err := a.client.TLSALPN01ChallengeCert(chal.Token, domain)
		if err != nil {
			return err
		}
		a.store.setChallenge(domain, &cert)
		defer a.store.setChallenge(domain, nil)
	case ChallengeHTTP:
		resp, err := a.client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.tokens[chal.Token] = resp
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			delete(a.tokens, chal.Token)
			a.mu.Unlock()
		}()
	}
	if _, err := a.client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accept %s: %w", chal.Type, err)
	}
	if _, err := a.client.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("%s for %s: %w", chal.Type, domain, err)
	}
	return nil
}

// HTTPHandler answers http-01 challenges under
// /.well-known/acme-challenge/ and passes every other request to next
// (404 when next is nil).
func (a *ACME) HTTPHandler(next http.Handler) http.Handler {
	const prefix = "/.well-known/acme-challenge/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			if next != nil {
				next.ServeHTTP(w, r)
			} else {
				http.NotFound(w, r)
			}
			return
		}
		a.mu.Lock()
		resp, ok := a.tokens[strings.TrimPrefix(r.URL.Path, prefix)]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(resp))
	})
}

// accountKey loads the ACME account key from path, creating it on first use.
func accountKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		b, _ := pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("acme: %s holds no PEM key", path)
		}
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("acme: %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("acme: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	return k, nil
}

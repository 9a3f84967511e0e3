package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"hearth/config"
)

// statusTimeout bounds the scrape of the running server's metrics.
const statusTimeout = 3 * time.Second

// certWarnDays: certificates expiring sooner are flagged.
const certWarnDays = 14

// cmdStatus prints the certificates' expiry and, when the running server
// exposes [listen] metrics, its sessions:
//
//	hearth status [-c FILE]
func cmdStatus(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("status", args, stderr, false)
	if err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{fmt.Errorf("status: unexpected argument %q", f.args[0])}
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintln(stdout, "Certificates:")
	for _, c := range certFiles(cfg) {
		leaf, err := readLeaf(c.file)
		if err != nil {
			fmt.Fprintf(stdout, "  %-28s %s\n", c.domain, c.missing)
			continue
		}
		days := int(leaf.NotAfter.Sub(now).Hours() / 24)
		flag := ""
		switch {
		case now.After(leaf.NotAfter):
			flag = "  EXPIRED"
		case days < certWarnDays:
			flag = "  EXPIRES SOON"
		}
		issuer := leaf.Issuer.CommonName
		if issuer == "" && len(leaf.Issuer.Organization) > 0 {
			issuer = leaf.Issuer.Organization[0]
		}
		fmt.Fprintf(stdout, "  %-28s expires %s (%d days), issued by %s [%s]%s\n", c.domain, leaf.NotAfter.UTC().Format("2006-01-02"), days, issuer, c.source, flag)
	}
	fmt.Fprintln(stdout, "Server:")
	if len(cfg.Listen.Metrics) == 0 {
		fmt.Fprintln(stdout, "  unknown: add [listen] metrics = [\"127.0.0.1:5290\"] so that hearth status can ask the running server")
		return nil
	}
	vals, err := scrapeSessions(cfg.Listen.Metrics[0])
	if err != nil {
		fmt.Fprintf(stdout, "  not reachable at %s (%v): is it running?\n", cfg.Listen.Metrics[0], err)
		return nil
	}
	for _, typ := range []string{"c2s", "s2s"} {
		v, ok := vals[typ]
		if !ok {
			v = "0"
		}
		name := map[string]string{"c2s": "client sessions", "s2s": "server links"}[typ]
		fmt.Fprintf(stdout, "  %-16s %s\n", name+":", v)
	}
	return nil
}

type certFile struct {
	domain, file, source, missing string
}

// certFiles lists, for each domain, the file hearth serves it from, as
// certs.Load and the ACME client choose.
func certFiles(cfg *config.File) []certFile {
	var out []certFile
	switch {
	case cfg.ACME.Enabled:
		dir := filepath.Join(cfg.DataDir, "acme")
		domains := map[string]bool{}
		for _, h := range cfg.Hosts {
			domains[h] = true
		}
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				if d, ok := strings.CutSuffix(e.Name(), ".crt"); ok {
					domains[d] = true
				}
			}
		}
		var names []string
		for d := range domains {
			names = append(names, d)
		}
		sort.Strings(names)
		for _, d := range names {
			out = append(out, certFile{d, filepath.Join(dir, d+".crt"), "acme", "not issued yet (the server orders it when running)"})
		}
	case cfg.TLS.Cert != "":
		for _, h := range cfg.Hosts {
			out = append(out, certFile{h, cfg.TLS.Cert, "tls.cert", "cannot read " + cfg.TLS.Cert})
		}
	case cfg.TLS.Dir != "":
		for _, h := range cfg.Hosts {
			file := filepath.Join(cfg.TLS.Dir, h+".crt")
			if _, err := os.Stat(file); err != nil {
				file = filepath.Join(cfg.TLS.Dir, h, "fullchain.pem")
			}
			out = append(out, certFile{h, file, "tls.dir", "no certificate in " + cfg.TLS.Dir})
		}
	default:
		for _, h := range cfg.Hosts {
			out = append(out, certFile{h, filepath.Join(cfg.DataDir, "certs", h+".crt"), "self-signed", "none yet (generated at the first start)"})
		}
	}
	return out
}

func readLeaf(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(b.Bytes)
}

// scrapeSessions reads the hearth_sessions gauge, by type, from the
// metrics listener at addr.
func scrapeSessions(addr string) (map[string]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, `hearth_sessions{type="`)
		if !ok {
			continue
		}
		typ, val, ok := strings.Cut(rest, `"} `)
		if ok {
			out[typ] = strings.TrimSpace(val)
		}
	}
	return out, sc.Err()
}

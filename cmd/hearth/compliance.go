package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/term"

	"hearth/compliance"
	"hearth/jid"
)

// complianceRunTimeout bounds a whole compliance run.
const complianceRunTimeout = 5 * time.Minute

// cmdCompliance runs the compliance self-test against any server: exit 0
// when every required check passes, 1 otherwise (or when the login
// fails), 2 for bad usage.
func cmdCompliance(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compliance", flag.ContinueOnError)
	var cfg compliance.Config
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	fs.StringVar(&cfg.Addr, "server", "", "STARTTLS client port `HOST:PORT` (default: the domain's SRV record, else DOMAIN:5222)")
	fs.StringVar(&cfg.DirectTLSAddr, "tls-server", "", "direct TLS client port `HOST:PORT` (default: the domain's _xmpps-client SRV record)")
	fs.StringVar(&cfg.ComponentAddr, "component", "", "component port `HOST:PORT` to check XEP-0114 on")
	fs.StringVar(&cfg.HTTPBase, "http", "", "base `URL` of the server's web endpoints (default https://DOMAIN)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "accept any certificate (the certificate check is then not required)")
	level := fs.String("level", "advanced", "XEP-0479 level that must pass: core or advanced")
	fs.DurationVar(&cfg.Timeout, "timeout", compliance.DefaultTimeout, "time allowed for each check")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	pos, err := dataFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: hearth compliance JID [--password-stdin] [--server HOST:PORT] [--insecure] [--json]")}
	}
	if cfg.JID, err = jid.Parse(pos[0]); err != nil || cfg.JID.Local() == "" {
		return usageError{fmt.Errorf("%q is not an account address (user@domain)", pos[0])}
	}
	if cfg.Level, err = compliance.ParseLevel(*level); err != nil {
		return usageError{err}
	}
	if cfg.Password, err = readLoginPassword(*passwordStdin, stdin, stderr); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, complianceRunTimeout)
	defer cancel()
	rep, err := compliance.Run(ctx, cfg)
	if rep != nil {
		write := rep.WriteTable
		if *asJSON {
			write = rep.WriteJSON
		}
		if werr := write(stdout); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("required compliance checks fail (see the table)")
	}
	return nil
}

// readLoginPassword reads an existing account's password: one line from
// stdin, or once without echo from a terminal.
func readLoginPassword(fromStdin bool, stdin io.Reader, stderr io.Writer) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		if pw := strings.TrimRight(line, "\r\n"); pw != "" {
			return pw, nil
		}
		return "", usageError{errors.New("empty password")}
	}
	file, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return "", usageError{errors.New("standard input is not a terminal: use --password-stdin")}
	}
	fmt.Fprint(stderr, "Password: ")
	pw, err := term.ReadPassword(int(file.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if len(pw) == 0 {
		return "", usageError{errors.New("empty password")}
	}
	return string(pw), nil
}

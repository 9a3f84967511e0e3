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
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/term"

	"hearth/config"
	"hearth/jid"
	"hearth/mod/fast"
	"hearth/sasl"
	"hearth/server"
	"hearth/storage"
)

// Version returns the module version hearth was built from.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func isConfigError(err error) bool {
	var ce *server.ConfigError
	return errors.As(err, &ce)
}

// flags parses the common flags; positional arguments may come before or
// after them ("hearth adduser JID -c FILE").
type flags struct {
	fs            *flag.FlagSet
	config        string
	passwordStdin bool
	args          []string
}

func parseFlags(name string, args []string, stderr io.Writer, withPassword bool) (*flags, error) {
	f := &flags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.config, "c", "", "configuration `FILE`")
	if withPassword {
		f.fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from standard input")
	}
	rest := args
	for {
		if err := f.fs.Parse(rest); err != nil {
			return nil, usageError{err}
		}
		rest = f.fs.Args()
		if len(rest) == 0 {
			break
		}
		f.args = append(f.args, rest[0])
		rest = rest[1:]
	}
	return f, nil
}

// load returns the configuration named by -c, or found by config.Find, or
// the defaults.
func (f *flags) load() (*config.File, error) {
	path := f.config
	if path == "" {
		path = config.Find()
	}
	if path == "" {
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, &server.ConfigError{Err: err}
	}
	return cfg, nil
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("serve", args, stderr, false)
	if err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{fmt.Errorf("serve: unexpected argument %q", f.args[0])}
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	defer srv.ApplyMemoryPolicy()()
	if err := srv.Listen(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP re-reads the configuration (systemctl reload hearth); the
	// server logs what it applied and what needs a restart.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				srv.Reload("")
			case <-ctx.Done():
				return
			}
		}
	}()
	printWelcome(stdout, cfg, srv)
	return srv.Serve(ctx)
}

// printWelcome tells a new operator what is running and what to do next.
func printWelcome(w io.Writer, cfg *config.File, srv *server.Server) {
	src := cfg.Path
	if src == "" {
		src = "built-in defaults (no hearth.toml found)"
	}
	fmt.Fprintf(w, "hearth %s is running.\n", Version())
	fmt.Fprintf(w, "  configuration: %s\n", src)
	fmt.Fprintf(w, "  domains:       %s\n", strings.Join(cfg.Hosts, ", "))
	fmt.Fprintf(w, "  data:          %s (%s)\n", cfg.Storage.DSN, cfg.Storage.Driver)
	if a := srv.Addrs("c2s"); len(a) > 0 {
		fmt.Fprintf(w, "  clients:       %s (STARTTLS)\n", strings.Join(a, ", "))
	}
	if a := srv.Addrs("c2s_tls"); len(a) > 0 {
		fmt.Fprintf(w, "  clients:       %s (direct TLS)\n", strings.Join(a, ", "))
	}
	if a := srv.Addrs("https"); len(a) > 0 {
		fmt.Fprintf(w, "  web:           %s (https: file upload, WebSocket, BOSH)\n", strings.Join(a, ", "))
	}
	if a := srv.Addrs("s2s"); len(a) > 0 {
		fmt.Fprintf(w, "  servers:       %s (federation, STARTTLS)\n", strings.Join(a, ", "))
	}
	if a := srv.Addrs("s2s_tls"); len(a) > 0 {
		fmt.Fprintf(w, "  servers:       %s (federation, direct TLS)\n", strings.Join(a, ", "))
	}
	if a := srv.Addrs("component"); len(a) > 0 {
		fmt.Fprintf(w, "  components:    %s\n", strings.Join(a, ", "))
	}
	if cfg.ACME.Enabled {
		fmt.Fprintf(w, "  certificates:  ACME (%s, %s), kept in %s/acme\n", cfg.ACME.Directory, cfg.ACME.Challenge, cfg.DataDir)
	} else if cfg.TLS.Cert == "" && cfg.TLS.Dir == "" {
		fmt.Fprintf(w, "  certificates:  self-signed, in %s/certs (clients will ask you to trust them)\n", cfg.DataDir)
	}
	conf := ""
	if cfg.Path != "" {
		conf = " -c " + cfg.Path
	}
	fmt.Fprintf(w, "\nNext: add an account with\n    hearth adduser you@%s%s\nand log in with any XMPP client. Stop with Ctrl-C.\n", cfg.Hosts[0], conf)
}

// openStore opens the configured storage for an administration command.
func openStore(f *flags) (*config.File, storage.Store, error) {
	cfg, err := f.load()
	if err != nil {
		return nil, nil, err
	}
	st, err := server.OpenStore(context.Background(), cfg.Config)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// accountJID parses the JID argument and checks it names an account on a
// served host.
func accountJID(cfg *config.File, args []string, cmd string) (jid.JID, error) {
	if len(args) != 1 {
		return jid.JID{}, usageError{fmt.Errorf("usage: hearth %s user@domain", cmd)}
	}
	j, err := jid.Parse(args[0])
	if err != nil || j.Local() == "" || !j.IsBare() {
		return jid.JID{}, usageError{fmt.Errorf("%q is not a valid account address (user@domain)", args[0])}
	}
	for _, h := range cfg.Hosts {
		if h == j.Domain() {
			return j, nil
		}
	}
	return jid.JID{}, usageError{fmt.Errorf("%s is not served here (hosts: %s)", j.Domain(), strings.Join(cfg.Hosts, ", "))}
}

// readPassword reads a new password from stdin (one line) or, on a
// terminal, asks for it twice without echo.
func readPassword(f *flags, stdin io.Reader, stderr io.Writer) (string, error) {
	if f.passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usageError{errors.New("empty password")}
		}
		return pw, nil
	}
	file, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return "", usageError{errors.New("standard input is not a terminal: use --password-stdin")}
	}
	fmt.Fprint(stderr, "Password: ")
	a, err := term.ReadPassword(int(file.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "Again: ")
	b, err := term.ReadPassword(int(file.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", usageError{errors.New("the passwords do not match")}
	}
	if len(a) == 0 {
		return "", usageError{errors.New("empty password")}
	}
	return string(a), nil
}

func cmdAddUser(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return setPassword("adduser", args, stdin, stdout, stderr, true)
}

func cmdPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return setPassword("passwd", args, stdin, stdout, stderr, false)
}

func setPassword(cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer, create bool) error {
	f, err := parseFlags(cmd, args, stderr, true)
	if err != nil {
		return err
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	j, err := accountJID(cfg, f.args, cmd)
	if err != nil {
		return err
	}
	pw, err := readPassword(f, stdin, stderr)
	if err != nil {
		return err
	}
	cred, err := sasl.NewCredentials(pw, cfg.Auth.SCRAMIterations)
	if err != nil {
		return usageError{fmt.Errorf("unusable password: %w", err)}
	}
	_, st, err := openStore(f)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if create {
		err = st.Accounts().Create(ctx, j.Domain(), j.Local(), cred)
		if errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("%s already exists (use hearth passwd to change its password)", j)
		}
	} else {
		err = st.Accounts().SetCredentials(ctx, j.Domain(), j.Local(), cred)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%s does not exist", j)
		}
		if err == nil {
			// A password reset locks out every device: their FAST
			// tokens go too (XEP-0484).
			err = fast.RevokeAll(ctx, st, j.Bare().String())
		}
	}
	if err != nil {
		return err
	}
	if create {
		fmt.Fprintf(stdout, "created %s\n", j)
	} else {
		fmt.Fprintf(stdout, "changed the password of %s\n", j)
	}
	return nil
}

func cmdDelUser(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("deluser", args, stderr, false)
	if err != nil {
		return err
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	j, err := accountJID(cfg, f.args, "deluser")
	if err != nil {
		return err
	}
	_, st, err := openStore(f)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Accounts().Delete(ctx, j.Domain(), j.Local()); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%s does not exist", j)
		}
		return err
	}
	if err := st.DeleteOwner(ctx, j.String()); err != nil {
		return fmt.Errorf("deleted the account, but not all of its data: %w", err)
	}
	fmt.Fprintf(stdout, "deleted %s and its data\n", j)
	return nil
}

func cmdUsers(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("users", args, stderr, false)
	if err != nil {
		return err
	}
	if len(f.args) > 1 {
		return usageError{errors.New("usage: hearth users [DOMAIN]")}
	}
	_, st, err := openStore(f)
	if err != nil {
		return err
	}
	defer st.Close()
	host := ""
	if len(f.args) == 1 {
		host = strings.ToLower(f.args[0])
	}
	accts, err := st.Accounts().List(context.Background(), host)
	if err != nil {
		return err
	}
	for _, a := range accts {
		fmt.Fprintf(stdout, "%s@%s\n", a.User, a.Host)
	}
	return nil
}

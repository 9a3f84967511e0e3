package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"hearth/dump"
	"hearth/server"
	"hearth/storage/sqlstore"
)

// dataFlags parses a command's flags, with positional arguments allowed
// before and after them, and returns the positional arguments.
func dataFlags(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdMigrate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var f flags
	fs.StringVar(&f.config, "c", "", "configuration `FILE`")
	check := fs.Bool("check", false, "only print the schema version and whether migrations are pending")
	pos, err := dataFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("migrate: unexpected argument %q", pos[0])}
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	s, ctx := cfg.Storage, context.Background()
	if *check {
		cur, latest, err := sqlstore.SchemaVersion(ctx, s.Driver, s.DSN, server.StoreOptions(s))
		if err != nil {
			return err
		}
		switch {
		case cur == latest:
			fmt.Fprintf(stdout, "schema version %d (%s): up to date\n", cur, s.Driver)
		case cur < latest:
			fmt.Fprintf(stdout, "schema version %d (%s): %d migration(s) pending, up to version %d\n", cur, s.Driver, latest-cur, latest)
		default:
			return fmt.Errorf("schema version %d (%s) is newer than this hearth's %d", cur, s.Driver, latest)
		}
		return nil
	}
	from, to, err := sqlstore.Migrate(ctx, s.Driver, s.DSN, server.StoreOptions(s))
	if err != nil {
		return err
	}
	if from == to {
		fmt.Fprintf(stdout, "schema version %d (%s): up to date, nothing applied\n", to, s.Driver)
	} else {
		fmt.Fprintf(stdout, "schema version %d -> %d (%s): applied %d migration(s)\n", from, to, s.Driver, to-from)
	}
	return nil
}

func cmdExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	var f flags
	fs.StringVar(&f.config, "c", "", "configuration `FILE`")
	var hosts []string
	fs.Func("host", "export only this `DOMAIN` (repeatable)", func(h string) error {
		hosts = append(hosts, strings.ToLower(h))
		return nil
	})
	pos, err := dataFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: hearth export [-c FILE] [--host DOMAIN] FILE|-")}
	}
	_, st, err := openStore(&f)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if pos[0] == "-" {
		return dump.Export(ctx, st, stdout, hosts, dump.Sections())
	}
	// The dump holds password hashes (XEP-0227 §6): private to the user,
	// and complete or absent.
	tmp := pos[0] + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = dump.Export(ctx, st, out, hosts, dump.Sections())
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, pos[0])
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Fprintf(stdout, "exported to %s\n", pos[0])
	return nil
}

func cmdImport(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	var f flags
	fs.StringVar(&f.config, "c", "", "configuration `FILE`")
	replace := fs.Bool("replace", false, "replace existing accounts and their data instead of skipping them")
	prosody := fs.String("prosody", "", "import a Prosody data `DIR` (internal file storage, or SQL storage when it holds prosody.sqlite), or its SQLite database file")
	host := fs.String("host", "", "with --prosody: import only this `DOMAIN`")
	pos, err := dataFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	switch {
	case *prosody == "" && len(pos) != 1, *prosody != "" && len(pos) != 0:
		return usageError{errors.New("usage: hearth import [-c FILE] [--replace] FILE|-  or  hearth import [-c FILE] [--replace] --prosody DIR [--host DOMAIN]")}
	case *host != "" && *prosody == "":
		return usageError{errors.New("import: --host applies to --prosody only")}
	}
	cfg, st, err := openStore(&f)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	im := &dump.Importer{Store: st, Sections: dump.Sections(), Replace: *replace, Iterations: cfg.Auth.SCRAMIterations}
	var counts [3]int
	notServed := map[string]int{}
	each := func(u dump.User) error {
		if !slices.Contains(cfg.Hosts, strings.ToLower(u.Host)) {
			notServed[u.Host]++
			return nil
		}
		r, err := im.Import(ctx, u)
		if err != nil {
			return err
		}
		counts[r.Outcome]++
		fmt.Fprintf(stdout, "%s: %s\n", r.JID, r.Outcome)
		for _, w := range r.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
		return nil
	}
	switch {
	case *prosody != "":
		if db := prosodyDatabase(*prosody); db != "" {
			err = dump.ReadProsodySQL(ctx, db, strings.ToLower(*host), each)
		} else {
			err = dump.ReadProsody(*prosody, strings.ToLower(*host), each)
		}
	case pos[0] == "-":
		err = dump.Read(stdin, each)
	default:
		err = dump.ReadFile(pos[0], each)
	}
	for _, h := range slices.Sorted(maps.Keys(notServed)) {
		n := notServed[h]
		fmt.Fprintf(stdout, "skipped %d user(s) of %s: not served here (hosts: %s)\n", n, h, strings.Join(cfg.Hosts, ", "))
	}
	fmt.Fprintf(stdout, "%d created, %d replaced, %d skipped (existing", counts[dump.Created], counts[dump.Replaced], counts[dump.Skipped])
	if counts[dump.Skipped] > 0 && !*replace {
		fmt.Fprint(stdout, "; use --replace to overwrite them")
	}
	fmt.Fprintln(stdout, ")")
	return err
}

// prosodyDatabase returns the SQLite database of Prosody's SQL storage
// that path names: path itself when it is a file, DIR/prosody.sqlite (the
// name Prosody's documentation uses) when that exists, else "".
func prosodyDatabase(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return path
	}
	db := filepath.Join(path, "prosody.sqlite")
	if fi, err := os.Stat(db); err == nil && fi.Mode().IsRegular() {
		return db
	}
	return ""
}

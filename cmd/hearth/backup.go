package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hearth/config"
	"hearth/storage/sqlstore"
)

// Names inside a backup directory.
const (
	backupDB     = "hearth.db"
	backupConfig = "hearth.toml"
	backupData   = "data" // the rest of data_dir: generated certificates, files
)

// cmdBackup writes a consistent snapshot of a SQLite installation into a
// new directory under DIR, while the server runs: the database (VACUUM
// INTO), the configuration file, and every other file of data_dir.
func cmdBackup(args []string, stdout, stderr io.Writer) error {
	set := flag.NewFlagSet("backup", flag.ContinueOnError)
	var f flags
	set.StringVar(&f.config, "c", "", "configuration `FILE`")
	pos, err := dataFlags(set, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: hearth backup [-c FILE] DIR")}
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	if cfg.Storage.Driver != "sqlite" {
		return externalBackupHint(cfg.Storage.Driver, "backup")
	}
	snap := filepath.Join(pos[0], "hearth-backup-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(snap, 0o700); err != nil {
		return err
	}
	if err := sqlstore.BackupSQLite(context.Background(), cfg.Storage.DSN, filepath.Join(snap, backupDB)); err != nil {
		return err
	}
	if cfg.Path != "" {
		if err := copyPrivate(cfg.Path, filepath.Join(snap, backupConfig)); err != nil {
			return fmt.Errorf("copying the configuration: %w", err)
		}
	}
	n, err := copyTree(cfg.DataDir, filepath.Join(snap, backupData), skipDatabase(cfg, snap))
	if err != nil {
		return fmt.Errorf("copying %s: %w", cfg.DataDir, err)
	}
	fmt.Fprintf(stdout, "backed up %s and %d other file(s) of %s to %s\n", cfg.Storage.DSN, n, cfg.DataDir, snap)
	conf := ""
	if cfg.Path != "" {
		conf = " -c " + cfg.Path
	}
	fmt.Fprintf(stdout, "restore with (hearth stopped): hearth restore%s %s\n", conf, snap)
	return nil
}

// cmdRestore puts a backup made by cmdBackup in place, with the server
// stopped: the database (the current one is kept beside it) and the
// files of data_dir.
func cmdRestore(args []string, stdout, stderr io.Writer) error {
	set := flag.NewFlagSet("restore", flag.ContinueOnError)
	var f flags
	set.StringVar(&f.config, "c", "", "configuration `FILE`")
	force := set.Bool("force", false, "restore even though something answers on hearth's client ports")
	pos, err := dataFlags(set, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: hearth restore [-c FILE] [--force] BACKUP")}
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	if cfg.Storage.Driver != "sqlite" {
		return externalBackupHint(cfg.Storage.Driver, "restore")
	}
	if addr := running(cfg); addr != "" && !*force {
		return fmt.Errorf("something answers on %s: stop hearth before restoring (--force if it is another program)", addr)
	}
	snap := pos[0]
	if strings.HasPrefix(cfg.Storage.DSN, "file:") {
		return usageError{errors.New("restore: storage.dsn is a URI; copy the backup's hearth.db in place by hand")}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Storage.DSN), 0o700); err != nil {
		return err
	}
	kept, err := sqlstore.RestoreSQLite(context.Background(), filepath.Join(snap, backupDB), cfg.Storage.DSN)
	if err != nil {
		return err
	}
	n, err := copyTree(filepath.Join(snap, backupData), cfg.DataDir, nil)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restoring the files of %s: %w", cfg.DataDir, err)
	}
	fmt.Fprintf(stdout, "restored %s and %d file(s) of %s from %s\n", cfg.Storage.DSN, n, cfg.DataDir, snap)
	if kept != "" {
		fmt.Fprintf(stdout, "the previous database is kept as %s\n", kept)
	}
	if _, err := os.Stat(filepath.Join(snap, backupConfig)); err == nil {
		fmt.Fprintf(stdout, "the configuration at backup time is %s: compare it with yours\n", filepath.Join(snap, backupConfig))
	}
	return nil
}

// externalBackupHint explains how to back up a database hearth does not
// hold itself.
func externalBackupHint(driver, what string) error {
	switch driver {
	case "postgres":
		return fmt.Errorf("%s: PostgreSQL keeps hearth's data; use its tools: "+
			"pg_dump --format=custom --file=hearth.dump DBNAME to back up (consistent while hearth runs), "+
			"pg_restore --clean --if-exists --dbname=DBNAME hearth.dump to restore with hearth stopped; "+
			"copy data_dir and the configuration too", what)
	case "mysql":
		return fmt.Errorf("%s: MySQL/MariaDB keeps hearth's data; use its tools: "+
			"mysqldump --single-transaction DBNAME > hearth.sql to back up (consistent while hearth runs), "+
			"mysql DBNAME < hearth.sql to restore with hearth stopped; copy data_dir and the configuration too", what)
	}
	return fmt.Errorf("%s: unsupported storage driver %q", what, driver)
}

// running returns the first configured client address on which something
// accepts connections, or "".
func running(cfg *config.File) string {
	for _, a := range append(append([]string{}, cfg.Listen.C2S...), cfg.Listen.C2STLS...) {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		addr := net.JoinHostPort(host, port)
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
	}
	return ""
}

// skipDatabase returns the filter of copyTree for a backup: the database
// and its -wal/-shm files (copied consistently by VACUUM INTO), the
// databases a restore kept, and the backup itself when it is made inside
// data_dir.
func skipDatabase(cfg *config.File, snap string) func(string) bool {
	db, _ := filepath.Abs(cfg.Storage.DSN)
	self, _ := filepath.Abs(snap)
	return func(path string) bool {
		abs, _ := filepath.Abs(path)
		switch {
		case abs == db, abs == db+"-wal", abs == db+"-shm", abs == self:
			return true
		case strings.Contains(filepath.Base(path), ".before-restore-"):
			return true
		}
		return false
	}
}

// copyTree copies the regular files under src to dst, keeping the tree
// and making everything private, and returns how many it copied. skip,
// when set, leaves out paths (and, for directories, what is under them).
func copyTree(src, dst string, skip func(string) bool) (int, error) {
	n := 0
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if skip != nil && path != src && skip(path) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			n++
			return copyPrivate(path, target)
		}
		return nil // sockets, links: not data
	})
	return n, err
}

// copyPrivate copies a file, replacing dst, with mode 0600.
func copyPrivate(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

package main

import (
	"fmt"
	"io"

	"hearth/config"
	"hearth/server"
)

// cmdCheckConfig validates a configuration without starting anything: no
// storage is opened, no port bound, no certificate generated. It prints
// "configuration OK" (exit 0), or every problem found (exit 2); warnings
// do not change the exit code.
func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("check-config", args, stderr, false)
	if err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{fmt.Errorf("check-config: unexpected argument %q", f.args[0])}
	}
	path := f.config
	if path == "" {
		path = config.Find()
	}
	var cfg *config.File
	if path == "" {
		fmt.Fprintln(stdout, "no configuration file found (./hearth.toml, /etc/hearth/hearth.toml); checking the built-in defaults")
		cfg = config.Default()
	} else if cfg, err = config.Load(path); err != nil {
		// Parsing stops at the first error: there is nothing more to check.
		fmt.Fprintf(stderr, "problem: %v\n", err)
		return &server.ConfigError{Err: fmt.Errorf("%s: 1 problem", path)}
	}
	warnings, problems := server.CheckConfig(cfg, nil)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "problem: %v\n", p)
	}
	if len(problems) > 0 {
		name := path
		if name == "" {
			name = "built-in defaults"
		}
		s := "s"
		if len(problems) == 1 {
			s = ""
		}
		return &server.ConfigError{Err: fmt.Errorf("%s: %d problem%s", name, len(problems), s)}
	}
	if path != "" {
		fmt.Fprintf(stdout, "%s: configuration OK\n", path)
	} else {
		fmt.Fprintln(stdout, "configuration OK")
	}
	return nil
}

// Command hearth is the hearth XMPP server and its administration tool.
//
//	hearth init DOMAIN [-dir DIR] [-email ADDRESS] [-force]
//	hearth serve [-c FILE]            run the server (SIGHUP reloads the configuration)
//	hearth invite [-c FILE] [--host DOMAIN] [--from JID] [--uses N] [--expires 7d] [--admin]
//	hearth adduser JID [-c FILE] [--password-stdin]
//	hearth passwd JID [-c FILE] [--password-stdin]
//	hearth deluser JID [-c FILE]
//	hearth users [DOMAIN] [-c FILE]
//	hearth migrate [-c FILE] [--check]
//	hearth export [-c FILE] [--host DOMAIN] FILE|-
//	hearth import [-c FILE] [--replace] FILE|-
//	hearth import [-c FILE] [--replace] --prosody DIR [--host DOMAIN]
//	hearth backup [-c FILE] DIR
//	hearth restore [-c FILE] [--force] BACKUP
//	hearth check-config [-c FILE]
//	hearth compliance JID [--password-stdin] [--server HOST:PORT] [--insecure]
//	hearth status [-c FILE]
//	hearth version
//
// Every subcommand reads -c FILE, or ./hearth.toml, or
// /etc/hearth/hearth.toml, or runs on the zero-config defaults (localhost,
// ./hearth-data, c2s on port 5222).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad usage or configuration
)

// usageError is an error in the command line or configuration (exit 2).
type usageError struct{ error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(args[1:], stdout, stderr)
	case "init":
		err = cmdInit(args[1:], stdout, stderr)
	case "invite":
		err = cmdInvite(args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(args[1:], stdout, stderr)
	case "adduser":
		err = cmdAddUser(args[1:], stdin, stdout, stderr)
	case "passwd":
		err = cmdPasswd(args[1:], stdin, stdout, stderr)
	case "deluser":
		err = cmdDelUser(args[1:], stdout, stderr)
	case "users":
		err = cmdUsers(args[1:], stdout, stderr)
	case "migrate":
		err = cmdMigrate(args[1:], stdout, stderr)
	case "export":
		err = cmdExport(args[1:], stdout, stderr)
	case "import":
		err = cmdImport(args[1:], stdin, stdout, stderr)
	case "check-config":
		err = cmdCheckConfig(args[1:], stdout, stderr)
	case "backup":
		err = cmdBackup(args[1:], stdout, stderr)
	case "restore":
		err = cmdRestore(args[1:], stdout, stderr)
	case "compliance":
		err = cmdCompliance(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "hearth", Version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "hearth:", err)
	var ue usageError
	if errors.As(err, &ue) || isConfigError(err) {
		return exitUsage
	}
	return exitFailure
}

const usage = `usage: hearth COMMAND [flags]

commands:
  init DOMAIN [-dir DIR] [-email ADDRESS] [-force]
                                         write a configuration for DOMAIN, check DNS and ports
  serve [-c FILE]                        run the server; SIGHUP reloads the configuration
  invite [-c FILE] [--from JID] [--uses N] [--expires 7d] [--admin]
                                         create an invitation link (registration mode "invite")
  adduser JID [-c FILE] [--password-stdin] create an account
  passwd JID [-c FILE] [--password-stdin]  change an account's password
  deluser JID [-c FILE]                  delete an account and its data
  users [DOMAIN] [-c FILE]               list accounts
  migrate [-c FILE] [--check]            apply pending database migrations
  export [-c FILE] [--host DOMAIN] FILE|-  write accounts and data as XEP-0227
  import [-c FILE] [--replace] FILE|-    read a XEP-0227 dump
  import [-c FILE] [--replace] --prosody DIR [--host DOMAIN]
                                         read a Prosody data directory
  backup [-c FILE] DIR                   snapshot the database and data_dir while running (SQLite)
  restore [-c FILE] [--force] BACKUP     put a backup in place, hearth stopped (SQLite)
  check-config [-c FILE]                 check the configuration without starting
  compliance JID [--password-stdin] [--server HOST:PORT] [--tls-server HOST:PORT]
             [--component HOST:PORT] [--http URL] [--insecure] [--level core|advanced] [--json]
                                         test a server against XEP-0479 and Conversations
  status [-c FILE]                       certificate expiry; sessions of the running server
  version                                print the version

Without -c, hearth reads ./hearth.toml, then /etc/hearth/hearth.toml, and
otherwise runs on its defaults: host localhost, data in ./hearth-data,
clients on port 5222.
`

package sqlstore

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/go-sql-driver/mysql"
)

var mysqlDialect = &dialect{
	name:     "mysql",
	upsertKV: " ON DUPLICATE KEY UPDATE entry_value = VALUES(entry_value)",
	isUnique: func(err error) bool {
		var e *mysql.MySQLError
		return errors.As(err, &e) && e.Number == 1062 // ER_DUP_ENTRY
	},
	readTx: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	// GET_LOCK names are server-wide: include the database.
	lockMigrations:   "SELECT GET_LOCK(CONCAT('hearth.migrate.', DATABASE()), 60)",
	unlockMigrations: "SELECT RELEASE_LOCK(CONCAT('hearth.migrate.', DATABASE()))",
	hasSchemaVersion: `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = 'schema_version'`,
}

// openMySQL opens dsn (go-sql-driver/mysql syntax) as one pool, with two
// settings forced: ClientFoundRows, so that an UPDATE that matches a row but
// changes nothing still counts it (SetCredentials relies on that), and,
// unless the DSN sets sql_mode, strict mode, so that a value too long for
// its column is an error and not silently truncated.
//
// When opts names TLS files, they are registered as the driver's TLS config
// "custom" and the DSN must select it with tls=custom; ParseDSN copies the
// config, so a later Open with other files does not affect this one.
func openMySQL(dsn string, opts Options) (*sql.DB, error) {
	useTLS := opts.TLSCA != "" || opts.TLSCert != "" || opts.TLSKey != ""
	if useTLS {
		tc, err := mysqlTLS(opts)
		if err != nil {
			return nil, err
		}
		mysqlTLSMu.Lock()
		defer mysqlTLSMu.Unlock()
		if err := mysql.RegisterTLSConfig(mysqlTLSName, tc); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		defer mysql.DeregisterTLSConfig(mysqlTLSName)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if useTLS && cfg.TLSConfig != mysqlTLSName {
		return nil, fmt.Errorf("sqlstore: TLS files are configured but the mysql dsn does not say tls=%s", mysqlTLSName)
	}
	cfg.ClientFoundRows = true
	if _, ok := cfg.Params["sql_mode"]; !ok {
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["sql_mode"] = "'TRADITIONAL'"
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	db := sql.OpenDB(conn)
	setPool(db, opts)
	return db, nil
}

// mysqlTLSName is the name under which Options' TLS files are registered
// with the MySQL driver, for the DSN's tls parameter.
const mysqlTLSName = "custom"

// mysqlTLSMu serialises the use of the driver's global TLS registry
// between concurrent Opens.
var mysqlTLSMu sync.Mutex

// mysqlTLS builds the TLS config of opts: server certificates verified
// against TLSCA (or the system roots), with the optional client certificate.
func mysqlTLS(opts Options) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSCA != "" {
		pem, err := os.ReadFile(opts.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: tls_ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sqlstore: tls_ca: no PEM certificate in %s", opts.TLSCA)
		}
	}
	if opts.TLSCert != "" || opts.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: tls_cert/tls_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

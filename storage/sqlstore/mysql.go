package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

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
}

// openMySQL opens dsn (go-sql-driver/mysql syntax) as one pool, with two
// settings forced: ClientFoundRows, so that an UPDATE that matches a row but
// changes nothing still counts it (SetCredentials relies on that), and,
// unless the DSN sets sql_mode, strict mode, so that a value too long for
// its column is an error and not silently truncated.
func openMySQL(dsn string, opts Options) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
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

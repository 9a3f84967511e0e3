package sqlstore

import (
	"database/sql"
	"strconv"
	"strings"
)

// dialect is what differs between the SQL databases: everything else in
// this package is one implementation. Queries are written with '?'
// placeholders and rebound for dialects that number them.
type dialect struct {
	name string // also the directory of its migrations
	// numbered means placeholders are $1, $2, ... instead of ?.
	numbered bool
	// upsertKV completes "INSERT INTO kv (owner, store, entry_key, host,
	// entry_value) VALUES (...)" so that an existing row gets the new value.
	upsertKV string
	// isUnique reports whether err is a unique or primary key violation.
	isUnique func(error) bool
	// readTx are the options of the transaction in which Query reads the
	// positions, the count and the page, so that they agree.
	readTx *sql.TxOptions
	// lockMigrations, when set, is run on the migrating connection before
	// the migration transaction and returns 1 once the lock is held;
	// unlockMigrations releases it.
	lockMigrations, unlockMigrations string
	// hasSchemaVersion counts the tables named schema_version in the
	// database (0 or 1).
	hasSchemaVersion string
}

// rebind returns query with its '?' placeholders in d's syntax. Queries in
// this package contain no '?' in literals.
func (d *dialect) rebind(query string) string {
	if !d.numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for {
		i := strings.IndexByte(query, '?')
		if i < 0 {
			b.WriteString(query)
			return b.String()
		}
		n++
		b.WriteString(query[:i])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		query = query[i+1:]
	}
}

// builder assembles a query with a variable shape (Archive.Query, Delete of
// a list of ids) and its arguments.
type builder struct {
	d    *dialect
	sb   strings.Builder
	args []any
}

// add appends sql, whose '?' placeholders stand for args in order.
func (b *builder) add(sql string, args ...any) {
	for _, a := range args {
		i := strings.IndexByte(sql, '?')
		b.sb.WriteString(sql[:i])
		b.args = append(b.args, a)
		if b.d.numbered {
			b.sb.WriteByte('$')
			b.sb.WriteString(strconv.Itoa(len(b.args)))
		} else {
			b.sb.WriteByte('?')
		}
		sql = sql[i+1:]
	}
	b.sb.WriteString(sql)
}

// in appends a parenthesised list of placeholders for values.
func (b *builder) in(values []string) {
	b.add("(")
	for i, v := range values {
		if i > 0 {
			b.add(", ")
		}
		b.add("?", v)
	}
	b.add(")")
}

func (b *builder) String() string { return b.sb.String() }

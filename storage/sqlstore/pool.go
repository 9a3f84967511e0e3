package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxStatements bounds the prepared statements one pool keeps. The fixed
// queries number a few dozen; archive queries are built from their
// filters (and the number of IDs they list), so their variety is bounded
// only by this.
const maxStatements = 256

// pool is a connection pool that prepares each query once and reuses the
// statement: SQLite otherwise parses the SQL text at every call, which was
// a sixth of the CPU of a login (roster, account and settings lookups),
// and the servers save a parse and plan too. database/sql prepares a
// statement on each connection the first time it runs there.
type pool struct {
	*sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newPool(db *sql.DB) *pool { return &pool{DB: db, stmts: map[string]*sql.Stmt{}} }

// cached returns the prepared statement of q if there is one, and
// whether the cache is full.
func (p *pool) cached(q string) (st *sql.Stmt, ok, full bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok = p.stmts[q]
	return st, ok, len(p.stmts) >= maxStatements
}

// stmt returns the prepared statement of q, or nil when it cannot be
// prepared or the cache is full: the caller then runs q unprepared, which
// reports the same errors.
func (p *pool) stmt(ctx context.Context, q string) *sql.Stmt {
	st, ok, full := p.cached(q)
	if ok || full {
		return st
	}
	st, err := p.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.stmts[q]; ok { // prepared meanwhile by another caller
		st.Close()
		return prev
	}
	p.stmts[q] = st
	return st
}

// QueryRowContext runs q as a prepared statement.
func (p *pool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, q, args...)
}

// QueryContext runs q as a prepared statement.
func (p *pool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, q, args...)
}

// ExecContext runs q as a prepared statement.
func (p *pool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, q, args...)
}

// txStmt returns q prepared for tx, a transaction of p, or nil (run q
// unprepared then). It never waits for another connection: preparing on
// the pool while tx holds one deadlocks once every connection is held
// by a transaction doing the same (seen in the storage concurrency test).
// A query not cached yet runs unprepared this time and is prepared in
// the background, on whichever connection is free next.
func (p *pool) txStmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	st, ok, full := p.cached(q)
	if ok {
		return tx.StmtContext(ctx, st)
	}
	if !full {
		go p.stmt(context.WithoutCancel(ctx), q)
	}
	return nil
}

// Close closes the statements, then the pool.
func (p *pool) Close() error {
	p.mu.Lock()
	var errs []error
	for q, st := range p.stmts {
		errs = append(errs, st.Close())
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return errors.Join(append(errs, p.DB.Close())...)
}

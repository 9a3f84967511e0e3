package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"hearth/storage"
)

// archive implements storage.Archive as the rows of table archive whose
// store is name. Items are ordered by (ts, seq); an id names a position by
// its (ts, seq), so that paging is an index range whatever the filter.
type archive struct {
	s    *store
	name string
}

var _ storage.Archive = archive{}

// maxIDsPerStatement bounds the placeholders of one statement listing ids,
// well within every dialect's limit.
const maxIDsPerStatement = 500

func (a archive) Append(ctx context.Context, owner string, item storage.Item) (storage.Item, error) {
	if item.ID == "" {
		item.ID = storage.NewItemID()
	}
	if item.Time.IsZero() {
		item.Time = time.Now()
	}
	ts := item.Time.UnixMicro()
	item.Time = fromMicros(ts)
	err := a.s.insertArchive(ctx,
		owner, a.name, storage.OwnerHost(owner), item.ID, ts, item.With, bareJID(item.With), nonNil(item.Data))
	if err != nil {
		if a.s.d.isUnique(err) {
			return storage.Item{}, storage.ErrExists
		}
		return storage.Item{}, err
	}
	item.Data = append([]byte{}, item.Data...)
	return item, nil
}

// bareJID returns with up to its first '/': the column with_bare, which
// lets a WithPrefix query on a bare JID, the usual MAM query, run in index
// order.
func bareJID(with string) string {
	if i := strings.IndexByte(with, '/'); i >= 0 {
		return with[:i]
	}
	return with
}

// position is where an item sits in archive order.
type position struct{ ts, seq int64 }

// position returns the position of item id of owner, or ErrNotFound.
func (a archive) position(ctx context.Context, tx *sql.Tx, owner, id string) (position, error) {
	var p position
	err := a.txQueryRow(ctx, tx, a.s.q.archivePosition, id, owner, a.name).Scan(&p.ts, &p.seq)
	if errors.Is(err, sql.ErrNoRows) {
		return p, storage.ErrNotFound
	}
	return p, err
}

func (a archive) Query(ctx context.Context, owner string, q storage.Query) (storage.Result, error) {
	tx, err := a.s.read.BeginTx(ctx, a.s.d.readTx)
	if err != nil {
		return storage.Result{}, err
	}
	defer tx.Rollback()
	var after, before *position
	if q.AfterID != "" {
		p, err := a.position(ctx, tx, owner, q.AfterID)
		if err != nil {
			return storage.Result{}, err
		}
		after = &p
	}
	if q.BeforeID != "" {
		p, err := a.position(ctx, tx, owner, q.BeforeID)
		if err != nil {
			return storage.Result{}, err
		}
		before = &p
	}

	// The page: one item more than the limit, to learn whether the page is
	// complete.
	page, args := a.pageQuery(owner, q, after, before)
	var res storage.Result
	if res.Items, err = scanItems(a.txQuery(ctx, tx, page, args...)); err != nil {
		return storage.Result{}, err
	}
	res.Complete = q.Limit <= 0 || len(res.Items) <= q.Limit
	if !res.Complete {
		res.Items = res.Items[:q.Limit]
	}
	if q.Last {
		slices.Reverse(res.Items)
	}

	// The count ignores paging. When the page holds every match, it is the
	// page's length.
	if after == nil && before == nil && res.Complete {
		res.Count = len(res.Items)
		if q.CountLimit > 0 && res.Count > q.CountLimit {
			res.Count = -1
		}
	} else {
		count, args := a.countQuery(owner, q)
		if err := a.txQueryRow(ctx, tx, count, args...).Scan(&res.Count); err != nil {
			return storage.Result{}, err
		}
		if q.CountLimit > 0 && res.Count > q.CountLimit {
			res.Count = -1
		}
	}
	return res, tx.Commit()
}

// pageQuery returns the query selecting the page of q between after and
// before: the filter, the positions as a range on (ts, seq), ordered in the
// direction of q, at most q.Limit+1 rows.
func (a archive) pageQuery(owner string, q storage.Query, after, before *position) (string, []any) {
	b := &builder{d: a.s.d}
	b.add("SELECT id, ts, with_jid, data FROM archive WHERE ")
	a.where(b, owner, q, after, before)
	if q.Last {
		b.add(" ORDER BY ts DESC, seq DESC")
	} else {
		b.add(" ORDER BY ts, seq")
	}
	if q.Limit > 0 {
		b.add(" LIMIT " + strconv.Itoa(q.Limit+1))
	}
	return b.String(), b.args
}

// countQuery returns the query counting the matches of q's filter.
// With a CountLimit, it counts at most CountLimit+1 rows, which is enough
// to tell that there are more.
func (a archive) countQuery(owner string, q storage.Query) (string, []any) {
	b := &builder{d: a.s.d}
	if q.CountLimit <= 0 {
		b.add("SELECT COUNT(*) FROM archive WHERE ")
		a.where(b, owner, q, nil, nil)
		return b.String(), b.args
	}
	b.add("SELECT COUNT(*) FROM (SELECT 1 FROM archive WHERE ")
	a.where(b, owner, q, nil, nil)
	b.add(" LIMIT ?) bounded", q.CountLimit+1)
	return b.String(), b.args
}

// where appends the conditions selecting the items of owner that match q
// and lie strictly between after and before (each nil for no bound). The
// bounds on ts are merged into one range so that the database sees a single
// index range; the positions' seq only breaks ties of equal ts.
func (a archive) where(b *builder, owner string, q storage.Query, after, before *position) {
	b.add("owner = ? AND store = ?", owner, a.name)
	var lo, hi *int64
	if !q.Start.IsZero() {
		us := ceilMicros(q.Start)
		lo = &us
	}
	if after != nil && (lo == nil || after.ts > *lo) {
		lo = &after.ts
	}
	if !q.End.IsZero() {
		us := q.End.UnixMicro()
		hi = &us
	}
	if before != nil && (hi == nil || before.ts < *hi) {
		hi = &before.ts
	}
	if lo != nil {
		b.add(" AND ts >= ?", *lo)
	}
	if hi != nil {
		b.add(" AND ts <= ?", *hi)
	}
	// With ts >= after.ts already required, (ts, seq) > after reads:
	if after != nil {
		b.add(" AND (ts > ? OR seq > ?)", after.ts, after.seq)
	}
	if before != nil {
		b.add(" AND (ts < ? OR seq < ?)", before.ts, before.seq)
	}
	if q.With != "" {
		// Every match has the bare JID of q.With in with_bare, which the
		// index (owner, store, with_bare, ts, seq) serves in order.
		b.add(" AND with_bare = ?", bareJID(q.With))
		switch {
		case !q.WithPrefix:
			b.add(" AND with_jid = ?", q.With)
		case strings.Contains(q.With, "/"):
			// '0' follows '/': the range holds exactly the strings that
			// start with q.With+"/".
			b.add(" AND (with_jid = ? OR (with_jid >= ? AND with_jid < ?))", q.With, q.With+"/", q.With+"0")
		default:
			// with_bare = q.With is the whole condition.
		}
	}
	if len(q.IDs) > 0 {
		b.add(" AND id IN ")
		b.in(q.IDs)
	}
}

// scanItems reads the rows of "SELECT id, ts, with_jid, data".
func scanItems(rows *sql.Rows, err error) ([]storage.Item, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []storage.Item{}
	for rows.Next() {
		var (
			it storage.Item
			ts int64
		)
		if err := rows.Scan(&it.ID, &ts, &it.With, &it.Data); err != nil {
			return nil, err
		}
		it.Time = fromMicros(ts)
		it.Data = nonNil(it.Data)
		items = append(items, it)
	}
	return items, rows.Err()
}

func (a archive) Get(ctx context.Context, owner, id string) (storage.Item, error) {
	it := storage.Item{ID: id}
	var ts int64
	err := a.s.read.QueryRowContext(ctx, a.s.q.archiveGet, id, owner, a.name).Scan(&ts, &it.With, &it.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Item{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.Item{}, err
	}
	it.Time = fromMicros(ts)
	it.Data = nonNil(it.Data)
	return it, nil
}

func (a archive) Delete(ctx context.Context, owner string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return a.s.inTx(ctx, func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(ids, maxIDsPerStatement) {
			b := &builder{d: a.s.d}
			b.add("DELETE FROM archive WHERE owner = ? AND store = ? AND id IN ", owner, a.name)
			b.in(chunk)
			if _, err := tx.ExecContext(ctx, b.String(), b.args...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a archive) DeleteBefore(ctx context.Context, owner string, t time.Time) (int64, error) {
	var (
		res sql.Result
		err error
	)
	if owner == "" {
		res, err = a.s.write.ExecContext(ctx, a.s.q.archiveDeleteBeforeAll, a.name, ceilMicros(t))
	} else {
		res, err = a.s.write.ExecContext(ctx, a.s.q.archiveDeleteBefore, owner, a.name, ceilMicros(t))
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (a archive) Count(ctx context.Context, owner string) (int, error) {
	var n int
	err := a.s.read.QueryRowContext(ctx, a.s.q.archiveCount, owner, a.name).Scan(&n)
	return n, err
}

// txQuery and txQueryRow run q in tx (a read transaction of the read
// pool) as a prepared statement.
func (a archive) txQuery(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := a.s.read.txStmt(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

func (a archive) txQueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := a.s.read.txStmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

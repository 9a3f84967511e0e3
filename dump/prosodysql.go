package dump

import (
	"context"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"hearth/mod/private"
	"hearth/mod/vcard"
	"hearth/stanza"
)

// ReadProsodySQL reads the accounts and data of a Prosody server that uses
// its SQL storage (mod_storage_sql) with SQLite, from the database file at
// path, opened read-only, and calls fn with each user as ReadProsody does.
// When host is not "", only that host is read.
//
// mod_storage_sql keeps key-value stores in the table prosody (host, user,
// store, key, type, value), one row per key of the user's record, and
// archives in prosodyarchive (… key, when, with, type, value). Imported:
// accounts (plaintext or SCRAM, as ReadProsody), rosters with pending
// requests, vCards (vcard-temp), private XML, offline messages (their
// time becomes the <delay/> hearth stamps) and the MAM archive ("archive"
// store; Prosody's item keys become stanza-ids, times are kept). Other
// stores, PEP among them, are reported in User.Skipped.
func ReadProsodySQL(ctx context.Context, path, host string, fn func(User) error) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("dump: prosody database: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT host, user FROM prosody WHERE store = 'accounts' AND (? = '' OR host = ?)`, host, host)
	if err != nil {
		return fmt.Errorf("dump: prosody database %s: %w", path, err)
	}
	var users [][2]string
	for rows.Next() {
		var h, u string
		if err := rows.Scan(&h, &u); err != nil {
			rows.Close()
			return err
		}
		users = append(users, [2]string{h, u})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(users) == 0 {
		return fmt.Errorf("dump: prosody database %s: no accounts", path)
	}
	slices.SortFunc(users, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, hu := range users {
		u, err := readProsodySQLUser(ctx, db, hu[0], hu[1])
		if err != nil {
			return fmt.Errorf("dump: prosody database: %s@%s: %w", hu[1], hu[0], err)
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// sqlRow is one row of the key-value table.
type sqlRow struct{ key, typ, value string }

func readProsodySQLUser(ctx context.Context, db *sql.DB, host, user string) (User, error) {
	u := User{Host: host, Name: user}
	rows, err := db.QueryContext(ctx, `SELECT store, key, type, value FROM prosody WHERE host = ? AND user = ? ORDER BY store, key`, host, user)
	if err != nil {
		return u, err
	}
	stores := map[string][]sqlRow{}
	var names []string
	for rows.Next() {
		var store string
		var r sqlRow
		if err := rows.Scan(&store, &r.key, &r.typ, &r.value); err != nil {
			rows.Close()
			return u, err
		}
		if _, ok := stores[store]; !ok {
			names = append(names, store)
		}
		stores[store] = append(stores[store], r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return u, err
	}
	acct, err := sqlRecord(stores["accounts"])
	if err != nil {
		return u, fmt.Errorf("account: %w", err)
	}
	if err := prosodyAccount(acct, &u); err != nil {
		return u, fmt.Errorf("account: %w", err)
	}
	for _, store := range names {
		var els []*stanza.Element
		var err error
		switch store {
		case "accounts":
			continue
		case "roster":
			var t luaTable
			if t, err = sqlRecord(stores[store]); err == nil {
				els, err = prosodyRoster(t)
			}
		case "vcard":
			els, err = sqlVCard(stores[store])
		case "private":
			els, err = sqlPrivate(stores[store])
		default:
			u.Skipped = append(u.Skipped, "prosody store "+store)
		}
		if err != nil {
			return u, fmt.Errorf("%s: %w", store, err)
		}
		u.Data = append(u.Data, els...)
	}
	for _, store := range []string{"offline", "archive"} {
		els, err := sqlArchive(ctx, db, host, user, store)
		if err != nil {
			return u, fmt.Errorf("%s: %w", store, err)
		}
		u.Data = append(u.Data, els...)
	}
	arows, err := db.QueryContext(ctx, `SELECT DISTINCT store FROM prosodyarchive WHERE host = ? AND user = ? AND store NOT IN ('offline', 'archive') ORDER BY store`, host, user)
	if err != nil {
		return u, err
	}
	defer arows.Close()
	for arows.Next() {
		var s string
		if err := arows.Scan(&s); err != nil {
			return u, err
		}
		u.Skipped = append(u.Skipped, "prosody archive "+s)
	}
	return u, arows.Err()
}

// sqlValue converts a value as mod_storage_sql writes it.
func sqlValue(typ, value string) (any, error) {
	switch typ {
	case "string", "xml":
		return value, nil
	case "number":
		return strconv.ParseFloat(value, 64)
	case "boolean":
		return value == "true", nil
	case "json":
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return nil, err
		}
		return jsonToLua(v), nil
	}
	return nil, fmt.Errorf("unknown value type %q", typ)
}

// jsonToLua turns Prosody's JSON (util.json: a table with non-string keys
// is {"__hash": [k1, v1, k2, v2...]}, one with an array part carries it
// as "__array") into the luaTable the file storage readers take.
func jsonToLua(v any) any {
	switch v := v.(type) {
	case map[string]any:
		t := luaTable{}
		for k, x := range v {
			switch k {
			case "__hash":
				pairs, _ := x.([]any)
				for i := 0; i+1 < len(pairs); i += 2 {
					t[jsonToLua(pairs[i])] = jsonToLua(pairs[i+1])
				}
			case "__array":
				arr, _ := x.([]any)
				for i, e := range arr {
					t[float64(i+1)] = jsonToLua(e)
				}
			default:
				t[k] = jsonToLua(x)
			}
		}
		return t
	case []any:
		t := luaTable{}
		for i, e := range v {
			t[float64(i+1)] = jsonToLua(e)
		}
		return t
	}
	return v
}

// sqlRecord rebuilds a user's record from its rows: string keys are
// rows of their own; the other keys and the array part are in the row
// with the empty key.
func sqlRecord(rows []sqlRow) (luaTable, error) {
	t := luaTable{}
	for _, r := range rows {
		v, err := sqlValue(r.typ, r.value)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", r.key, err)
		}
		if r.key != "" {
			t[r.key] = v
			continue
		}
		extra, ok := v.(luaTable)
		if !ok {
			return nil, fmt.Errorf("extra data is not a table")
		}
		for k, x := range extra {
			t[k] = x
		}
	}
	return t, nil
}

// sqlVCard rebuilds the vCard Prosody's mod_vcard keeps as a serialised
// stanza (name, attr, children in the array part).
func sqlVCard(rows []sqlRow) ([]*stanza.Element, error) {
	t, err := sqlRecord(rows)
	if err != nil {
		return nil, err
	}
	el, err := luaStanza(t, "", 0)
	if err != nil {
		return nil, err
	}
	if el.Name != (xml.Name{Space: vcard.NS, Local: "vCard"}) {
		return nil, fmt.Errorf("not a vcard-temp <vCard/>: {%s}%s", el.Name.Space, el.Name.Local)
	}
	return []*stanza.Element{el}, nil
}

// luaStanza converts a serialised stanza table (util.stanza's
// preserialize: name, attr with xmlns, children as strings or tables)
// into an element; ns is the parent's namespace.
func luaStanza(t luaTable, ns string, depth int) (*stanza.Element, error) {
	if depth > 64 {
		return nil, errTooDeep
	}
	name, _ := t["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("serialised element without a name")
	}
	el := &stanza.Element{Name: xml.Name{Space: ns, Local: name}}
	attrs, _ := t["attr"].(luaTable)
	var keys []string
	for k := range attrs {
		if s, ok := k.(string); ok {
			keys = append(keys, s)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, _ := attrs[k].(string)
		if k == "xmlns" {
			el.Name.Space = v
			continue
		}
		el.Set(k, v)
	}
	for i := 1; ; i++ {
		c, ok := t[float64(i)]
		if !ok {
			break
		}
		switch c := c.(type) {
		case string:
			el.AppendText(c)
		case luaTable:
			ch, err := luaStanza(c, el.Name.Space, depth+1)
			if err != nil {
				return nil, err
			}
			el.Append(ch)
		}
	}
	return el, nil
}

// errTooDeep refuses absurdly nested serialised stanzas.
var errTooDeep = fmt.Errorf("serialised element nested too deep")

// sqlPrivate gathers the private XML elements (one row per "{ns}name" key,
// type xml) into the <query xmlns='jabber:iq:private'/> of XEP-0227.
func sqlPrivate(rows []sqlRow) ([]*stanza.Element, error) {
	q := stanza.New(private.NS, "query")
	for _, r := range rows {
		if r.typ != "xml" {
			continue
		}
		el, err := parseXML(r.value, "")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", r.key, err)
		}
		q.Append(el)
	}
	if len(q.Elements()) == 0 {
		return nil, nil
	}
	return []*stanza.Element{q}, nil
}

// parseXML parses one serialised element; ns is the default namespace it
// is read in (Prosody writes stanzas without their jabber:client xmlns).
func parseXML(s, ns string) (*stanza.Element, error) {
	doc := "<w>" + s + "</w>"
	if ns != "" {
		doc = "<w xmlns='" + ns + "'>" + s + "</w>"
	}
	w, err := stanza.NewDecoder(strings.NewReader(doc), stanza.Limits{}).Next()
	if err != nil {
		return nil, err
	}
	els := w.Elements()
	if len(els) != 1 {
		return nil, fmt.Errorf("want one element, have %d", len(els))
	}
	return els[0], nil
}

// sqlArchive converts the items of one of the user's archive stores:
// "offline" into XEP-0227 <offline-messages/>, stamped with a <delay/> of
// the host at their time; "archive" (mod_mam) into the MAM <archive/>.
func sqlArchive(ctx context.Context, db *sql.DB, host, user, store string) ([]*stanza.Element, error) {
	rows, err := db.QueryContext(ctx, `SELECT key, "when", type, value FROM prosodyarchive WHERE host = ? AND user = ? AND store = ? ORDER BY sort_id`, host, user, store)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var parent *stanza.Element
	if store == "offline" {
		parent = stanza.New(NS, "offline-messages")
	} else {
		parent = stanza.New(NSMAM, "archive")
	}
	for rows.Next() {
		var key, typ, value string
		var when float64
		if err := rows.Scan(&key, &when, &typ, &value); err != nil {
			return nil, err
		}
		if typ != "xml" {
			return nil, fmt.Errorf("item %s: type %q, want xml", key, typ)
		}
		msg, err := parseXML(value, stanza.NSClient)
		if err != nil {
			return nil, fmt.Errorf("item %s: %w", key, err)
		}
		if msg.Name != (xml.Name{Space: stanza.NSClient, Local: "message"}) {
			continue
		}
		sec, frac := math.Modf(when)
		t := time.Unix(int64(sec), int64(frac*1e6)*1e3).UTC()
		if store == "offline" {
			if msg.Get("to") == "" {
				msg.Set("to", user+"@"+host)
			}
			parent.Append(msg.Append(stanza.New(nsDelay, "delay", "from", host, "stamp", t.Format(time.RFC3339))))
			continue
		}
		parent.Append(stanza.New(nsMAM, "result", "id", key).Append(stanza.New(nsForward, "forwarded").Append(
			stanza.New(nsDelay, "delay", "stamp", t.Format(stampLayout)), msg)))
	}
	if err := rows.Err(); err != nil || len(parent.Elements()) == 0 {
		return nil, err
	}
	return []*stanza.Element{parent}, nil
}

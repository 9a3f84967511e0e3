package mam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// stampLayout writes archive times as XEP-0082 DateTime in UTC with the
// microseconds storage keeps, so that a client may pass a result's stamp
// back as 'start' or 'end' and hit that very item.
const stampLayout = "2006-01-02T15:04:05.000000Z"

// request is a parsed query: the filter (the form), the page (RSM) and
// how to send it.
type request struct {
	queryID string

	filter    storage.Query // Start, End, With, WithPrefix, IDs
	afterID   string        // form 'after-id'
	beforeID  string        // form 'before-id'
	rsmAfter  string        // RSM <after/>
	rsmBefore string        // RSM <before/> with an ID
	last      bool          // RSM <before/>, empty or not: page backwards
	max       int           // RSM <max/>, -1 when absent
	flip      bool          // <flip-page/>
}

// query answers a MAM query (XEP-0313 §4): it sends the page's results to
// the requesting session, in chronological order (reversed with
// <flip-page/>), then returns the <fin/> of the IQ result, which the
// router sends after them on the same session.
func (m *mam) query(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := ownArchive(req); err != nil {
		return nil, err
	}
	if req.Session == nil {
		// Results go to a session of the account; nothing else may ask.
		return nil, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only the account may use its archive"}
	}
	r, err := m.parseQuery(req.Payload)
	if err != nil {
		return nil, err
	}
	// This client reads the archive: what it misses it finds here
	// (module.UsesArchive, the policy on unacknowledged messages).
	module.UsesArchive.Set(req.Session, true)
	owner := req.To
	m.w.flush(owner.String())
	arch := m.h.Archive(ArchiveName)
	q := r.filter
	if err := checkIDs(ctx, arch, owner.String(), q.IDs); err != nil {
		return nil, err
	}
	// The form's bounds restrict the result set and RSM's page through
	// it; storage takes one bound each way, so the tighter one is kept.
	if q.AfterID, err = bound(ctx, arch, owner.String(), r.afterID, r.rsmAfter, true); err != nil {
		return nil, err
	}
	if q.BeforeID, err = bound(ctx, arch, owner.String(), r.beforeID, r.rsmBefore, false); err != nil {
		return nil, err
	}
	q.Last = r.last
	size := m.cfg.DefaultPage
	if r.max >= 0 {
		size = min(r.max, m.cfg.MaxPage)
	}
	// A <max>0</max> asks for the count only (XEP-0059 §2.7); storage's
	// Limit 0 means no limit, so one item is fetched and not sent.
	q.Limit = max(size, 1)
	q.CountLimit = m.cfg.MaxCount
	res, err := arch.Query(ctx, owner.String(), q)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such archive ID"}
	}
	if err != nil {
		return nil, fmt.Errorf("querying the archive of %s: %w", owner, err)
	}
	items, complete := res.Items, res.Complete
	if size == 0 {
		items, complete = nil, len(res.Items) == 0
	}
	if kept := m.fit(items, r.last); len(kept) < len(items) {
		items, complete = kept, false
	}

	to := req.Session.JID().String()
	send := func(it storage.Item) { req.Session.Send(m.result(owner, to, r.queryID, it)) }
	if r.flip {
		for i := len(items) - 1; i >= 0; i-- {
			send(items[i])
		}
	} else {
		for _, it := range items {
			send(it)
		}
	}

	// The count is the size of the form's result set, which storage
	// knows only when the form set no ID bound; the index of the first
	// item only when, in addition, the page starts at an end of it.
	countKnown := r.afterID == "" && r.beforeID == "" && res.Count >= 0
	index := -1
	if countKnown && q.AfterID == "" && q.BeforeID == "" {
		index = 0
		if r.last {
			index = res.Count - len(items)
		}
	}
	fin := stanza.New(NS, "fin")
	if complete {
		fin.Set("complete", "true")
	}
	set := stanza.New(NSRSM, "set")
	if len(items) > 0 {
		first := stanza.New(NSRSM, "first").AppendText(items[0].ID)
		if index >= 0 {
			first.Set("index", strconv.Itoa(index))
		}
		set.Append(first, stanza.New(NSRSM, "last").AppendText(items[len(items)-1].ID))
	}
	if countKnown {
		set.Append(stanza.New(NSRSM, "count").AppendText(strconv.Itoa(res.Count)))
	}
	return fin.Append(set), nil
}

// fit returns the part of the page whose stored size fits MaxPageBytes,
// at least one item: the oldest items of a forward page, the newest of a
// backward one, so that the client's next page (after the last, before
// the first) continues where this one stopped.
func (m *mam) fit(items []storage.Item, backward bool) []storage.Item {
	total := 0
	if backward {
		for i := len(items) - 1; i >= 0; i-- {
			if total += len(items[i].Data); total > m.cfg.MaxPageBytes && i < len(items)-1 {
				return items[i+1:]
			}
		}
		return items
	}
	for i, it := range items {
		if total += len(it.Data); total > m.cfg.MaxPageBytes && i > 0 {
			return items[:i]
		}
	}
	return items
}

// result returns the <message/> carrying one archived item to the
// session to (XEP-0313 §4.2): the stored stanza forwarded (XEP-0297) with
// the time it was archived (XEP-0203). An item whose stanza cannot be
// decoded is forwarded without it, as §3.2 allows for removed content.
func (m *mam) result(owner jid.JID, to, queryID string, it storage.Item) *stanza.Element {
	fwd := stanza.New(NSForward, "forwarded").
		Append(stanza.New(NSDelay, "delay", "stamp", it.Time.UTC().Format(stampLayout)))
	msg, err := stanza.NewDecoder(strings.NewReader(string(it.Data)), stanza.Limits{}).Next()
	if err != nil {
		m.h.Logger().Error("archived stanza unreadable", "owner", owner.String(), "id", it.ID, "err", err)
	} else {
		fwd.Append(msg)
	}
	res := stanza.New(NS, "result")
	res.Set("queryid", queryID).Set("id", it.ID)
	return stanza.New(stanza.NSClient, "message", "to", to, "from", owner.String()).Append(res.Append(fwd))
}

// checkIDs fails with item-not-found unless every id is in the archive
// (XEP-0313 §4.1.3).
func checkIDs(ctx context.Context, arch storage.Archive, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	res, err := arch.Query(ctx, owner, storage.Query{IDs: ids, Limit: 1})
	if err != nil {
		return fmt.Errorf("looking up archive IDs: %w", err)
	}
	if res.Count != len(ids) {
		return &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such archive ID"}
	}
	return nil
}

// bound returns the tighter of two bounds given by ID (either may be ""):
// the later one when after is true, else the earlier. Unknown IDs are
// item-not-found (XEP-0313 §4.1.3, §4.3.2).
func bound(ctx context.Context, arch storage.Archive, owner, a, b string, after bool) (string, error) {
	switch {
	case a == "":
		return b, nil
	case b == "" || a == b:
		return a, nil
	}
	res, err := arch.Query(ctx, owner, storage.Query{IDs: []string{a, b}})
	if err != nil {
		return "", fmt.Errorf("looking up archive IDs: %w", err)
	}
	if len(res.Items) != 2 {
		return "", &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such archive ID"}
	}
	if after {
		return res.Items[1].ID, nil
	}
	return res.Items[0].ID, nil
}

// parseQuery reads the <query/> of an IQ set: its data form (XEP-0313
// §4.1), RSM set (XEP-0059) and <flip-page/>.
func (m *mam) parseQuery(query *stanza.Element) (request, error) {
	r := request{queryID: query.Get("queryid"), max: -1}
	if query.Get("node") != "" {
		return r, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "a user archive has no nodes"}
	}
	for _, c := range query.Elements() {
		var err error
		switch c.Name {
		case module.Name(stanza.NSData, "x"):
			err = m.parseForm(c, &r)
		case module.Name(NSRSM, "set"):
			err = parseRSM(c, &r)
		case module.Name(NS, "flip-page"):
			r.flip = true
		}
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

func badRequest(format string, args ...any) error {
	return &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: fmt.Sprintf(format, args...)}
}

// parseForm reads the query form. It does not use stanza.ParseForm,
// which refuses several values in a field without a type, as submitted
// forms usually send 'ids'. Empty values count as absent fields.
func (m *mam) parseForm(x *stanza.Element, r *request) error {
	if t := x.Get("type"); t != stanza.FormSubmit {
		return badRequest("the query form must be of type submit, not %q", t)
	}
	seen := map[string]bool{}
	for _, f := range x.Elements() {
		if f.Name != module.Name(stanza.NSData, "field") {
			continue
		}
		name := f.Get("var")
		if name == "" {
			continue // a fixed field: text for people, nothing to query by
		}
		if seen[name] {
			return badRequest("field %q given twice", name)
		}
		seen[name] = true
		var values []string
		for _, v := range f.Elements() {
			if v.Name == module.Name(stanza.NSData, "value") && v.Text() != "" {
				values = append(values, v.Text())
			}
		}
		if len(values) > 1 && name != "ids" {
			return badRequest("field %q has several values", name)
		}
		value := ""
		if len(values) == 1 {
			value = values[0]
		}
		switch name {
		case "FORM_TYPE":
			// A form without FORM_TYPE is read as a MAM form: the element
			// it comes in says what it is for.
			if value != NS {
				return badRequest("FORM_TYPE is not %s", NS)
			}
		case "with":
			if value == "" {
				continue
			}
			j, err := jid.Parse(value)
			if err != nil {
				return badRequest("invalid JID in 'with'")
			}
			// A bare JID matches its resources too (XEP-0313 §4.1.1).
			r.filter.With, r.filter.WithPrefix = j.String(), j.IsBare()
		case "start", "end":
			if value == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return badRequest("%q is not a XEP-0082 DateTime", name)
			}
			if name == "start" {
				r.filter.Start = t
			} else {
				r.filter.End = t
			}
		case "after-id":
			r.afterID = value
		case "before-id":
			r.beforeID = value
		case "ids":
			for _, id := range values {
				if !slices.Contains(r.filter.IDs, id) {
					r.filter.IDs = append(r.filter.IDs, id)
				}
			}
			if len(r.filter.IDs) > m.cfg.MaxPage {
				return &stanza.Error{Type: stanza.Modify, Condition: "policy-violation",
					Text: fmt.Sprintf("at most %d ids may be asked for at once", m.cfg.MaxPage)}
			}
		case "include-groupchat":
			// User archives hold no groupchat messages: true and false
			// give the same results (XEP-0313 §4.1.4).
			switch value {
			case "", "0", "1", "false", "true":
			default:
				return badRequest("include-groupchat is not a boolean")
			}
		default:
			return &stanza.Error{Type: stanza.Cancel, Condition: "feature-not-implemented",
				Text: fmt.Sprintf("unknown field %q", name)}
		}
	}
	return nil
}

// parseRSM reads the RSM <set/> of a query. Paging by <index/> is not
// offered (XEP-0059 §2.6 allows feature-not-implemented): archive IDs
// page exactly and cheaply, an index would not.
func parseRSM(set *stanza.Element, r *request) error {
	for _, c := range set.Elements() {
		if c.Name.Space != NSRSM {
			continue
		}
		switch c.Name.Local {
		case "max":
			n, err := strconv.Atoi(strings.TrimSpace(c.Text()))
			if err != nil || n < 0 {
				return badRequest("<max/> is not a non-negative integer")
			}
			r.max = n
		case "after":
			r.rsmAfter = c.Text()
		case "before":
			r.last, r.rsmBefore = true, c.Text()
		case "index":
			return &stanza.Error{Type: stanza.Cancel, Condition: "feature-not-implemented",
				Text: "paging by index is not supported; use <after/> or <before/>"}
		}
	}
	return nil
}

// queryForm answers an IQ get of <query/>: the fields a query form may
// hold (XEP-0313 §4.1.5).
func (m *mam) queryForm(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := ownArchive(req); err != nil {
		return nil, err
	}
	f := stanza.Form{Type: stanza.FormForm, Fields: []stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NS}},
		{Var: "with", Type: stanza.FieldJIDSingle},
		{Var: "start", Type: stanza.FieldTextSingle},
		{Var: "end", Type: stanza.FieldTextSingle},
		{Var: "before-id", Type: stanza.FieldTextSingle},
		{Var: "after-id", Type: stanza.FieldTextSingle},
		{Var: "ids", Type: stanza.FieldListMulti},
		{Var: "include-groupchat", Type: stanza.FieldBoolean},
	}}
	x := f.Element()
	// The list of ids is open (XEP-0313 §4.1.5, XEP-0122).
	for _, fd := range x.Elements() {
		if fd.Get("var") == "ids" {
			fd.Append(stanza.New(NSValidate, "validate", "datatype", "xs:string").Append(stanza.New(NSValidate, "open")))
		}
	}
	return stanza.New(NS, "query").Append(x), nil
}

// metadata answers <metadata/> (XEP-0313 §5): the first and last items
// of the archive, nothing when it is empty.
func (m *mam) metadata(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := ownArchive(req); err != nil {
		return nil, err
	}
	el := stanza.New(NS, "metadata")
	m.w.flush(req.To.String())
	arch := m.h.Archive(ArchiveName)
	for _, end := range []struct {
		name string
		last bool
	}{{"start", false}, {"end", true}} {
		res, err := arch.Query(ctx, req.To.String(), storage.Query{Last: end.last, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("archive metadata of %s: %w", req.To, err)
		}
		if len(res.Items) == 0 {
			return stanza.New(NS, "metadata"), nil
		}
		it := res.Items[0]
		el.Append(stanza.New(NS, end.name, "id", it.ID, "timestamp", it.Time.UTC().Format(stampLayout)))
	}
	return el, nil
}

package pep

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// caps is what a presence's XEP-0115 <c/> says: the entity's
// verification string, the hash function that produced it and the node of
// its software.
type caps struct {
	Node, Hash, Ver string
}

// key identifies the feature set of c: the node plays no part in it.
func (c caps) key() string { return c.Hash + " " + c.Ver }

// parseCaps returns the caps of a presence stanza, or the zero caps when it
// has none usable (no hash, as in the legacy format, or an unknown one).
func parseCaps(p *stanza.Element) caps {
	if p == nil {
		return caps{}
	}
	c := p.Child(NSCaps, "c")
	if c == nil {
		return caps{}
	}
	out := caps{Node: c.Get("node"), Hash: c.Get("hash"), Ver: c.Get("ver")}
	if out.Ver == "" || newHash(out.Hash) == nil {
		return caps{}
	}
	return out
}

// newHash returns the hash function of an IANA hash name XEP-0115 allows,
// or nil.
func newHash(name string) hash.Hash {
	switch name {
	case "sha-1":
		return sha1.New()
	case "sha-256":
		return sha256.New()
	case "sha-512":
		return sha512.New()
	}
	return nil
}

// errBadInfo is returned by verString for a disco#info result XEP-0115
// §5.4 says to reject (duplicate identities, features or form types).
var errBadInfo = errors.New("pep: disco#info unfit for entity capabilities")

// verString computes the XEP-0115 §5.1 verification string of a disco#info
// <query/> with hash function h, and returns it with the features of the
// query.
func verString(q *stanza.Element, h hash.Hash) (string, map[string]bool, error) {
	var ids, feats []string
	type form struct {
		typ    string
		fields [][]string // var, then sorted values
	}
	var forms []form
	for _, c := range q.Elements() {
		switch {
		case c.Name.Space == NSDiscoInfo && c.Name.Local == "identity":
			ids = append(ids, c.Get("category")+"/"+c.Get("type")+"/"+c.Lang()+"/"+c.Get("name"))
		case c.Name.Space == NSDiscoInfo && c.Name.Local == "feature":
			feats = append(feats, c.Get("var"))
		case c.Name.Space == stanza.NSData && c.Name.Local == "x":
			f, err := stanza.ParseForm(c)
			if err != nil {
				return "", nil, errBadInfo
			}
			var fm form
			ok := false
			for _, fd := range f.Fields {
				if fd.Var == "FORM_TYPE" {
					if fd.Type != stanza.FieldHidden || len(fd.Values) != 1 {
						return "", nil, errBadInfo
					}
					fm.typ, ok = fd.Values[0], true
					continue
				}
				vals := slices.Clone(fd.Values)
				slices.Sort(vals)
				fm.fields = append(fm.fields, append([]string{fd.Var}, vals...))
			}
			if !ok {
				continue // §5.4: forms without FORM_TYPE are ignored
			}
			slices.SortFunc(fm.fields, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
			forms = append(forms, fm)
		}
	}
	slices.Sort(ids)
	slices.Sort(feats)
	slices.SortFunc(forms, func(a, b form) int { return strings.Compare(a.typ, b.typ) })
	if len(slices.Compact(slices.Clone(ids))) != len(ids) || len(slices.Compact(slices.Clone(feats))) != len(feats) {
		return "", nil, errBadInfo
	}
	for i := 1; i < len(forms); i++ {
		if forms[i].typ == forms[i-1].typ {
			return "", nil, errBadInfo
		}
	}
	var b strings.Builder
	for _, s := range ids {
		b.WriteString(s + "<")
	}
	for _, s := range feats {
		b.WriteString(s + "<")
	}
	for _, f := range forms {
		b.WriteString(f.typ + "<")
		for _, fd := range f.fields {
			for _, s := range fd {
				b.WriteString(s + "<")
			}
		}
	}
	h.Write([]byte(b.String()))
	set := make(map[string]bool, len(feats))
	for _, f := range feats {
		set[f] = true
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), set, nil
}

// waiter is an entity seen with capabilities being resolved, on behalf of
// the account owner whose PEP service saw it.
type waiter struct{ owner, entity jid.JID }

// maxWaiters bounds the entities waiting for one verification string; the
// others are not told when it resolves (they get notifications from then
// on, only not the last items).
const maxWaiters = 1000

// resolver is the cache of XEP-0115 capabilities: verification string ->
// features, filled by querying one entity that announced it. It is safe
// for concurrent use; no lock is held while querying or calling back.
type resolver struct {
	h        *module.Host
	timeout  time.Duration
	retry    time.Duration
	size     int
	resolved func(ctx context.Context, w waiter, c caps, features map[string]bool)

	mu      sync.Mutex
	known   map[string]map[string]bool // by caps.key
	order   []string                   // keys of known, oldest first, for eviction
	pending map[string][]waiter
	failed  map[string]time.Time // when a query may be tried again (zero: never)
}

func newResolver(h *module.Host, cfg Config, resolved func(context.Context, waiter, caps, map[string]bool)) *resolver {
	return &resolver{
		h: h, timeout: seconds(cfg.CapsQueryTimeout), retry: seconds(cfg.CapsRetry), size: cfg.CapsCacheSize,
		resolved: resolved,
		known:    map[string]map[string]bool{}, pending: map[string][]waiter{}, failed: map[string]time.Time{},
	}
}

// features returns the features of c, and false when they are not known
// (yet). It never queries.
func (r *resolver) features(c caps) (map[string]bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.known[c.key()]
	return f, ok
}

// lookup returns the features of c when known. Otherwise it starts a query
// to w.entity, unless one is under way (then w waits for it) or failed
// lately, and returns false; when the query succeeds, resolved is called
// for every waiter.
func (r *resolver) lookup(c caps, w waiter) (map[string]bool, bool) {
	k := c.key()
	r.mu.Lock()
	if f, ok := r.known[k]; ok {
		r.mu.Unlock()
		return f, true
	}
	if ws, ok := r.pending[k]; ok {
		if len(ws) < maxWaiters {
			r.pending[k] = append(ws, w)
		}
		r.mu.Unlock()
		return nil, false
	}
	if until, ok := r.failed[k]; ok && (until.IsZero() || time.Now().Before(until)) {
		r.mu.Unlock()
		return nil, false
	}
	if len(r.pending) >= r.size {
		// As many queries under way as the cache holds answers: a flood of
		// made-up verification strings. Ask later.
		r.mu.Unlock()
		return nil, false
	}
	delete(r.failed, k)
	r.pending[k] = []waiter{w}
	r.mu.Unlock()
	r.h.Go(func(ctx context.Context) { r.query(ctx, c, w) })
	return nil, false
}

// query asks w.entity for the disco#info of c's node and verifies the
// answer (XEP-0115 §5.4) before caching it.
func (r *resolver) query(ctx context.Context, c caps, w waiter) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	iq := stanza.New(stanza.NSClient, "iq", "type", stanza.Get, "id", "caps-"+stanza.NewID(),
		"from", w.owner.String(), "to", w.entity.String()).
		Append(stanza.New(NSDiscoInfo, "query", "node", c.Node+"#"+c.Ver))
	res, err := r.h.SendIQ(ctx, iq)
	var feats map[string]bool
	retryable := true
	if err == nil {
		q := res.Child(NSDiscoInfo, "query")
		var ver string
		if q == nil {
			err = errBadInfo
		} else if ver, feats, err = verString(q, newHash(c.Hash)); err == nil && ver != c.Ver {
			err = errors.New("pep: verification string does not match the disco#info answer")
		}
		// A wrong answer stays wrong: never ask again.
		retryable = false
	}
	k := c.key()
	r.mu.Lock()
	waiters := r.pending[k]
	delete(r.pending, k)
	if err != nil {
		if len(r.failed) >= r.size {
			clear(r.failed)
		}
		if retryable {
			r.failed[k] = time.Now().Add(r.retry)
		} else {
			r.failed[k] = time.Time{}
		}
		r.mu.Unlock()
		r.h.Logger().Debug("entity capabilities not resolved", "entity", w.entity.String(), "ver", c.Ver, "err", err)
		return
	}
	if len(r.known) >= r.size {
		delete(r.known, r.order[0])
		r.order = r.order[1:]
	}
	r.known[k] = feats
	r.order = append(r.order, k)
	r.mu.Unlock()
	for _, w := range waiters {
		r.resolved(ctx, w, c, feats)
	}
}

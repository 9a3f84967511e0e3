// Package private implements XEP-0049: Private XML Storage, with the
// compatibility XEP-0402 asks of servers for clients still on XEP-0048
// bookmarks: the storage:bookmarks element lives in the account's
// urn:xmpp:bookmarks:1 PEP node (hearth/mod/pep), so that clients of either
// generation see the same bookmarks; and XEP-0411: Bookmarks Conversion,
// which ties XEP-0048 bookmarks published in PEP to the same bookmarks.
//
// Other elements are kept in the Map named MapName: the owner is the
// account's bare JID, the key "{namespace}local", the value the element as
// XML.
package private

import (
	"context"
	"errors"
	"strings"

	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces.
const (
	// NS is the XEP-0049 namespace.
	NS = "jabber:iq:private"
	// NSBookmarks is the XEP-0048 bookmarks namespace.
	NSBookmarks = "storage:bookmarks"
	// NSBookmarks2 is the XEP-0402 bookmarks namespace and PEP node.
	NSBookmarks2 = "urn:xmpp:bookmarks:1"
	// NSBookmarksCompat is the account feature of the XEP-0402
	// compatibility with XEP-0048 in private XML storage.
	NSBookmarksCompat = NSBookmarks2 + "#compat"
)

// MapName is the Map holding private XML.
const MapName = "private"

// Config is the [private] section.
type Config struct {
	// MaxSize bounds one stored element, as encoded XML, in bytes (default
	// 65536); a larger one is refused with <not-acceptable/>.
	MaxSize int `toml:"max_size"`
	// MaxEntries bounds the elements (namespaces) one account stores
	// (default 100); one more is refused with <resource-constraint/>.
	MaxEntries int `toml:"max_entries"`
}

// Defaults of Config.
const (
	DefaultMaxSize    = 64 << 10
	DefaultMaxEntries = 100
)

// Module serves private XML storage on every account.
var Module = module.New("private", Config{MaxSize: DefaultMaxSize, MaxEntries: DefaultMaxEntries}, start).
	WithSection("private").WithRequires("pep")

func start(h *module.Host, cfg Config) error {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	p := &store{h: h, cfg: cfg, m: h.Map(MapName)}
	h.AddFeature(module.AccountTarget, NSBookmarksCompat, NSConversion)
	if err := p.startConversion(); err != nil {
		return err
	}
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "query"), p.get)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "query"), p.set)
	return nil
}

type store struct {
	h   *module.Host
	cfg Config
	m   storage.Map
}

func key(el *stanza.Element) string { return "{" + el.Name.Space + "}" + el.Name.Local }

// element returns the single child of a private query, or the error
// XEP-0049 §3 prescribes. Only the account itself may use its storage.
func element(req module.IQRequest) (*stanza.Element, error) {
	if req.From.Bare() != req.To {
		return nil, &stanza.Error{Type: stanza.Cancel, Condition: "forbidden", Text: "private storage is for the account itself"}
	}
	children := req.Payload.Elements()
	if len(children) != 1 {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "one element per private storage request"}
	}
	el := children[0]
	switch el.Name.Space {
	case NS, stanza.NSClient, stanza.NSServer, "":
		// §3: the reserved namespaces cannot be stored.
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "namespace reserved"}
	}
	return el, nil
}

// get returns the stored element, or the empty element asked for (§3.2).
func (p *store) get(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	el, err := element(req)
	if err != nil {
		return nil, err
	}
	if el.Name.Space == NSBookmarks && el.Name.Local == "storage" {
		b, err := p.bookmarks(ctx, req.To)
		if err != nil {
			return nil, err
		}
		return stanza.New(NS, "query").Append(b), nil
	}
	b, err := p.m.Get(ctx, req.To.String(), key(el))
	if errors.Is(err, storage.ErrNotFound) {
		return stanza.New(NS, "query").Append(stanza.New(el.Name.Space, el.Name.Local)), nil
	}
	if err != nil {
		return nil, err
	}
	stored, err := stanza.NewDecoder(strings.NewReader(string(b)), stanza.Limits{}).Next()
	if err != nil {
		return nil, err
	}
	return stanza.New(NS, "query").Append(stored), nil
}

// set replaces the stored element (§3.1).
func (p *store) set(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	el, err := element(req)
	if err != nil {
		return nil, err
	}
	xml := el.String()
	if len(xml) > p.cfg.MaxSize {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "element too large"}
	}
	if el.Name.Space == NSBookmarks && el.Name.Local == "storage" {
		if err := p.setBookmarks(context.WithValue(ctx, convertingKey{}, true), req.To, el); err != nil {
			return nil, err
		}
		p.mirror(ctx, req.To) // XEP-0411: the PEP copy, if a client keeps one
		return nil, nil
	}
	owner := req.To.String()
	if _, err := p.m.Get(ctx, owner, key(el)); errors.Is(err, storage.ErrNotFound) {
		all, err := p.m.All(ctx, owner)
		if err != nil {
			return nil, err
		}
		if len(all) >= p.cfg.MaxEntries {
			return nil, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many private elements"}
		}
	} else if err != nil {
		return nil, err
	}
	return nil, p.m.Set(ctx, owner, key(el), []byte(xml))
}

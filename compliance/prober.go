package compliance

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
)

// Namespaces the probes use.
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsPing       = "urn:xmpp:ping"
)

// maxInbox bounds the stanzas kept for probes to wait on; older ones are
// dropped (a busy account's traffic must not grow the tester without
// bound).
const maxInbox = 256

// prober holds the main session of a run and what probes learned, so
// that service discovery is asked once.
type prober struct {
	cfg  Config
	keys *client.KeyCache
	s    *client.Session
	in   *inbox
	http *http.Client

	serverInfo  *discoInfo
	accountInfo *discoInfo
	items       []discoItem // the domain's disco#items, each with its info
	itemsErr    error
	itemsDone   bool

	roomInfo    *discoInfo // a scratch room's disco#info (probeMUC)
	roomInfoErr error
	webLinks    []webLink // from host-meta (probeWebDiscovery)
	webDone     bool
	webErr      error
}

// newProber logs in the main session.
func newProber(ctx context.Context, cfg Config) (*prober, error) {
	p := &prober{cfg: cfg, keys: &client.KeyCache{}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure}
	p.http = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	s, in, err := p.dial(ctx, "compliance-"+randomToken(4), client.StartTLS)
	if err != nil {
		return nil, fmt.Errorf("logging in to %s as %s: %w", cfg.Addr, cfg.JID, err)
	}
	p.s, p.in = s, in
	return p, nil
}

// dial logs in one more session of the account.
func (p *prober) dial(ctx context.Context, resource string, sec client.Security) (*client.Session, *inbox, error) {
	in := newInbox()
	cc := p.cfg.clientConfig(p.keys, resource)
	cc.Security = sec
	if sec == client.DirectTLS {
		cc.Addr = p.cfg.DirectTLSAddr
	}
	cc.Handler = in
	s, err := client.Dial(ctx, cc)
	if err != nil {
		return nil, nil, err
	}
	return s, in, nil
}

func (p *prober) close() {
	p.s.Close()
	p.http.CloseIdleConnections()
}

// iq sends an IQ of type typ to 'to' (zero: the account itself) with one
// payload and returns the response; an error response is a *stanza.Error.
func (p *prober) iq(ctx context.Context, s *client.Session, typ string, to jid.JID, payload *stanza.Element) (*stanza.Element, error) {
	iq := stanza.New(stanza.NSClient, "iq", "type", typ)
	if !to.IsZero() {
		iq.Set("to", to.String())
	}
	iq.Append(payload)
	return s.SendIQ(ctx, iq)
}

func (p *prober) domain() jid.JID { return jid.MustParse(p.cfg.JID.Domain()) }

// discoInfo is a disco#info result.
type discoInfo struct {
	identities [][2]string // category, type
	features   []string
	forms      []*stanza.Form
}

func (d *discoInfo) has(feature string) bool { return slices.Contains(d.features, feature) }

func (d *discoInfo) hasIdentity(category, typ string) bool {
	return slices.Contains(d.identities, [2]string{category, typ})
}

// info asks to for disco#info (XEP-0030 §3).
func (p *prober) info(ctx context.Context, to jid.JID, node string) (*discoInfo, error) {
	q := stanza.New(nsDiscoInfo, "query")
	if node != "" {
		q.Set("node", node)
	}
	res, err := p.iq(ctx, p.s, stanza.Get, to, q)
	if err != nil {
		return nil, err
	}
	q = res.Child(nsDiscoInfo, "query")
	if q == nil {
		return nil, fmt.Errorf("disco#info result from %s has no <query/>", to)
	}
	d := &discoInfo{}
	for _, c := range q.Elements() {
		switch {
		case c.Name.Space == nsDiscoInfo && c.Name.Local == "identity":
			d.identities = append(d.identities, [2]string{c.Get("category"), c.Get("type")})
		case c.Name.Space == nsDiscoInfo && c.Name.Local == "feature":
			d.features = append(d.features, c.Get("var"))
		case c.Name.Space == nsData && c.Name.Local == "x":
			if f, err := stanza.ParseForm(c); err == nil {
				d.forms = append(d.forms, f)
			}
		}
	}
	return d, nil
}

// server returns the domain's disco#info, asked once.
func (p *prober) server(ctx context.Context) (*discoInfo, error) {
	if p.serverInfo != nil {
		return p.serverInfo, nil
	}
	d, err := p.info(ctx, p.domain(), "")
	if err != nil {
		return nil, fmt.Errorf("disco#info of %s: %w", p.domain(), err)
	}
	p.serverInfo = d
	return d, nil
}

// account returns the account's disco#info (its bare JID), asked once.
func (p *prober) account(ctx context.Context) (*discoInfo, error) {
	if p.accountInfo != nil {
		return p.accountInfo, nil
	}
	d, err := p.info(ctx, p.cfg.JID, "")
	if err != nil {
		return nil, fmt.Errorf("disco#info of %s: %w", p.cfg.JID, err)
	}
	p.accountInfo = d
	return d, nil
}

// discoItem is one item of the domain's disco#items with its disco#info.
type discoItem struct {
	jid  jid.JID
	info *discoInfo // nil when the item did not answer disco#info
}

// services returns the domain's disco#items (XEP-0030 §4), each asked for
// its disco#info; asked once.
func (p *prober) services(ctx context.Context) ([]discoItem, error) {
	if p.itemsDone {
		return p.items, p.itemsErr
	}
	p.itemsDone = true
	// Every later probe uses the result: give it a full timeout of its
	// own rather than what is left of the first caller's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Timeout)
	defer cancel()
	res, err := p.iq(ctx, p.s, stanza.Get, p.domain(), stanza.New(nsDiscoItems, "query"))
	if err != nil {
		p.itemsErr = fmt.Errorf("disco#items of %s: %w", p.domain(), err)
		return nil, p.itemsErr
	}
	q := res.Child(nsDiscoItems, "query")
	if q == nil {
		p.itemsErr = fmt.Errorf("disco#items result from %s has no <query/>", p.domain())
		return nil, p.itemsErr
	}
	for _, it := range q.Elements() {
		if it.Name.Local != "item" || it.Get("node") != "" {
			continue
		}
		j, err := jid.Parse(it.Get("jid"))
		if err != nil {
			continue
		}
		d, _ := p.info(ctx, j, "")
		p.items = append(p.items, discoItem{jid: j, info: d})
	}
	return p.items, nil
}

// service returns the first item of the domain's disco#items that has
// the identity (an empty type matches any) and feature (empty: any).
func (p *prober) service(ctx context.Context, category, typ, feature string) (discoItem, error) {
	items, err := p.services(ctx)
	if err != nil {
		return discoItem{}, err
	}
	for _, it := range items {
		if it.info == nil {
			continue
		}
		if typ != "" && !it.info.hasIdentity(category, typ) {
			continue
		}
		if typ == "" && !slices.ContainsFunc(it.info.identities, func(id [2]string) bool { return id[0] == category }) {
			continue
		}
		if feature != "" && !it.info.has(feature) {
			continue
		}
		return it, nil
	}
	var names []string
	for _, it := range items {
		names = append(names, it.jid.String())
	}
	what := category + "/" + typ
	if feature != "" {
		what += " with " + feature
	}
	if len(names) == 0 {
		return discoItem{}, fmt.Errorf("disco#items of %s lists no services (looked for %s)", p.domain(), what)
	}
	return discoItem{}, fmt.Errorf("no %s among the disco#items of %s (%s)", what, p.domain(), strings.Join(names, ", "))
}

// inbox keeps the stanzas and nonzas a session receives (except IQ
// responses, which go to SendIQ) for probes to wait on, and answers IQ
// requests from the server as a client that implements nothing does.
type inbox struct {
	// stanzas counts the stanzas received (XEP-0198 h), IQ responses
	// aside: probes that count send no IQ meanwhile.
	stanzas atomic.Uint32

	mu     sync.Mutex
	els    []*stanza.Element
	notify chan struct{} // closed and replaced when an element arrives
}

func newInbox() *inbox { return &inbox{notify: make(chan struct{})} }

// HandleStanza implements client.Handler.
func (b *inbox) HandleStanza(s *client.Session, el *stanza.Element) {
	switch el.Name.Local {
	case "message", "presence", "iq":
		if el.Name.Space == stanza.NSClient {
			b.stanzas.Add(1)
		}
	}
	if el.Name.Local == "iq" && (el.Get("type") == stanza.Get || el.Get("type") == stanza.Set) {
		// RFC 6120 §8.2.3: every request gets a response.
		if q := el.FirstElement(); q != nil && q.Name.Space == nsPing {
			s.Send(stanza.ResultReply(el, nil))
		} else {
			s.Send(stanza.ErrorReply(el, stanza.NewError("service-unavailable")))
		}
		return
	}
	b.mu.Lock()
	if len(b.els) >= maxInbox {
		b.els = slices.Delete(b.els, 0, 1)
	}
	b.els = append(b.els, el.DeepCopy())
	close(b.notify)
	b.notify = make(chan struct{})
	b.mu.Unlock()
}

// wait returns (and removes) the first element received that match
// accepts, waiting for one until ctx ends.
func (b *inbox) wait(ctx context.Context, match func(*stanza.Element) bool) (*stanza.Element, error) {
	for {
		b.mu.Lock()
		for i, el := range b.els {
			if match(el) {
				b.els = slices.Delete(b.els, i, i+1)
				b.mu.Unlock()
				return el, nil
			}
		}
		ch := b.notify
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// randomToken returns n random bytes in hex, for names that must not
// collide with the account's own data.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// errorf is fmt.Errorf; probes return it to fail with a reason.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// path follows child elements of one namespace from e, by local name; it
// returns nil when any step is missing (e may be nil).
func path(e *stanza.Element, space string, locals ...string) *stanza.Element {
	for _, l := range locals {
		if e == nil {
			return nil
		}
		e = e.Child(space, l)
	}
	return e
}

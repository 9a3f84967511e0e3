package presence_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/mod/presence"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/memstore"
)

const (
	domain = "example.com"
	remote = "remote.example" // a domain served elsewhere: stanzas to it are only recorded
)

// router is a fake module.Router that routes presence as hearth/router
// does: to a local account it goes to the host's inbound presence handler
// (a subscribe to a missing account is answered with unsubscribed), to a
// remote domain it is recorded. Sessions come from the embedded
// modtest.Router.
type router struct {
	*modtest.Router
	reg      *module.Registry
	accounts map[jid.JID]bool

	mu     sync.Mutex
	routed []*stanza.Element // everything routed, in order
}

func (r *router) Route(ctx context.Context, st *stanza.Element) error {
	from, err := jid.Parse(st.Get("from"))
	if err != nil {
		return err
	}
	to, err := jid.Parse(st.Get("to"))
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.routed = append(r.routed, st)
	r.mu.Unlock()
	if to.Domain() != domain || st.Name.Local != "presence" || to.Local() == "" {
		return nil
	}
	if !r.accounts[to.Bare()] {
		if st.Get("type") == "subscribe" {
			return r.Route(ctx, stanza.New(stanza.NSClient, "presence", "type", "unsubscribed", "from", to.Bare().String(), "to", from.Bare().String()))
		}
		return nil
	}
	r.reg.InboundPresence()(ctx, st, from, to)
	return nil
}

func (r *router) IsLocal(d string) bool { return d == domain }

// env is one virtual host running roster and presence.
type env struct {
	t      *testing.T
	reg    *module.Registry
	store  storage.Store
	router *router
	host   *module.Host // a Host for calling the roster API

	mu   sync.Mutex
	seen map[*modtest.Session]int // stanzas already returned by take
	nr   int                      // routed stanzas already returned by takeRouted
}

// newEnv starts roster (its configuration changed by configure, if any)
// and presence on example.com with the accounts alice, bob and carol.
func newEnv(t *testing.T, configure ...func(*roster.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	e := &env{t: t, reg: module.NewRegistry(domain), store: memstore.New(), seen: map[*modtest.Session]int{}}
	e.router = &router{Router: &modtest.Router{}, reg: e.reg, accounts: map[jid.JID]bool{}}
	for _, u := range []string{"alice", "bob", "carol"} {
		e.router.accounts[jid.MustParse(u+"@"+domain)] = true
	}
	log := slog.New(slog.DiscardHandler)
	for _, def := range []*module.Definition{roster.Module, presence.Module} {
		var dec module.Decoder
		if def == roster.Module {
			dec = func(v any) error {
				for _, fn := range configure {
					fn(v.(*roster.Config))
				}
				return nil
			}
		}
		cfg, err := def.DecodeConfig(dec)
		if err != nil {
			t.Fatal(err)
		}
		h := module.NewHost(ctx, def.Name, e.reg, e.router, e.store, log, &wg)
		if err := def.Start(h, cfg); err != nil {
			t.Fatal(err)
		}
		if err := h.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.reg.Freeze(); err != nil {
		t.Fatal(err)
	}
	e.host = module.NewHost(ctx, "test", e.reg, e.router, e.store, log, &wg)
	return e
}

// bind binds a session for full.
func (e *env) bind(full string) *modtest.Session {
	e.t.Helper()
	return e.router.Bind(e.t, full)
}

// login binds a session that fetches the roster (an interested resource)
// and sends initial presence, then forgets what it received.
func (e *env) login(full string) *modtest.Session {
	e.t.Helper()
	s := e.bind(full)
	e.fetchRoster(s)
	e.send(s, `<presence/>`)
	e.take(s)
	e.takeRouted()
	return s
}

// fetchRoster sends a roster get from s, making it an interested resource.
func (e *env) fetchRoster(s *modtest.Session) {
	e.t.Helper()
	fn, ok := e.reg.IQ(module.AccountTarget, module.IQKey{Type: stanza.Get, Payload: module.Name(roster.NS, "query")})
	if !ok {
		e.t.Fatal("no roster get handler")
	}
	iq := modtest.Parse(e.t, fmt.Sprintf(`<iq xmlns='jabber:client' type='get' id='r' from='%s'><query xmlns='jabber:iq:roster'/></iq>`, s.JID()))
	if _, err := fn(context.Background(), module.IQRequest{Stanza: iq, Payload: iq.FirstElement(), From: s.JID(), To: s.JID().Bare(), Session: s}); err != nil {
		e.t.Fatal(err)
	}
}

// rosterSet sends a roster set with item (XML) from s and returns the
// handler's error.
func (e *env) rosterSet(s *modtest.Session, item string) error {
	e.t.Helper()
	fn, ok := e.reg.IQ(module.AccountTarget, module.IQKey{Type: stanza.Set, Payload: module.Name(roster.NS, "query")})
	if !ok {
		e.t.Fatal("no roster set handler")
	}
	iq := modtest.Parse(e.t, fmt.Sprintf(`<iq xmlns='jabber:client' type='set' id='r' from='%s'><query xmlns='jabber:iq:roster'>%s</query></iq>`, s.JID(), item))
	_, err := fn(context.Background(), module.IQRequest{Stanza: iq, Payload: iq.FirstElement(), From: s.JID(), To: s.JID().Bare(), Session: s})
	return err
}

// send hands presence written in XML to the outbound handler as from s,
// with 'from' stamped as the stream does.
func (e *env) send(s *modtest.Session, xml string) {
	e.t.Helper()
	if !strings.Contains(xml, "xmlns=") {
		xml = strings.Replace(xml, "<presence", "<presence xmlns='jabber:client'", 1)
	}
	p := modtest.Parse(e.t, xml).Set("from", s.JID().String())
	var to jid.JID
	if t := p.Get("to"); t != "" {
		to = jid.MustParse(t)
	}
	e.reg.OutboundPresence()(context.Background(), s, p, to)
}

// receive hands presence written in XML (with 'from' and 'to') to the
// inbound handler, as the router does for a stanza from anywhere.
func (e *env) receive(xml string) {
	e.t.Helper()
	p := modtest.Parse(e.t, xml)
	e.reg.InboundPresence()(context.Background(), p, jid.MustParse(p.Get("from")), jid.MustParse(p.Get("to")))
}

// close unbinds s and runs the session-closed hooks, as the router does.
func (e *env) close(s *modtest.Session) {
	e.t.Helper()
	e.router.Unbind(s)
	e.reg.RunSessionClosed(context.Background(), s)
}

// take returns what s received since the last take.
func (e *env) take(s *modtest.Session) []*stanza.Element {
	e.mu.Lock()
	defer e.mu.Unlock()
	all := s.Sent()
	n := e.seen[s]
	e.seen[s] = len(all)
	return all[n:]
}

// takeRouted returns what was routed since the last takeRouted.
func (e *env) takeRouted() []*stanza.Element {
	e.router.mu.Lock()
	defer e.router.mu.Unlock()
	n := e.nr
	e.nr = len(e.router.routed)
	return append([]*stanza.Element(nil), e.router.routed[n:]...)
}

// item returns owner's roster item for contact.
func (e *env) item(owner, contact string) roster.Item {
	e.t.Helper()
	it, err := roster.Get(context.Background(), e.host, jid.MustParse(owner), jid.MustParse(contact))
	if err != nil {
		e.t.Fatal(err)
	}
	return it
}

// setItem puts owner's item for contact in a state, without pushes
// reaching anyone (call it before sessions fetch the roster).
func (e *env) setItem(owner, contact string, sub roster.Subscription, out, in, approved bool) {
	e.t.Helper()
	_, err := roster.Update(context.Background(), e.host, jid.MustParse(owner), jid.MustParse(contact), func(it *roster.Item) bool {
		it.Subscription, it.Ask, it.Approved, it.Hidden = sub, out, approved, false
		it.PendingIn = nil
		if in {
			it.PendingIn = modtest.Parse(e.t, fmt.Sprintf(`<presence xmlns='jabber:client' type='subscribe' from='%s' to='%s'/>`, contact, owner))
		}
		return true
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// summary renders stanzas compactly for comparison: "type from->to" for
// presence (type "available" when absent), "push jid subscription[ ask]
// [approved] -> to" for roster pushes.
func summary(els []*stanza.Element) []string {
	out := []string{}
	for _, el := range els {
		switch el.Name.Local {
		case "presence":
			typ := el.Get("type")
			if typ == "" {
				typ = "available"
			}
			out = append(out, fmt.Sprintf("%s %s->%s", typ, el.Get("from"), el.Get("to")))
		case "iq":
			q := el.Child(roster.NS, "query")
			if q == nil || q.FirstElement() == nil {
				out = append(out, "iq "+modtest.Canonical(el))
				continue
			}
			it := q.FirstElement()
			s := fmt.Sprintf("push %s %s", it.Get("jid"), it.Get("subscription"))
			if it.Get("ask") != "" {
				s += " ask"
			}
			if it.Get("approved") != "" {
				s += " approved"
			}
			out = append(out, s+" ->"+el.Get("to"))
		default:
			out = append(out, modtest.Canonical(el))
		}
	}
	return out
}

// want fails unless summary(got) equals want.
func want(t *testing.T, what string, got []*stanza.Element, want ...string) {
	t.Helper()
	g := summary(got)
	if want == nil {
		want = []string{}
	}
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("%s:\n got  %q\n want %q", what, g, want)
	}
}

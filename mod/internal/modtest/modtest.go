// Package modtest runs one virtual host's modules in a test without a
// server: a real module.Registry and module.Host over the storage the test
// gives (usually a memstore), a fake router with fake sessions, and calls
// straight into the registered IQ handlers. It is imported only from the _test.go files of mod/*; the
// end-to-end harness over real streams is hearth/xmpptest.
package modtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Env is one virtual host with its registry, storage and router. Start
// modules, Freeze, then send IQs. Its fields may be read by the test; Env
// is not safe for concurrent Start calls.
type Env struct {
	Domain   string
	Registry *module.Registry
	Store    storage.Store
	Router   *Router

	ctx context.Context
	wg  *sync.WaitGroup
}

// New returns an Env for domain over store (usually a new memstore, which
// the caller passes because this package may not import it: see
// deps_test.go). Goroutines the modules start with Host.Go are cancelled
// and waited for when the test ends.
func New(t *testing.T, domain string, store storage.Store) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Env{
		Domain:   domain,
		Registry: module.NewRegistry(domain),
		Store:    store,
		Router:   &Router{domain: domain},
		ctx:      ctx,
		wg:       &sync.WaitGroup{},
	}
	t.Cleanup(func() {
		cancel()
		e.wg.Wait()
	})
	return e
}

// StartErr decodes def's configuration (its defaults, changed by configure
// when not nil, which gets a pointer to the module's config struct) and
// starts def on the host. It returns the start function's error or the
// host's registration errors.
func (e *Env) StartErr(def *module.Definition, configure func(cfg any) error) error {
	var dec module.Decoder
	if configure != nil {
		dec = module.Decoder(configure)
	}
	cfg, err := def.DecodeConfig(dec)
	if err != nil {
		return err
	}
	h := e.Host(def.Name)
	if err := def.Start(h, cfg); err != nil {
		return err
	}
	return h.Err()
}

// Start is StartErr that fails the test on error.
func (e *Env) Start(t *testing.T, def *module.Definition, configure func(cfg any) error) {
	t.Helper()
	if err := e.StartErr(def, configure); err != nil {
		t.Fatalf("starting module %s: %v", def.Name, err)
	}
}

// Host returns a new Host of the module name on the Env's virtual host,
// for calling the API of a module (such as roster.Update) the way another
// module would. Nothing may be registered through it after Freeze.
func (e *Env) Host(name string) *module.Host {
	return module.NewHost(e.ctx, name, e.Registry, e.Router, e.Store, slog.New(slog.DiscardHandler), e.wg)
}

// Freeze ends registration, as the server does once every module started.
func (e *Env) Freeze(t *testing.T) {
	t.Helper()
	if err := e.Registry.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
}

// AddAccount creates the account user@Domain with password "password".
func (e *Env) AddAccount(t *testing.T, user string) {
	t.Helper()
	if err := e.Store.Accounts().Create(context.Background(), e.Domain, user, FastCredentials(t, "password")); err != nil {
		t.Fatalf("creating account %s: %v", user, err)
	}
}

// Reply is what an IQ handler returned.
type Reply struct {
	// Handled is false when no handler is registered for the IQ; then the
	// router would answer service-unavailable.
	Handled bool
	Payload *stanza.Element
	Err     error
}

// IQ sends the IQ written in XML (an <iq/> in jabber:client with 'from'
// and 'type' and usually 'to') to the handler the registry holds for it,
// as the router does: an IQ without 'to', or to a bare JID with a
// localpart, goes to an AccountTarget handler; an IQ to the domain to a
// ServerTarget one. The request's Session is the bound fake session of
// 'from', if any. Unlike the router, IQ does not check that the addressed
// account exists.
func (e *Env) IQ(t *testing.T, iqXML string) Reply {
	t.Helper()
	iq := Parse(t, iqXML)
	from := mustJID(t, iq.Get("from"))
	to := from.Bare()
	if s := iq.Get("to"); s != "" {
		to = mustJID(t, s)
	}
	target := module.ServerTarget
	if to.Local() != "" {
		target = module.AccountTarget
	}
	payload := iq.FirstElement()
	if payload == nil {
		t.Fatalf("iq without payload: %s", iqXML)
	}
	fn, ok := e.Registry.IQ(target, module.IQKey{Type: iq.Get("type"), Payload: payload.Name})
	if !ok {
		return Reply{}
	}
	req := module.IQRequest{Stanza: iq, Payload: payload, From: from, To: to}
	if s := e.Router.session(from); s != nil {
		req.Session = s
	}
	res, err := fn(context.Background(), req)
	return Reply{Handled: true, Payload: res, Err: err}
}

// PreAuthIQ sends the IQ written in XML to the pre-authentication handler
// registered for it, as if it came from remoteAddr over a stream that is
// encrypted when secure is true.
func (e *Env) PreAuthIQ(t *testing.T, iqXML, remoteAddr string, secure bool) Reply {
	t.Helper()
	iq := Parse(t, iqXML)
	payload := iq.FirstElement()
	if payload == nil {
		t.Fatalf("iq without payload: %s", iqXML)
	}
	fn, ok := e.Registry.PreAuthIQ(module.IQKey{Type: iq.Get("type"), Payload: payload.Name})
	if !ok {
		return Reply{}
	}
	res, err := fn(context.Background(), module.PreAuthRequest{
		Stanza: iq, Payload: payload, Domain: e.Domain, RemoteAddr: remoteAddr, Secure: secure,
	})
	return Reply{Handled: true, Payload: res, Err: err}
}

// WantResult fails the test unless r is a result whose payload matches
// want (XML, compared with Equal; "" means an empty result).
func (r Reply) WantResult(t *testing.T, want string) {
	t.Helper()
	if !r.Handled {
		t.Fatalf("iq not handled, want result %s", want)
	}
	if r.Err != nil {
		t.Fatalf("got error %v, want result %s", r.Err, want)
	}
	if want == "" {
		if r.Payload != nil {
			t.Fatalf("got result %s, want empty result", Canonical(r.Payload))
		}
		return
	}
	if r.Payload == nil {
		t.Fatalf("got empty result, want %s", want)
	}
	Equal(t, r.Payload, want)
}

// WantError fails the test unless r is a *stanza.Error with the given
// type and condition.
func (r Reply) WantError(t *testing.T, typ, condition string) {
	t.Helper()
	if !r.Handled {
		t.Fatalf("iq not handled, want error %s/%s", typ, condition)
	}
	var se *stanza.Error
	if !errors.As(r.Err, &se) {
		got := "<nil>"
		if r.Payload != nil {
			got = Canonical(r.Payload)
		}
		t.Fatalf("got result %s (err %v), want stanza error %s/%s", got, r.Err, typ, condition)
	}
	if se.Type != typ || se.Condition != condition {
		t.Fatalf("got stanza error %s/%s (%q), want %s/%s", se.Type, se.Condition, se.Text, typ, condition)
	}
}

// Parse decodes one element from s; in s, a top-level element without
// xmlns is in jabber:client.
func Parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	d := stanza.NewDecoder(strings.NewReader(s), stanza.Limits{})
	e, err := d.Next()
	if err != nil {
		t.Fatalf("parsing %s: %v", s, err)
	}
	return e
}

// Equal fails the test unless got and the XML want are the same tree:
// same names and namespaces, same attributes in any order, same child
// elements in the same order, and the same character data once leading
// and trailing white space is trimmed.
func Equal(t *testing.T, got *stanza.Element, want string) {
	t.Helper()
	if g, w := Canonical(got), Canonical(Parse(t, want)); g != w {
		t.Errorf("got  %s\nwant %s", g, w)
	}
}

// Canonical renders e in a form where equal trees render equally: names as
// {namespace}local, attributes sorted, character data trimmed. It does not
// depend on the stanza encoder.
func Canonical(e *stanza.Element) string {
	var b strings.Builder
	canonical(&b, e)
	return b.String()
}

func canonical(b *strings.Builder, e *stanza.Element) {
	fmt.Fprintf(b, "<{%s}%s", e.Name.Space, e.Name.Local)
	attrs := slices.Clone(e.Attr)
	sort.Slice(attrs, func(i, j int) bool {
		if attrs[i].Name.Space != attrs[j].Name.Space {
			return attrs[i].Name.Space < attrs[j].Name.Space
		}
		return attrs[i].Name.Local < attrs[j].Name.Local
	})
	for _, a := range attrs {
		if a.Name.Space != "" {
			fmt.Fprintf(b, " {%s}%s=%q", a.Name.Space, a.Name.Local, a.Value)
		} else {
			fmt.Fprintf(b, " %s=%q", a.Name.Local, a.Value)
		}
	}
	b.WriteString(">")
	var text strings.Builder
	for _, c := range e.Children {
		switch c := c.(type) {
		case stanza.CharData:
			text.WriteString(string(c))
		case *stanza.Element:
			canonical(b, c)
		}
	}
	b.WriteString(strings.TrimSpace(text.String()))
	b.WriteString("</>")
}

func mustJID(t *testing.T, s string) jid.JID {
	t.Helper()
	j, err := jid.Parse(s)
	if err != nil {
		t.Fatalf("parsing JID %q: %v", s, err)
	}
	return j
}

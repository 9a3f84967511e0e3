// Package router is hearth's switchboard: the table of bound client
// sessions, the delivery rules of RFC 6120 §10 and RFC 6121 §8, and the
// dispatch of IQs and presence to the modules registered on each virtual
// host. Every stanza a client sends reaches Session.HandleStanza, and every
// stanza the server originates reaches Router.Route; both end in route.
package router

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Router routes stanzas between local sessions and modules. It is safe for
// concurrent use. Lock order: Router.mu before Session.mu; neither is held
// while calling into another package, except Session.Send (enqueue only).
type Router struct {
	log   *slog.Logger
	store storage.Store
	hosts map[string]*VHost // read-only after Start
	// services are the service domains modules registered (read-only
	// after AddHost), remote the federation router (nil: none).
	services map[string]*service
	remote   RemoteRouter

	mu        sync.RWMutex
	accounts  map[jid.JID]map[string]*Session // bare -> resource -> session
	resumable map[string]*Session             // XEP-0198 resumption id -> session

	// SM configures stream management; set it before serving streams.
	SM SMConfig

	pendingMu sync.Mutex
	pending   map[string]chan *stanza.Element // SendIQ id -> reply
}

var _ module.OnlineLister = (*Router)(nil)
var _ module.Router = (*Router)(nil)

// New returns a router over store. Hosts are added with AddHost before any
// stream is served.
func New(store storage.Store, log *slog.Logger) *Router {
	return &Router{
		log:       log,
		store:     store,
		hosts:     map[string]*VHost{},
		services:  map[string]*service{},
		accounts:  map[jid.JID]map[string]*Session{},
		resumable: map[string]*Session{},
		SM:        DefaultSMConfig,
		pending:   map[string]chan *stanza.Element{},
	}
}

// AddHost serves domain with the modules registered in reg, and the
// service domains they registered. It must be called after reg is frozen
// and before streams are served.
func (r *Router) AddHost(reg *module.Registry) *VHost {
	vh := &VHost{r: r, reg: reg, domain: reg.Domain()}
	r.hosts[vh.domain] = vh
	r.addServices(reg)
	if r.services[vh.domain] != nil {
		panic("router: " + vh.domain + " is both a host and a service")
	}
	return vh
}

// Host returns the virtual host for domain, or nil.
func (r *Router) Host(domain string) *VHost { return r.hosts[domain] }

// IsLocal reports whether domain is a virtual host of this server.
func (r *Router) IsLocal(domain string) bool { return r.hosts[domain] != nil }

// Sessions returns the bound sessions of the account bare.
func (r *Router) Sessions(bare jid.JID) []module.Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	res := r.accounts[bare.Bare()]
	if len(res) == 0 {
		return nil
	}
	out := make([]module.Session, 0, len(res))
	for _, s := range res {
		out = append(out, s)
	}
	return out
}

func (r *Router) sessions(bare jid.JID) []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	res := r.accounts[bare]
	out := make([]*Session, 0, len(res))
	for _, s := range res {
		out = append(out, s)
	}
	return out
}

// Session returns the session bound to full, or nil.
func (r *Router) Session(full jid.JID) module.Session {
	if s := r.session(full); s != nil {
		return s
	}
	return nil
}

func (r *Router) session(full jid.JID) *Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.accounts[full.Bare()][full.Resource()]
}

// Shutdown closes every session with err (system-shutdown on SIGTERM).
func (r *Router) Shutdown(err error) {
	r.mu.RLock()
	var all []*Session
	for _, res := range r.accounts {
		for _, s := range res {
			all = append(all, s)
		}
	}
	r.mu.RUnlock()
	for _, s := range all {
		s.Close(err)
	}
}

// CloseAccount closes every session of bare with err (account deleted).
func (r *Router) CloseAccount(bare jid.JID, err error) {
	for _, s := range r.sessions(bare) {
		s.Close(err)
	}
}

// OnlineAccounts implements module.OnlineLister: the bare JIDs of domain
// with at least one bound session, sorted.
func (r *Router) OnlineAccounts(domain string) []jid.JID {
	r.mu.RLock()
	var out []jid.JID
	for bare, res := range r.accounts {
		if bare.Domain() == domain && len(res) > 0 {
			out = append(out, bare)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// SessionCount returns the number of bound sessions.
func (r *Router) SessionCount() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, res := range r.accounts {
		n += len(res)
	}
	return n
}

// Route implements module.Router: st is routed as the server would route a
// stanza from st's 'from' to its 'to'.
func (r *Router) Route(ctx context.Context, st *stanza.Element) error {
	from, err := jid.Parse(st.Get("from"))
	if err != nil {
		return err
	}
	var to jid.JID
	if t := st.Get("to"); t != "" {
		if to, err = jid.Parse(t); err != nil {
			return err
		}
	}
	r.route(ctx, st, from, to)
	return nil
}

// SendIQ implements module.Router.
func (r *Router) SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	id := iq.Get("id")
	if id == "" {
		id = stanza.NewID()
		iq = iq.Copy().Set("id", id)
	}
	ch := make(chan *stanza.Element, 1)
	r.pendingMu.Lock()
	r.pending[id] = ch
	r.pendingMu.Unlock()
	defer func() {
		r.pendingMu.Lock()
		delete(r.pending, id)
		r.pendingMu.Unlock()
	}()
	if err := r.Route(ctx, iq); err != nil {
		return nil, err
	}
	select {
	case reply := <-ch:
		if reply.Get("type") == stanza.ErrorType {
			if e := stanza.ParseError(reply); e != nil {
				return nil, e
			}
			return nil, stanza.NewError("undefined-condition")
		}
		return reply, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// takeReply hands an IQ result or error addressed to the server to the
// SendIQ waiting for it and reports whether there was one.
func (r *Router) takeReply(iq *stanza.Element) bool {
	r.pendingMu.Lock()
	ch, ok := r.pending[iq.Get("id")]
	if ok {
		delete(r.pending, iq.Get("id"))
	}
	r.pendingMu.Unlock()
	if ok {
		ch <- iq
	}
	return ok
}

// accountExists reports whether bare is a local account.
func (r *Router) accountExists(ctx context.Context, bare jid.JID) bool {
	r.mu.RLock()
	online := len(r.accounts[bare]) > 0
	r.mu.RUnlock()
	if online {
		return true
	}
	_, err := r.store.Accounts().Get(ctx, bare.Domain(), bare.Local())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		r.log.Error("account lookup failed", "err", err)
	}
	return err == nil
}

// storageTimeout bounds a storage call made while routing one stanza.
const storageTimeout = 10 * time.Second

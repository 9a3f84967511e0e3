package module

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// Host is the registration surface one module gets on one virtual host.
// Registration methods may only be called from the module's start
// function; the others are safe for concurrent use at any time.
type Host struct {
	module string
	reg    *Registry
	router Router
	store  storage.Store
	log    *slog.Logger
	ctx    context.Context
	wg     *sync.WaitGroup
	errs   []error
	reload func(cfg any) error // OnReload; nil: settings change at restart only
}

// NewHost returns the Host of module name on the registry's virtual host.
// ctx is cancelled when the server stops; goroutines started with Go are
// waited for through wg.
func NewHost(ctx context.Context, name string, reg *Registry, r Router, st storage.Store, log *slog.Logger, wg *sync.WaitGroup) *Host {
	return &Host{
		module: name, reg: reg, router: r, store: st, ctx: ctx, wg: wg,
		log: log.With("module", name, "host", reg.domain),
	}
}

// Err returns the registration errors (duplicate handlers) collected so far.
func (h *Host) Err() error {
	if len(h.errs) == 0 {
		return nil
	}
	return fmt.Errorf("module %s: %v", h.module, h.errs)
}

// Domain returns the virtual host's domain.
func (h *Host) Domain() string { return h.reg.domain }

// Settings returns the server-wide settings.
func (h *Host) Settings() Settings { return h.reg.settings }

// DomainJID returns the virtual host's domain as a JID.
func (h *Host) DomainJID() jid.JID {
	j, _ := jid.New("", h.reg.domain, "")
	return j
}

// Registry returns the registry of the host's virtual host, for the few
// modules that answer from what every module registered (disco) or run
// another module's hooks (register runs the user-deleted hooks when an
// account removes itself). Modules may only read it, through its getters
// and Run* methods, and only once the host has started: the registry is
// frozen then and reads take no lock. Reading it from a start function
// sees an incomplete registry and races with other modules' registrations.
func (h *Host) Registry() *Registry { return h.reg }

// Map returns the named map store.
func (h *Host) Map(name string) storage.Map { return h.store.Map(name) }

// Archive returns the named archive.
func (h *Host) Archive(name string) storage.Archive { return h.store.Archive(name) }

// Route routes st (with 'from' and 'to' set) as the server would.
func (h *Host) Route(ctx context.Context, st *stanza.Element) error { return h.router.Route(ctx, st) }

// Sessions returns the bound sessions of a local account.
func (h *Host) Sessions(bare jid.JID) []Session { return h.router.Sessions(bare) }

// Session returns the bound session with full JID full, or nil.
func (h *Host) Session(full jid.JID) Session { return h.router.Session(full) }

// SendIQ sends an IQ and waits for its reply.
func (h *Host) SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	return h.router.SendIQ(ctx, iq)
}

// IsLocal reports whether domain is a virtual host served by this server.
func (h *Host) IsLocal(domain string) bool { return h.router.IsLocal(domain) }

// IsService reports whether domain is a service domain of this server.
func (h *Host) IsService(domain string) bool { return h.router.IsService(domain) }

// Go runs fn in a goroutine owned by the server: ctx is cancelled at
// shutdown, and shutdown waits for fn to return.
func (h *Host) Go(fn func(ctx context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn(h.ctx)
	}()
}

// HandleIQ registers fn for IQs of type typ (stanza.Get or stanza.Set) whose
// payload is named payload, addressed to target. Registering the same key
// twice on a host is a startup error.
func (h *Host) HandleIQ(target Target, typ string, payload xml.Name, fn IQHandler) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	k := IQKey{Type: typ, Payload: payload}
	if e, dup := h.reg.iq[target][k]; dup {
		h.errs = append(h.errs, fmt.Errorf("iq %s %s {%s}%s already handled by %s", targetName(target), typ, payload.Space, payload.Local, e.module))
		return
	}
	h.reg.iq[target][k] = entry[IQHandler]{h.module, fn}
}

// HandlePreAuthIQ registers fn for IQs received before authentication.
func (h *Host) HandlePreAuthIQ(typ string, payload xml.Name, fn PreAuthIQHandler) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	k := IQKey{Type: typ, Payload: payload}
	if e, dup := h.reg.preAuth[k]; dup {
		h.errs = append(h.errs, fmt.Errorf("pre-auth iq %s {%s}%s already handled by %s", typ, payload.Space, payload.Local, e.module))
		return
	}
	h.reg.preAuth[k] = entry[PreAuthIQHandler]{h.module, fn}
}

// HandlePresence registers the presence handlers of the host (RFC 6121
// §4-§5 processing). Only one module may do so.
func (h *Host) HandlePresence(out OutboundPresenceHandler, in InboundPresenceHandler) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	if h.reg.outPres != nil {
		h.errs = append(h.errs, fmt.Errorf("presence already handled by %s", h.reg.outPres.module))
		return
	}
	h.reg.outPres = &entry[OutboundPresenceHandler]{h.module, out}
	h.reg.inPres = &entry[InboundPresenceHandler]{h.module, in}
}

// AddFeature advertises a disco#info feature of the server (ServerTarget)
// or of every account (AccountTarget).
func (h *Host) AddFeature(target Target, ns ...string) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	for _, f := range ns {
		if !slices.Contains(h.reg.features[target], f) {
			h.reg.features[target] = append(h.reg.features[target], f)
		}
	}
	slices.Sort(h.reg.features[target])
}

// AddIdentity adds a disco#info identity of the server.
func (h *Host) AddIdentity(id Identity) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	h.reg.idents = append(h.reg.idents, id)
}

// AddInfoForm adds a XEP-0128 extended information form to the server's disco#info.
func (h *Host) AddInfoForm(f *stanza.Form) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	h.reg.forms = append(h.reg.forms, f)
}

// AddPreAuthFeature adds a stream feature offered before authentication.
func (h *Host) AddPreAuthFeature(el *stanza.Element) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	h.reg.preAuthF = append(h.reg.preAuthF, el)
}

// AddStreamFeature adds a stream feature offered after authentication.
func (h *Host) AddStreamFeature(el *stanza.Element) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	h.reg.streamF = append(h.reg.streamF, el)
}

func (h *Host) addHook(name hookName, fn any) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	h.reg.hooks[name] = append(h.reg.hooks[name], hookEntry{h.module, fn})
}

// OnSessionBound runs fn after a session is bound and in the session table.
func (h *Host) OnSessionBound(fn func(ctx context.Context, s Session)) {
	h.addHook(hookSessionBound, fn)
}

// OnSessionClosed runs fn after a session left the session table.
func (h *Host) OnSessionClosed(fn func(ctx context.Context, s Session)) {
	h.addHook(hookSessionClosed, fn)
}

// OnUndelivered offers fn the messages that found no session to go to.
func (h *Host) OnUndelivered(fn UndeliveredHandler) { h.addHook(hookUndelivered, fn) }

// OnUserDeleted runs fn when an account is deleted, before its stored data
// is removed (storage.Store.DeleteOwner removes Map and Archive data).
func (h *Host) OnUserDeleted(fn func(ctx context.Context, user jid.JID)) {
	h.addHook(hookUserDeleted, fn)
}

func targetName(t Target) string {
	if t == AccountTarget {
		return "account"
	}
	return "server"
}

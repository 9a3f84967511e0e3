package router

import (
	"context"
	"fmt"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// RemoteRouter carries stanzas to domains this server does not serve
// (federation, issue 7). Route must not block on the network: it queues
// st and, when the remote domain cannot be reached, bounces it back
// through Router.Route with remote-server-not-found or
// remote-server-timeout.
type RemoteRouter interface {
	RouteRemote(ctx context.Context, st *stanza.Element, from, to jid.JID)
}

// SetRemote installs the router for remote domains. Without one, stanzas
// to remote domains bounce with remote-server-not-found. Call it before
// streams are served.
func (r *Router) SetRemote(rr RemoteRouter) { r.remote = rr }

// AddComponent serves domain with h as if a module had registered it as a
// service domain: for XEP-0114 external components, which connect to the
// server (s2s.Pool.Component). Call it after AddHost and before streams
// are served; a domain already served is an error.
func (r *Router) AddComponent(domain string, h module.ServiceHandler) error {
	if r.hosts[domain] != nil || r.services[domain] != nil {
		return fmt.Errorf("router: %s is already served", domain)
	}
	r.services[domain] = &service{Service: module.Service{Domain: domain, Handler: h}}
	return nil
}

// IsService implements module.Router.
func (r *Router) IsService(domain string) bool { return r.services[domain] != nil }

// addServices records the service domains a host's modules registered.
func (r *Router) addServices(reg *module.Registry) {
	for _, s := range reg.Services() {
		r.services[s.Domain] = &service{Service: s, host: reg.Domain()}
	}
}

// service is a domain served by a module, or by an external component.
type service struct {
	module.Service
	host string // the virtual host whose module serves it ("" for a component)
}

// routeService hands st to the module serving to's domain. IQ replies
// that answer a SendIQ are taken first, whatever their 'to'.
func (r *Router) routeService(ctx context.Context, svc *service, st *stanza.Element, from, to jid.JID) {
	if st.Name.Local == "iq" {
		if t := st.Get("type"); (t == stanza.Result || t == stanza.ErrorType) && r.takeReply(st) {
			return
		}
	}
	svc.Handler(ctx, st, from, to)
}

// routeRemote hands st to the remote router, or bounces it.
func (r *Router) routeRemote(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	if r.remote == nil || !r.IsLocal(from.Domain()) && !r.IsService(from.Domain()) {
		// Without federation, or for a stanza that did not originate here
		// (never relay between two remote domains).
		r.bounce(ctx, st, from, &stanza.Error{Type: stanza.Cancel, Condition: "remote-server-not-found"})
		return
	}
	r.remote.RouteRemote(ctx, st, from, to)
}

package module

import (
	"context"
	"fmt"

	"hearth/jid"
	"hearth/stanza"
)

// ServiceHandler receives every stanza addressed to a service domain or to
// any JID at it (a MUC room, an occupant, the upload service). from is the
// authenticated sender; to is never zero. The handler owns the stanza: it
// answers IQs itself (with Host.Route) and must never reply to an error.
// IQ results and errors that answer a Host.SendIQ are taken before it.
type ServiceHandler func(ctx context.Context, st *stanza.Element, from, to jid.JID)

// Service is a domain served by a module of a virtual host (XEP-0030
// items of the host: muc.example.org, upload.example.org).
type Service struct {
	Domain  string
	Name    string // human-readable name in disco#items
	Handler ServiceHandler
	module  string
}

// AddService serves domain (a subdomain of the host, usually) with fn:
// the router hands it every stanza addressed there, and disco#items of the
// host lists it with name. A domain may be served once on the server.
func (h *Host) AddService(domain, name string, fn ServiceHandler) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	d, err := jid.New("", domain, "")
	if err != nil || d.Domain() == h.reg.domain {
		h.errs = append(h.errs, fmt.Errorf("service domain %q is not a valid domain other than the host", domain))
		return
	}
	for _, s := range h.reg.services {
		if s.Domain == d.Domain() {
			h.errs = append(h.errs, fmt.Errorf("service %s already served by %s", domain, s.module))
			return
		}
	}
	h.reg.services = append(h.reg.services, Service{Domain: d.Domain(), Name: name, Handler: fn, module: h.module})
}

// Services returns the service domains registered on the host.
func (r *Registry) Services() []Service { return r.services }

// ServeIQ returns a ServiceHandler that answers the IQ requests of a
// service with fn, as the router answers IQs to the host: exactly one
// result or error per get or set, a *stanza.Error sent as is and any
// other error as internal-server-error (logged). A message gets
// service-unavailable; presence, results and errors are dropped. fn sees
// the service JID addressed in req.To and no Session.
func ServeIQ(h *Host, fn IQHandler) ServiceHandler {
	return func(ctx context.Context, st *stanza.Element, from, to jid.JID) {
		typ := st.Get("type")
		var reply *stanza.Element
		switch {
		case typ == stanza.ErrorType:
			return
		case st.Name.Local == "message":
			reply = stanza.ErrorReply(st, stanza.NewError("service-unavailable"))
		case st.Name.Local != "iq" || typ != stanza.Get && typ != stanza.Set:
			return
		case len(st.Elements()) != 1:
			reply = stanza.ErrorReply(st, stanza.NewError("bad-request"))
		default:
			res, err := fn(ctx, IQRequest{Stanza: st, Payload: st.FirstElement(), From: from, To: to})
			if err != nil {
				se, ok := err.(*stanza.Error)
				if !ok {
					h.Logger().Error("service request failed", "service", to.Domain(), "err", err)
					se = stanza.NewError("internal-server-error")
				}
				reply = stanza.ErrorReply(st, se)
			} else {
				reply = stanza.ResultReply(st, res)
			}
		}
		reply.Set("from", to.String())
		reply.Set("to", from.String())
		if err := h.Route(ctx, reply); err != nil {
			h.Logger().Debug("routing a service reply failed", "service", to.Domain(), "err", err)
		}
	}
}

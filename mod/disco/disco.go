// Package disco implements XEP-0030: Service Discovery for the server and
// its accounts, answered from what every module registered on the host
// (module.Registry), with XEP-0128 extended information and the XEP-0157
// contact addresses of the server.
//
// The answers are built from the registry at request time, never cached at
// start, so disco sees every module's features whatever the start order;
// the registry is frozen once all modules started.
package disco

import (
	"context"
	"encoding/xml"

	"hearth/mod/adhoc"
	"hearth/module"
	"hearth/stanza"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// CapsNode is the XEP-0115 node hearth advertises in its stream features'
// <c/>. It is the same value as router.CapsNode, repeated here because
// modules may not import the router; keep the two equal.
const CapsNode = "https://hearth.chat/caps"

// Identities of the server and of its accounts.
var (
	serverIdentity  = module.Identity{Category: "server", Type: "im", Name: "hearth"}
	accountIdentity = module.Identity{Category: "account", Type: "registered"}
)

// Module answers disco#info and disco#items queries to the server and to
// every account's bare JID, and advertises the [contact] addresses
// (XEP-0157). It should be started after the other modules; it reads the
// registry only when answering, so the order is not needed for
// correctness.
var Module = module.New("disco", Config{}, start).WithSection("contact")

func start(h *module.Host, cfg Config) error {
	form, err := cfg.form()
	if err != nil {
		return err
	}
	if form != nil {
		h.AddInfoForm(form)
	}
	h.AddIdentity(serverIdentity)
	for _, target := range []module.Target{module.ServerTarget, module.AccountTarget} {
		h.AddFeature(target, NSInfo, NSItems)
	}
	reg := h.Registry()

	h.HandleIQ(module.ServerTarget, stanza.Get, module.Name(NSInfo, "query"), func(_ context.Context, req module.IQRequest) (*stanza.Element, error) {
		node := req.Payload.Get("node")
		if node != "" && node != CapsNode+"#"+reg.CapsVer() {
			if q, ok := adhoc.Info(reg, node, req.From); ok {
				return q, nil
			}
			return nil, stanza.NewError("item-not-found")
		}
		return info(node, reg.Identities(), reg.Features(module.ServerTarget), reg.InfoForms()), nil
	})
	h.HandleIQ(module.ServerTarget, stanza.Get, module.Name(NSItems, "query"), func(_ context.Context, req module.IQRequest) (*stanza.Element, error) {
		switch req.Payload.Get("node") {
		case "":
		case adhoc.NS:
			return adhoc.Items(reg, req.From), nil
		default:
			return nil, stanza.NewError("item-not-found")
		}
		q := stanza.New(NSItems, "query")
		for _, s := range reg.Services() {
			q.Append(stanza.New(NSItems, "item", "jid", s.Domain).Set("name", s.Name))
		}
		return q, nil
	})

	// The router answers only for existing accounts, so no lookup here.
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NSInfo, "query"), func(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
		if node := req.Payload.Get("node"); node != "" {
			// The nodes of the account (PEP) answer for themselves.
			n := reg.AccountNodes()
			if n == nil {
				return nil, stanza.NewError("item-not-found")
			}
			children, err := n.NodeInfo(ctx, req.To, req.From, node)
			if err != nil {
				return nil, err
			}
			return stanza.New(NSInfo, "query", "node", node).Append(nodes(children)...), nil
		}
		ids := append([]module.Identity{accountIdentity}, reg.AccountIdentities()...)
		return info("", ids, reg.Features(module.AccountTarget), nil), nil
	})
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NSItems, "query"), func(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
		return items(ctx, reg, req)
	})
	return nil
}

// items answers disco#items of an account: the items of the module that
// serves account nodes (PEP), if any.
func items(ctx context.Context, reg *module.Registry, req module.IQRequest) (*stanza.Element, error) {
	node := req.Payload.Get("node")
	n := reg.AccountNodes()
	if n == nil {
		if node != "" {
			return nil, stanza.NewError("item-not-found")
		}
		return stanza.New(NSItems, "query"), nil
	}
	children, err := n.Items(ctx, req.To, req.From, node)
	if err != nil {
		return nil, err
	}
	return stanza.New(NSItems, "query").Set("node", node).Append(nodes(children)...), nil
}

func nodes(els []*stanza.Element) []stanza.Node {
	out := make([]stanza.Node, len(els))
	for i, el := range els {
		out[i] = el
	}
	return out
}

// info builds a disco#info result. A new tree is built for every reply:
// the router may change the reply it sends.
func info(node string, ids []module.Identity, features []string, forms []*stanza.Form) *stanza.Element {
	q := stanza.New(NSInfo, "query").Set("node", node) // Set drops an empty node
	for _, id := range ids {
		el := stanza.New(NSInfo, "identity", "category", id.Category, "type", id.Type).Set("name", id.Name)
		if id.Lang != "" {
			el.Attr = append(el.Attr, xml.Attr{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: id.Lang})
		}
		q.Append(el)
	}
	for _, f := range features {
		q.Append(stanza.New(NSInfo, "feature", "var", f))
	}
	for _, f := range forms {
		q.Append(f.Element())
	}
	return q
}

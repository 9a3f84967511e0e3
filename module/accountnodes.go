package module

import (
	"context"
	"fmt"

	"hearth/jid"
	"hearth/stanza"
)

// AccountNodes answers the service discovery of the entities an account's
// bare JID hosts (XEP-0163 PEP nodes), for the module that answers disco
// (mod/disco) to ask of the module that owns them (mod/pep).
type AccountNodes interface {
	// Items returns the disco#items <item/> elements (in the disco#items
	// namespace) under node of account's bare JID that from may see: the
	// account's nodes when node is "", or a *stanza.Error (item-not-found)
	// when node is unknown or hidden from from.
	Items(ctx context.Context, account, from jid.JID, node string) ([]*stanza.Element, error)
	// NodeInfo returns the disco#info <query/> children (identities and
	// features) of node on account, or a *stanza.Error (item-not-found)
	// when node is unknown or hidden from from.
	NodeInfo(ctx context.Context, account, from jid.JID, node string) ([]*stanza.Element, error)
}

// SetAccountNodes makes n the answerer of disco queries about the nodes of
// every account, and adds id to the identities of every account's bare
// JID. Only one module may call it.
func (h *Host) SetAccountNodes(n AccountNodes, id Identity) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	if h.reg.accountNodes != nil {
		h.errs = append(h.errs, fmt.Errorf("account nodes already served by %s", h.reg.accountNodes.module))
		return
	}
	h.reg.accountNodes = &entry[AccountNodes]{h.module, n}
	h.reg.accountIdents = append(h.reg.accountIdents, id)
}

// AccountNodes returns the answerer of disco queries about account nodes,
// or nil when no module serves them.
func (r *Registry) AccountNodes() AccountNodes {
	if r.accountNodes == nil {
		return nil
	}
	return r.accountNodes.fn
}

// AccountIdentities returns the identities modules added to every
// account's bare JID (besides account/registered, which disco adds).
func (r *Registry) AccountIdentities() []Identity { return r.accountIdents }

package pep

import (
	"context"
	"slices"

	"hearth/jid"
	"hearth/mod/roster"
)

// mayRead returns nil when requester may retrieve the items of owner's node
// of configuration cfg (XEP-0060 §4.5, §6.5.9), or the error to answer.
func (p *service) mayRead(ctx context.Context, owner, requester jid.JID, cfg nodeConfig) error {
	if requester.Bare() == owner || cfg.Access == accessOpen {
		return nil
	}
	if owner.Local() == "" {
		// A node of the standalone service: its owners stand for the
		// account, the first one's roster decides (service.go).
		if slices.Contains(cfg.Owners, requester.Bare().String()) {
			return nil
		}
		first, err := jid.Parse(firstOf(cfg.Owners))
		if err != nil {
			return pubsubError("not-allowed", "closed-node", "")
		}
		owner = first
	}
	if cfg.Access == accessWhitelist {
		return pubsubError("not-allowed", "closed-node", "")
	}
	it, err := roster.Get(ctx, p.h, owner, requester.Bare())
	if err != nil {
		return err
	}
	if allows(cfg, it) {
		return nil
	}
	if cfg.Access == accessPresence {
		return pubsubError("not-authorized", "presence-subscription-required", "")
	}
	return pubsubError("not-authorized", "not-in-roster-group", "")
}

// allows reports whether the contact of roster item it passes the access
// model of cfg; the owner and open nodes are decided before.
func allows(cfg nodeConfig, it roster.Item) bool {
	switch cfg.Access {
	case accessOpen:
		return true
	case accessPresence:
		return it.Subscription.HasFrom()
	case accessRoster:
		if !it.InRoster() {
			return false
		}
		for _, g := range it.Groups {
			if slices.Contains(cfg.RosterGroups, g) {
				return true
			}
		}
	}
	return false
}

// mayNotify reports whether the contact of roster item it (not the owner)
// gets notifications of a node of configuration cfg: it must be
// subscribed to the owner's presence (XEP-0163 §4.3) and pass the access
// model.
func mayNotify(cfg nodeConfig, it roster.Item) bool {
	return it.Subscription.HasFrom() && allows(cfg, it)
}

func firstOf(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

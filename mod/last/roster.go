package last

import (
	"context"
	"fmt"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
)

// sharesPresence reports whether owner's roster gives contact a
// subscription to owner's presence ("from" or "both", RFC 6121 §2.1.2.5),
// which is what entitles contact to owner's last activity (XEP-0012 §4).
//
// It is the only code of this package that reads rosters; it goes through
// the roster module's read API, hence Requires("roster").
func sharesPresence(ctx context.Context, h *module.Host, owner, contact jid.JID) (bool, error) {
	it, err := roster.Get(ctx, h, owner.Bare(), contact.Bare())
	if err != nil {
		return false, fmt.Errorf("last: roster of %s: %w", owner.Bare(), err)
	}
	return it.Subscription.HasFrom(), nil
}

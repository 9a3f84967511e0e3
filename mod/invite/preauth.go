package invite

import (
	"context"
	"errors"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/stanza"
)

// deliver pre-approves a subscription request that carries a valid
// invitation token of its addressee (XEP-0379 §3): the inviter's roster
// gets the requester as pre-approved (RFC 6121 §3.4), so the presence
// module answers the request with subscribed at once. The token loses
// one use. Any other stanza, an invalid token, or a token of another
// inviter passes unchanged: the request is then an ordinary one.
func (s *Service) deliver(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	if st.Name.Local != "presence" || st.Get("type") != "subscribe" || to.Local() == "" {
		return st, nil
	}
	pre := st.Child(NSPreAuth, "preauth")
	if pre == nil {
		return st, nil
	}
	owner, contact := to.Bare(), from.Bare()
	inv, err := s.Lookup(ctx, pre.Get("token"))
	if err != nil || inv.Inviter != owner.String() || contact == owner {
		if err != nil && !errors.Is(err, ErrInvalid) {
			s.h.Logger().Warn("checking an invitation token failed", "err", err)
		}
		return st, nil
	}
	if _, err := s.Take(ctx, inv.Token); err != nil {
		return st, nil
	}
	_, err = roster.Update(ctx, s.h, owner, contact, func(it *roster.Item) bool {
		if it.Subscription.HasFrom() || it.Approved {
			return false
		}
		it.Approved = true
		return true
	})
	if err != nil {
		s.h.Logger().Warn("pre-approving an invited contact failed", "owner", owner.String(), "err", err)
	}
	return st, nil
}

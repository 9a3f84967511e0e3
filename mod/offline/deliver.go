package offline

import (
	"bytes"
	"context"
	"fmt"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// deliverBatch is how many stored messages are read from storage at a
// time while delivering, which bounds the memory a delivery holds.
const deliverBatch = 100

// sessionAvailable delivers the stored messages of s's account to s when
// s sent initial presence with a non-negative priority (XEP-0160 §2, step
// 4: the resource that sent the presence gets them). A session of negative
// priority gets none: like messages to the bare JID, they wait.
//
// TODO: a session whose initial presence had a negative priority and that
// later raises it gets the stored messages only at its next initial
// presence: the presence module runs the hook at initial presence only.
func (o *offline) sessionAvailable(ctx context.Context, s module.Session) {
	if s.Priority() < 0 {
		return
	}
	owner := s.JID().Bare()
	if err := o.deliver(ctx, owner, []module.Session{s}); err != nil {
		o.h.Logger().Error("delivering offline messages failed", "user", owner.String(), "err", err)
	}
}

// deliver sends owner's stored messages, oldest first, to each of
// sessions and deletes them. A message is sent exactly once: deliveries
// and stores for one owner are serialised by o.lock. A stored message
// that no longer parses is logged and deleted rather than blocking the
// ones after it. A storage error stops the delivery: messages sent but
// not yet deleted are sent again by the next one.
//
// TODO(XEP-0198): messages are deleted as soon as they are queued on the
// session. With stream management, deletion must wait for the client's
// <a/> acknowledging them, and a session that ends unacknowledged must
// leave them stored; until then a connection that breaks right after
// initial presence loses what was queued on it.
func (o *offline) deliver(ctx context.Context, owner jid.JID, sessions []module.Session) error {
	unlock := o.lock(owner)
	defer unlock()
	for {
		res, err := o.archive.Query(ctx, owner.String(), storage.Query{Limit: deliverBatch})
		if err != nil {
			return err
		}
		if len(res.Items) == 0 {
			return nil
		}
		ids := make([]string, len(res.Items))
		for i, it := range res.Items {
			ids[i] = it.ID
			msg, err := decode(it.Data)
			if err != nil {
				o.h.Logger().Error("dropping unreadable offline message", "user", owner.String(), "id", it.ID, "err", err)
				continue
			}
			for _, s := range sessions {
				s.Send(msg)
			}
		}
		if err := o.archive.Delete(ctx, owner.String(), ids...); err != nil {
			return err
		}
		if res.Complete {
			return nil
		}
	}
}

// decode parses a stored message.
func decode(data []byte) (*stanza.Element, error) {
	msg, err := stanza.NewDecoder(bytes.NewReader(data), stanza.Limits{}).Next()
	if err != nil {
		return nil, err
	}
	if msg.Name.Local != "message" {
		return nil, fmt.Errorf("stored element is <%s/>, not a message", msg.Name.Local)
	}
	return msg, nil
}

package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// deliverBatch is how many stored messages are read from storage at a
// time while delivering, which bounds the memory a read holds.
const deliverBatch = 100

// defaultWindow is the delivery window when the output queue's size is
// unknown (module.Settings.MaxQueueBytes of 0).
const defaultWindow = 256 << 10

// deleteTimeout bounds the deletion of confirmed messages, which goes on
// at shutdown.
const deleteTimeout = 5 * time.Second

// Delivery (XEP-0160 §2 step 4, with XEP-0198). The stored messages go to
// a session that sent initial presence, oldest first, and each is deleted
// only once the session's client has it: acknowledged with stream
// management, or written to the connection without it (module.Tracker;
// a session that cannot tell counts as having it once queued). A message
// the session did not confirm before it ended stays stored for the next
// one, and the session does not redeliver it itself, so it is neither
// lost nor duplicated in storage.
//
// Pacing: at most the window's bytes of stored messages (a quarter of
// the session's output queue limit) wait for confirmation at a time;
// each confirmation lets the next ones go. 2 000 large messages thus
// never overflow the queue (which would close the stream). The first
// window is sent before sessionAvailable returns, so that a small backlog
// reaches the client before anything it asks next; the rest follows from
// a goroutine of the server as confirmations arrive.
//
// Claims: each message sent and not yet confirmed (or confirmed, and
// deleted while deliveries of the account run) is claimed by its
// delivery, so that another session of the account delivering at the
// same time skips it, even from a page it read before the deletion: every
// message goes to one session. When a session fails to confirm messages, the other
// available sessions are given them.

// delivery sends an account's stored messages to one session.
type delivery struct {
	o       *offline
	s       module.Session
	tracker module.Tracker // nil: a session that cannot confirm
	owner   jid.JID

	wake  chan struct{} // cap 1: a confirmation arrived, or a rescan
	retry bool          // started for messages another session did not confirm

	// Guarded by o.mu.
	rescan bool // messages were stored or released meanwhile

	// Used by the goroutine running the delivery only.
	cursor    string // last item read; "" = from the start
	exhausted bool   // nothing unclaimed after cursor

	mu        sync.Mutex
	inflight  int // bytes sent, waiting for confirmation
	confirmed []string
	dead      bool // a message came back unconfirmed: the session ended
}

// sessionAvailable delivers the stored messages of s's account to s when
// s sent initial presence with a non-negative priority (XEP-0160 §2, step
// 4: the resource that sent the presence gets them). A session of negative
// priority gets none: like messages to the bare JID, they wait.
//
// TODO: a session whose initial presence had a negative priority and that
// later raises it gets the stored messages only at its next initial
// presence: the presence module runs the hook at initial presence only.
func (o *offline) sessionAvailable(ctx context.Context, s module.Session) {
	if s.Priority() < 0 || o.knownEmpty(s.JID().Bare()) {
		return
	}
	o.startDelivery(ctx, s, false)
}

// kickAvailable has owner's available sessions deliver what is stored
// (a message stored just as a session became available, or one another
// session did not confirm: then retry is set).
func (o *offline) kickAvailable(ctx context.Context, owner jid.JID, except module.Session, retry bool) {
	for _, s := range available(o.h.Sessions(owner)) {
		if s != except {
			o.startDelivery(ctx, s, retry)
		}
	}
}

// startDelivery starts delivering to s, or makes its running delivery
// look for new messages. A retry delivery that fails in turn does not
// hand its messages on again: two sessions that are going away (still in
// the table for a moment) must not pass them back and forth.
func (o *offline) startDelivery(ctx context.Context, s module.Session, retry bool) {
	o.mu.Lock()
	if d := o.active[s]; d != nil {
		d.rescan = true
		o.mu.Unlock()
		d.signal()
		return
	}
	d := &delivery{o: o, s: s, owner: s.JID().Bare(), wake: make(chan struct{}, 1), retry: retry}
	d.tracker, _ = s.(module.Tracker)
	o.active[s] = d
	o.mu.Unlock()
	if d.step(ctx) {
		return
	}
	o.h.Go(d.run)
}

func (d *delivery) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run continues a delivery that waits for confirmations.
func (d *delivery) run(ctx context.Context) {
	for {
		select {
		case <-d.wake:
		case <-ctx.Done():
			// Shutdown: what was confirmed is deleted; the rest stays.
			d.deleteConfirmed(ctx)
			d.o.mu.Lock()
			d.o.endLocked(d)
			d.o.mu.Unlock()
			return
		}
		if d.step(ctx) {
			return
		}
	}
}

// step deletes what was confirmed and sends what the window allows. It
// reports true when the delivery is over: nothing waits for
// confirmation and nothing unclaimed is left (or the session ended).
func (d *delivery) step(ctx context.Context) bool {
	o := d.o
	for {
		d.deleteConfirmed(ctx)
		d.send(ctx)
		d.deleteConfirmed(ctx) // sessions that confirm at once
		d.mu.Lock()
		waiting, dead, toDelete := d.inflight > 0, d.dead, len(d.confirmed) > 0
		d.mu.Unlock()
		if toDelete && !waiting {
			continue // confirmed since the deletion above
		}
		if waiting {
			if d.tracker != nil {
				d.tracker.AskAck()
			}
			return false
		}
		o.mu.Lock()
		if !dead && d.rescan {
			d.rescan = false
			d.cursor, d.exhausted = "", false
		}
		if !dead && !d.exhausted {
			// The window emptied while send filled it: send more.
			o.mu.Unlock()
			continue
		}
		o.endLocked(d)
		o.mu.Unlock()
		if dead && !d.retry {
			// What this session did not confirm may go to another one.
			o.kickAvailable(ctx, d.owner, d.s, true)
		}
		return true
	}
}

// send sends unclaimed stored messages, oldest first, while the window
// has room.
func (d *delivery) send(ctx context.Context) {
	o := d.o
	for !d.exhausted {
		d.mu.Lock()
		full, dead := d.inflight >= o.window, d.dead
		d.mu.Unlock()
		if full || dead {
			return
		}
		fromStart, gen := d.cursor == "", o.storesSoFar()
		res, err := o.archive.Query(ctx, d.owner.String(), storage.Query{AfterID: d.cursor, Limit: deliverBatch})
		if errors.Is(err, storage.ErrNotFound) && d.cursor != "" {
			d.cursor = "" // the cursor's message was deleted: start over, skipping claims
			continue
		}
		if err != nil {
			// They stay stored for the next initial presence.
			o.h.Logger().Error("reading offline messages failed", "user", d.owner.String(), "err", err)
			d.exhausted = true
			return
		}
		if len(res.Items) == 0 {
			if fromStart {
				o.markEmpty(d.owner, gen)
			}
			d.exhausted = true
			return
		}
		for _, it := range res.Items {
			d.cursor = it.ID
			if !o.claim(d.owner, it.ID, d) {
				continue
			}
			msg, err := decode(it.Data)
			if err != nil {
				o.h.Logger().Error("dropping unreadable offline message", "user", d.owner.String(), "id", it.ID, "err", err)
				d.confirm(it.ID, 0)
				continue
			}
			d.mu.Lock()
			d.inflight += len(it.Data)
			d.mu.Unlock()
			d.sendOne(msg, it.ID, len(it.Data))
			d.mu.Lock()
			full, dead := d.inflight >= o.window, d.dead
			d.mu.Unlock()
			if full || dead {
				return
			}
		}
		if res.Complete {
			d.exhausted = true
		}
	}
}

func (d *delivery) sendOne(msg *stanza.Element, id string, size int) {
	if d.tracker == nil {
		d.s.Send(msg)
		d.confirm(id, size)
		return
	}
	d.tracker.SendTracked(msg, func(ok bool) {
		if ok {
			d.confirm(id, size)
		} else {
			d.release(id, size)
		}
		d.signal()
	})
}

// confirm records that the client has message id: it will be deleted.
func (d *delivery) confirm(id string, size int) {
	d.mu.Lock()
	d.inflight -= size
	d.confirmed = append(d.confirmed, id)
	d.mu.Unlock()
}

// release gives back message id, which the session ended without
// confirming: it stays stored, unclaimed.
func (d *delivery) release(id string, size int) {
	d.mu.Lock()
	d.inflight -= size
	d.dead = true
	d.mu.Unlock()
	d.o.unclaim(d.owner, id)
}

// deleteConfirmed deletes the confirmed messages from storage. On a
// storage error they stay claimed by nobody and will be sent again.
func (d *delivery) deleteConfirmed(ctx context.Context) {
	d.mu.Lock()
	ids := d.confirmed
	d.confirmed = nil
	d.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	if err := d.o.archive.Delete(ctx, d.owner.String(), ids...); err != nil {
		d.o.h.Logger().Error("deleting delivered offline messages failed", "user", d.owner.String(), "err", err)
	}
	d.o.markDeleted(d.owner, ids)
}

// deleted is the claim left on a message deleted after delivery, for as
// long as deliveries of its owner run: another delivery may have read it
// before the deletion and must still skip it.
var deleted = &delivery{}

// claim reserves owner's stored message id for d; false if another
// delivery has it, or it was delivered and deleted.
func (o *offline) claim(owner jid.JID, id string, d *delivery) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.claimed[owner]
	if m == nil {
		m = map[string]*delivery{}
		o.claimed[owner] = m
	}
	if m[id] != nil {
		return false
	}
	m[id] = d
	return true
}

// unclaim gives back messages that are still stored.
func (o *offline) unclaim(owner jid.JID, ids ...string) {
	o.mu.Lock()
	for _, id := range ids {
		delete(o.claimed[owner], id)
	}
	o.mu.Unlock()
}

// markDeleted turns the claims of deleted messages into tombstones.
func (o *offline) markDeleted(owner jid.JID, ids []string) {
	o.mu.Lock()
	for _, id := range ids {
		if m := o.claimed[owner]; m != nil {
			m[id] = deleted
		}
	}
	o.mu.Unlock()
}

// endLocked removes d from the running deliveries; the last delivery of
// its owner to end drops the owner's claims (only tombstones are left by
// then). Caller holds o.mu.
func (o *offline) endLocked(d *delivery) {
	delete(o.active, d.s)
	for _, other := range o.active {
		if other.owner == d.owner {
			return
		}
	}
	delete(o.claimed, d.owner)
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

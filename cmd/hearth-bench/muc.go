package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
)

// occupant is one session in the MUC room.
type occupant struct {
	nick   string
	joined chan joinResult // receives the outcome of the join, once
	once   sync.Once
	sd     *sender // set for senders before any message is sent
	rec    *recorder
}

type joinResult struct {
	created bool // status 201: the join created the room
	err     error
}

func (oc *occupant) joinDone(r joinResult) {
	oc.once.Do(func() { oc.joined <- r })
}

// muc runs MUC fan-out (XEP-0045): k accounts join one new room, the
// first -senders of them send groupchat messages with window in flight
// each (a slot is freed when the sender sees its own message reflected),
// and every occupant counts what it receives: delivered is the number of
// stanzas all occupants received.
func (b *bench) muc(ctx context.Context) result {
	o := b.opts
	room, err := jid.New("hb"+b.runID, o.mucService, "")
	r := &mucResult{Occupants: o.occupants, Room: room.String(),
		flow: flow{Senders: o.senders, Window: o.window, Size: o.size}}
	var errs tally
	if err != nil {
		errs.fill(&r.header, fmt.Errorf("room name: %w", err))
		return r
	}
	m := newFlowMeter(b.runID)
	occ := make([]*occupant, o.occupants)
	recs := make([]*recorder, o.occupants)
	for i := range occ {
		recs[i] = &recorder{}
		occ[i] = &occupant{nick: "o" + strconv.Itoa(i), joined: make(chan joinResult, 1), rec: recs[i]}
	}
	var mu sync.Mutex // guards occupant.sd
	handler := func(oc *occupant) client.Handler {
		return client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
			from, err := jid.Parse(el.Get("from"))
			if err != nil || from.Bare() != room {
				return
			}
			switch el.Name.Local {
			case "presence":
				if from.Resource() != oc.nick {
					return
				}
				if el.Get("type") == stanza.ErrorType {
					oc.joinDone(joinResult{err: fmt.Errorf("joining %s: %w", room, bounce(el))})
					return
				}
				oc.joinDone(joinResult{created: hasStatus(el, "201")})
			case "message":
				id := el.Get("id")
				if !m.ours(id) {
					return
				}
				mu.Lock()
				sd := oc.sd
				mu.Unlock()
				if el.Get("type") == stanza.ErrorType {
					errs.add(fmt.Errorf("groupchat message bounced: %w", bounce(el)))
				} else if el.Get("type") == "groupchat" {
					m.received(oc.rec, id)
				}
				if sd != nil && (from.Resource() == oc.nick || el.Get("type") == stanza.ErrorType) {
					sd.release()
				}
			}
		})
	}
	// Each occupant looks at the start tag of what it reads and parses
	// only what is not one of the run's groupchat messages.
	roomFrom := []byte(room.String() + "/")
	raw := func(oc *occupant) func(*client.Session, []byte) bool {
		self := []byte(room.String() + "/" + oc.nick)
		return func(_ *client.Session, b []byte) bool {
			tag, ok := rawMessage(b)
			if !ok {
				return false
			}
			from, _ := rawAttr(tag, "from")
			typ, _ := rawAttr(tag, "type")
			if string(typ) != "groupchat" || !bytes.HasPrefix(from, roomFrom) {
				return false
			}
			id, _ := rawAttr(tag, "id")
			if !m.receivedRaw(oc.rec, id) {
				return false
			}
			if bytes.Equal(from, self) {
				mu.Lock()
				sd := oc.sd
				mu.Unlock()
				if sd != nil {
					sd.release()
				}
			}
			return true
		}
	}
	sessions := make([]*client.Session, o.occupants)
	defer closeAll(sessions, o.concurrency)
	forEach(ctx, o.occupants, o.concurrency, func(i int) {
		s, _, err := b.connect(ctx, i, o.resource, handler(occ[i]), raw(occ[i]))
		if err != nil {
			errs.add(err)
			return
		}
		sessions[i] = s
	})
	if err := b.allUp(ctx, sessions, &errs); err != nil {
		errs.fill(&r.header, err)
		return r
	}
	// The first occupant creates the room, the others join it.
	if err := b.join(ctx, sessions[0], occ[0], room, true); err != nil {
		errs.fill(&r.header, err)
		return r
	}
	forEach(ctx, o.occupants-1, o.concurrency, func(i int) {
		if err := b.join(ctx, sessions[i+1], occ[i+1], room, false); err != nil {
			errs.add(err)
		}
	})
	if failed := errs.count(); failed > 0 || ctx.Err() != nil {
		err := ctxErr(ctx)
		if ctx.Err() == nil {
			err = fmt.Errorf("only %d of %d occupants joined", int64(o.occupants)-failed, o.occupants)
		}
		errs.fill(&r.header, err)
		return r
	}
	senders := make([]*sender, o.senders)
	for i := range senders {
		head := "<message to='" + escaper.Replace(room.String()) + "' type='groupchat' id='"
		const tailFixed = "'><body></body></message>"
		pad := padding(o.size, len(head)+len(tailFixed))
		senders[i] = newSender(sessions[i], o.window, o.batch, head, "'><body>"+pad+"</body></message>")
		mu.Lock()
		occ[i].sd = senders[i]
		mu.Unlock()
	}
	err = b.flow(ctx, m, senders, recs, &r.flow, &errs)
	r.OK = r.Delivered
	errs.fill(&r.header, err)
	b.say("muc: %d occupants, %d senders, window %d: %.0f stanzas/s delivered, latency p50 %.2f ms p99 %.2f ms, server CPU %s s per 100k",
		o.occupants, o.senders, o.window, r.DeliveredPerS, r.LatP50MS, r.LatP99MS, fmtMS(r.CPUSPer100k))
	return r
}

// join enters the room as oc.nick, asking for no history, and waits for
// the self-presence. The creator also makes the room an instant room
// (XEP-0045 §10.1.2), as servers keep new rooms locked until configured.
func (b *bench) join(ctx context.Context, s *client.Session, oc *occupant, room jid.JID, creator bool) error {
	p := stanza.New(stanza.NSClient, "presence", "to", room.String()+"/"+oc.nick).Append(
		stanza.New(nsMUC, "x").Append(stanza.New(nsMUC, "history", "maxstanzas", "0")))
	if err := s.Send(p); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.stepTimeout)
	defer cancel()
	var res joinResult
	select {
	case res = <-oc.joined:
	case <-ctx.Done():
		return fmt.Errorf("joining %s as %s: no presence from the room within %v (is there a MUC service at %s?)",
			room, s.JID(), b.opts.stepTimeout, room.Domain())
	}
	if res.err != nil {
		return fmt.Errorf("%w (is there a MUC service at %s?)", res.err, room.Domain())
	}
	if creator && res.created {
		iq := stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "to", room.String()).Append(
			stanza.New(nsMUCOwner, "query").Append((&stanza.Form{Type: stanza.FormSubmit}).Element()))
		if _, err := s.SendIQ(ctx, iq); err != nil {
			return fmt.Errorf("configuring %s as an instant room: %w", room, err)
		}
	}
	return nil
}

// hasStatus reports whether a MUC presence carries status code.
func hasStatus(p *stanza.Element, code string) bool {
	x := p.Child(nsMUCUser, "x")
	if x == nil {
		return false
	}
	for _, c := range x.Elements() {
		if c.Name.Local == "status" && c.Get("code") == code {
			return true
		}
	}
	return false
}

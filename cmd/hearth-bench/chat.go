package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"hearth/client"
	"hearth/stanza"
)

// drainBound is how long chat and muc wait for the messages in flight
// when the measurement ends.
const drainBound = 5 * time.Second

// escaper escapes text for an XML attribute value or character data.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;")

// chat runs one-to-one chat: in each of the pairs, one account sends
// type='chat' messages to the other's bare JID with window messages in
// flight; the receiver's arrival frees a slot. Both sent initial
// presence, so the server delivers to the receiver's session.
func (b *bench) chat(ctx context.Context) result {
	o := b.opts
	r := &chatResult{Pairs: o.pairs, flow: flow{Senders: o.pairs, Window: o.window, Size: o.size}}
	var errs tally
	m := newFlowMeter(b.runID)
	senders := make([]*sender, o.pairs)
	recs := make([]*recorder, o.pairs)
	sessions := make([]*client.Session, 2*o.pairs)
	defer closeAll(sessions, o.concurrency)
	for p := range o.pairs {
		recs[p] = &recorder{}
	}
	// senders[p] is set before the receiver of pair p can get anything:
	// the sender's session is up and its sender built first, and
	// nothing is sent before every session is up.
	var mu sync.Mutex
	handlers := func(p int) (send, recv client.Handler, raw func(*client.Session, []byte) bool) {
		release := func() {
			mu.Lock()
			sd := senders[p]
			mu.Unlock()
			if sd != nil {
				sd.release()
			}
		}
		send = client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
			if el.Name.Local == "message" && el.Get("type") == stanza.ErrorType && m.ours(el.Get("id")) {
				errs.add(fmt.Errorf("message bounced: %w", bounce(el)))
				release()
			}
		})
		recv = client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
			if el.Name.Local == "message" && el.Get("type") == "chat" && m.received(recs[p], el.Get("id")) {
				release()
			}
		})
		// The receiver looks at the start tag of what it reads and
		// parses only what is not one of the run's chat messages.
		raw = func(_ *client.Session, b []byte) bool {
			tag, ok := rawMessage(b)
			if !ok {
				return false
			}
			if typ, _ := rawAttr(tag, "type"); string(typ) != "chat" {
				return false
			}
			id, _ := rawAttr(tag, "id")
			if !m.receivedRaw(recs[p], id) {
				return false
			}
			release()
			return true
		}
		return send, recv, raw
	}
	forEach(ctx, 2*o.pairs, o.concurrency, func(i int) {
		p := i / 2
		sh, rh, raw := handlers(p)
		h := rh
		if i%2 == 0 {
			h, raw = sh, nil
		}
		s, _, err := b.connect(ctx, i, o.resource, h, raw)
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
	for p := range o.pairs {
		to := sessions[2*p+1].JID().Bare().String()
		head := "<message to='" + escaper.Replace(to) + "' type='chat' id='"
		const tailFixed = "'><body></body></message>"
		pad := padding(o.size, len(head)+len(tailFixed))
		mu.Lock()
		senders[p] = newSender(sessions[2*p], o.window, o.batch, head, "'><body>"+pad+"</body></message>")
		mu.Unlock()
	}
	err := b.flow(ctx, m, senders, recs, &r.flow, &errs)
	r.OK = r.Delivered
	errs.fill(&r.header, err)
	b.say("chat: %d pairs, window %d: %.0f msg/s delivered, latency p50 %.2f ms p99 %.2f ms p99.9 %.2f ms, server CPU %s s per 100k",
		o.pairs, o.window, r.DeliveredPerS, r.LatP50MS, r.LatP99MS, r.LatP999MS, fmtMS(r.CPUSPer100k))
	return r
}

// allUp checks that every session logged in; a scenario that needs them
// all stops otherwise.
func (b *bench) allUp(ctx context.Context, sessions []*client.Session, errs *tally) error {
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	up := 0
	for _, s := range sessions {
		if s != nil {
			up++
		}
	}
	if up < len(sessions) {
		return fmt.Errorf("only %d of %d sessions logged in", up, len(sessions))
	}
	return nil
}

// flow runs the senders through the warm-up and the measurement, stops
// them and waits for what is in flight.
func (b *bench) flow(ctx context.Context, m *flowMeter, senders []*sender, recs []*recorder, f *flow, errs *tally) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, sd := range senders {
		wg.Go(func() {
			if err := sd.run(m, stop); err != nil {
				errs.add(fmt.Errorf("send from %s: %w", sd.s.JID(), err))
			}
		})
	}
	completed := b.measure(ctx, m, recs, f)
	close(stop)
	wg.Wait()
	drain(ctx, senders, b.opts.window, drainBound)
	for _, sd := range senders {
		select {
		case <-sd.s.Done():
			errs.add(fmt.Errorf("session %s ended: %v", sd.s.JID(), sd.s.Err()))
		default:
		}
	}
	switch {
	case !completed:
		return ctxErr(ctx)
	case f.Delivered == 0:
		return errors.New("no message was delivered during the measurement")
	}
	return nil
}

// bounce returns the stanza error of a bounced message.
func bounce(el *stanza.Element) error {
	if e := stanza.ParseError(el); e != nil {
		return e
	}
	return errors.New("error without <error/>")
}

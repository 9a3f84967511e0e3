package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"hearth/client"
	"hearth/stanza"
)

// offlineDrainWait is how long the receiver's first login waits for
// messages left over by earlier runs before it logs out.
const offlineDrainWait = 500 * time.Millisecond

// offline measures offline storage (XEP-0160): account first+1 (the
// receiver) is offline while account first sends it m messages; then the
// receiver logs in, and the time from the start of its login, and from
// its initial presence, to the last of the m messages is measured.
func (b *bench) offline(ctx context.Context) result {
	o := b.opts
	r := &offlineResult{M: o.messages}
	var errs tally
	fail := func(err error) result {
		errs.fill(&r.header, err)
		return r
	}
	prefix := "hbo" + b.runID + "-"

	// Log the receiver in and out once: messages stored by an earlier
	// run are delivered now and not counted later, and the account is
	// known to be offline.
	s, _, err := b.connect(ctx, 1, o.resource, nil, nil)
	if err != nil {
		return fail(err)
	}
	sleep(ctx, offlineDrainWait)
	receiver := s.JID().Bare()
	if err := s.Close(); err != nil {
		return fail(fmt.Errorf("logging out %s: %w", receiver, err))
	}

	// Store: send m messages, then a ping, whose answer means the server
	// has processed them all (it handles a session's stanzas in order).
	var bounced atomic.Int64
	var firstBounce atomic.Value
	onBounce := client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
		if el.Name.Local == "message" && el.Get("type") == stanza.ErrorType {
			if bounced.Add(1) == 1 {
				firstBounce.Store(bounce(el))
			}
		}
	})
	snd, _, err := b.connect(ctx, 0, o.resource, onBounce, nil)
	if err != nil {
		return fail(err)
	}
	defer snd.Close()
	head := "<message to='" + escaper.Replace(receiver.String()) + "' type='chat' id='" + prefix
	const tailFixed = "'><body></body></message>"
	tail := "'><body>" + padding(o.size, len(head)+len(tailFixed)) + "</body></message>"
	var buf []byte
	for i := range o.messages {
		buf = strconv.AppendInt(append(buf[:0], head...), int64(i), 10)
		buf = append(buf, tail...)
		if err := snd.SendRaw(buf); err != nil {
			return fail(fmt.Errorf("sending to %s: %w", receiver, err))
		}
	}
	pctx, cancel := context.WithTimeout(ctx, b.opts.stepTimeout)
	_, err = snd.SendIQ(pctx, stanza.New(stanza.NSClient, "iq", "type", stanza.Get, "to", o.domain).
		Append(stanza.New(nsPing, "ping")))
	cancel()
	if err != nil {
		return fail(fmt.Errorf("ping after storing: %w", err))
	}
	// Bounces are sent before the ping's answer; give stragglers a moment.
	sleep(ctx, 100*time.Millisecond)
	r.Stored = int64(o.messages) - bounced.Load()
	if r.Stored == 0 {
		return fail(fmt.Errorf("the server bounced all %d messages to offline %s (%v): it does not store offline messages",
			o.messages, receiver, firstBounce.Load()))
	}
	var partial error
	if n := bounced.Load(); n > 0 {
		// A quota: measure the delivery of what was stored, and say so.
		partial = fmt.Errorf("the server stored only %d of %d messages to offline %s and bounced the rest (%v): a quota?",
			r.Stored, o.messages, receiver, firstBounce.Load())
	}

	// Deliver: log in and wait for all that were stored.
	want := r.Stored
	var got atomic.Int64
	all := make(chan time.Time, 1)
	count := client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
		if el.Name.Local != "message" {
			return
		}
		if id := el.Get("id"); len(id) > len(prefix) && id[:len(prefix)] == prefix {
			if got.Add(1) == want {
				all <- time.Now()
			}
		}
	})
	start := time.Now()
	rcv, t, err := b.connect(ctx, 1, o.resource, count, nil)
	if err != nil {
		return fail(err)
	}
	defer rcv.Close()
	presenceAt := start.Add(t.ready)
	wctx, cancel := context.WithTimeout(ctx, b.opts.stepTimeout)
	defer cancel()
	select {
	case end := <-all:
		r.Delivered = got.Load()
		r.OK = r.Delivered
		r.LoginToAllMS = ms(end.Sub(start))
		r.PresenceToAllMS = ms(end.Sub(presenceAt))
	case <-wctx.Done():
		r.Delivered = got.Load()
		r.OK = r.Delivered
		err := fmt.Errorf("%d of %d stored messages delivered within %v after login", r.Delivered, want, b.opts.stepTimeout)
		if ctx.Err() != nil {
			err = joinErrors(ctxErr(ctx), err)
		}
		return fail(joinErrors(partial, err))
	}
	errs.fill(&r.header, partial)
	b.say("offline: %d messages stored, all delivered %.1f ms after the login began (%.1f ms after presence)",
		r.Stored, r.LoginToAllMS, r.PresenceToAllMS)
	return r
}

// joinErrors joins the non-nil errors on one line (errors.Join uses
// newlines, which the human-readable output cannot have).
func joinErrors(errs ...error) error {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

package push

import (
	"context"
	"errors"
	"strconv"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// Payloads that make a message without a body worth a notification: an
// end-to-end encrypted message has no readable body, or only a fallback.
var encrypted = []struct{ space, local string }{
	{"eu.siacs.conversations.axolotl", "encrypted"}, // XEP-0384 OMEMO (legacy namespace)
	{"urn:xmpp:omemo:2", "encrypted"},               // XEP-0384 OMEMO 0.8+
	{"urn:xmpp:openpgp:0", "openpgp"},               // XEP-0373 OpenPGP for XMPP
}

// Worth reports whether msg deserves a push notification: a message that
// is not an error or a headline and carries a body or an encrypted
// payload. Messages with only chat states, receipts or markers do not wake
// a phone.
func Worth(msg *stanza.Element) bool {
	if msg.Name.Local != "message" {
		return false
	}
	switch msg.Get("type") {
	case stanza.ErrorType, "headline":
		return false
	}
	if msg.Child(msg.Name.Space, "body") != nil {
		return true
	}
	for _, e := range encrypted {
		if msg.Child(e.space, e.local) != nil {
			return true
		}
	}
	return false
}

// undelivered runs when msg reached no session of the account to: every
// registration is notified. It never takes the message (offline storage
// comes next, module/order.go). A message coming back from a session that
// ended while hibernating was notified when it reached that session, and
// is not notified again; one that a live session never acknowledged is.
func (p *pusher) undelivered(ctx context.Context, msg *stanza.Element, to jid.JID) bool {
	if _, waited := module.Requeued(ctx); waited {
		return false
	}
	if Worth(msg) {
		p.notify(msg, to, nil)
	}
	return false
}

// delivered runs after msg went to sessions of the account to. A session
// hibernating for XEP-0198 resumption only queued it, and so, with
// Config.NotifyInactive, did one whose client said it is inactive
// (XEP-0352): when every recipient is asleep so, every registration is
// notified; when some got it live, only the registrations enabled by a
// sleeping recipient are (that device missed it, the user did not). A
// message delivered live to every recipient means the user is here: the
// missed-message count restarts.
func (p *pusher) delivered(_ context.Context, msg *stanza.Element, to jid.JID, sessions []module.Session) {
	if !Worth(msg) {
		return
	}
	var asleep []string
	live := false
	for _, s := range sessions {
		if p.asleep(s) {
			asleep = append(asleep, s.JID().String())
		} else {
			live = true
		}
	}
	switch {
	case len(asleep) == 0:
		p.reset(to)
	case !live:
		p.notify(msg, to, nil)
	default:
		p.notify(msg, to, asleep)
	}
}

// asleep reports whether s only queues what it is sent for a device that
// will not look at it: hibernating, or inactive with Config.NotifyInactive.
func (p *pusher) asleep(s module.Session) bool {
	if h, ok := s.(module.Hibernating); ok && h.Hibernating() {
		return true
	}
	if p.cfg.NotifyInactive {
		if i, ok := s.(module.Inactive); ok && i.Inactive() {
			return true
		}
	}
	return false
}

// sessionAvailable restarts the missed-message count: the user is back.
func (p *pusher) sessionAvailable(_ context.Context, s module.Session) {
	p.reset(s.JID().Bare())
}

func (p *pusher) reset(owner jid.JID) {
	p.mu.Lock()
	delete(p.counts, owner)
	p.mu.Unlock()
}

func (p *pusher) bump(owner jid.JID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[owner]++
	return p.counts[owner]
}

// notify publishes a notification of msg to the registrations of owner:
// all of them when only is nil, else those enabled by the sessions whose
// full JIDs are in only. The publishes run in a goroutine of the server,
// at most Config.MaxInFlight at a time; when all slots are taken the
// notification is dropped and logged, so that routing never waits.
func (p *pusher) notify(msg *stanza.Element, owner jid.JID, only []string) {
	select {
	case p.slots <- struct{}{}:
	default:
		p.h.Logger().Warn("push notification dropped: too many publishes in flight", "owner", owner.String())
		return
	}
	p.h.Go(func(ctx context.Context) {
		defer func() { <-p.slots }()
		p.publishAll(ctx, owner, msg, only)
	})
}

// publishAll publishes to the chosen registrations of owner. The count
// only grows for accounts with registrations, so that accounts without
// push cost no memory.
func (p *pusher) publishAll(ctx context.Context, owner jid.JID, msg *stanza.Element, only []string) {
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	regs, err := p.registrations(rctx, owner)
	cancel()
	if err != nil {
		p.h.Logger().Error("reading push registrations", "owner", owner.String(), "err", err)
		return
	}
	var chosen []registration
	for _, r := range regs {
		if only == nil || contains(only, r.Session) {
			chosen = append(chosen, r)
		}
	}
	if len(chosen) == 0 {
		return
	}
	summary := p.summary(msg, p.bump(owner))
	for _, r := range chosen {
		p.publish(ctx, owner, r, summary)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// publish sends one notification to r's service and waits for the answer
// (Config.PublishTimeout). An error reply disables the registration
// (XEP-0357 §7.1) unless it is transient: type wait, or the server could
// not reach the service at all (remote-server-not-found/-timeout, which
// say nothing about the registration).
func (p *pusher) publish(ctx context.Context, owner jid.JID, r registration, summary *stanza.Form) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := p.h.SendIQ(ctx, publishIQ(owner, r, summary))
	if err == nil {
		return
	}
	log := p.h.Logger().With("owner", owner.String(), "service", r.service.String(), "node", r.node)
	var se *stanza.Error
	if !errors.As(err, &se) || !permanent(se) {
		log.Info("push publish failed", "err", err)
		return
	}
	if err := p.remove(ctx, owner, r); err != nil {
		log.Error("disabling push registration", "err", err)
		return
	}
	log.Info("push registration disabled after a publish error", "err", err)
}

func permanent(e *stanza.Error) bool {
	switch e.Condition {
	case "remote-server-not-found", "remote-server-timeout":
		return false
	}
	return e.Type == stanza.Cancel || e.Type == stanza.Auth || e.Type == stanza.Modify
}

// summary returns the urn:xmpp:push:summary form for msg, the count-th
// message the account missed (XEP-0357 §7, §11.3.1).
func (p *pusher) summary(msg *stanza.Element, count int) *stanza.Form {
	f := &stanza.Form{Type: stanza.FormSubmit, Fields: []stanza.Field{
		{Var: "FORM_TYPE", Values: []string{NSSummary}},
		{Var: "message-count", Values: []string{strconv.Itoa(count)}},
	}}
	if from := msg.Get("from"); p.cfg.IncludeSender && from != "" {
		f.Fields = append(f.Fields, stanza.Field{Var: "last-message-sender", Values: []string{from}})
	}
	if body := msg.ChildText(msg.Name.Space, "body"); p.cfg.IncludeBody && body != "" {
		f.Fields = append(f.Fields, stanza.Field{Var: "last-message-body", Values: []string{body}})
	}
	return f
}

// publishIQ returns the XEP-0060 publish of a notification to r, from the
// account's bare JID, with r's publish options (XEP-0357 §7).
func publishIQ(owner jid.JID, r registration, summary *stanza.Form) *stanza.Element {
	publish := stanza.New(NSPubSub, "publish")
	publish.Set("node", r.node)
	publish.Append(stanza.New(NSPubSub, "item").Append(
		stanza.New(NS, "notification").Append(summary.Element())))
	pubsub := stanza.New(NSPubSub, "pubsub").Append(publish)
	if r.Options != nil {
		pubsub.Append(stanza.New(NSPubSub, "publish-options").Append(r.Options.Element()))
	}
	return stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "from", owner.String(), "to", r.service.String()).Append(pubsub)
}

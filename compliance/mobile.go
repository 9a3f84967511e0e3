package compliance

import (
	"context"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
)

const (
	nsSM   = "urn:xmpp:sm:3"
	nsCSI  = "urn:xmpp:csi:0"
	nsPush = "urn:xmpp:push:0"
)

// probeSM enables stream management with resumption on a session of its
// own (acknowledgements would otherwise have to be kept for the main
// one), asks for an acknowledgement, drops the connection as a network
// failure would, and resumes the session on a new one.
func probeSM(ctx context.Context, p *prober) (string, error) {
	s, in, err := p.dial(ctx, "compliance-sm-"+randomToken(4), client.StartTLS)
	if err != nil {
		return "", errorf("second login: %v", err)
	}
	defer s.Close()
	if s.Features().Child(nsSM, "sm") == nil {
		return "", errorf("no <sm xmlns='%s'/> in stream features", nsSM)
	}
	s.Send(stanza.New(nsSM, "enable", "resume", "true"))
	el, err := in.wait(ctx, func(el *stanza.Element) bool {
		return el.Name.Space == nsSM && (el.Name.Local == "enabled" || el.Name.Local == "failed")
	})
	if err != nil {
		return "", errorf("no answer to <enable/>: %v", err)
	}
	if el.Name.Local == "failed" {
		return "", errorf("<enable/> failed")
	}
	id := el.Get("id")
	if id == "" || (el.Get("resume") != "true" && el.Get("resume") != "1") {
		return "", errorf("enabled without resumption")
	}
	received := in.stanzas.Load()
	s.Send(stanza.New(nsSM, "r"))
	a, err := in.wait(ctx, func(el *stanza.Element) bool { return el.Name.Space == nsSM && el.Name.Local == "a" })
	if err != nil {
		return "", errorf("no <a/> for <r/>: %v", err)
	}
	detail := "enabled, acknowledged h=" + a.Get("h")
	if m := el.Get("max"); m != "" {
		detail += ", resumable for " + m + "s"
	}

	full := s.JID()
	h := uint32(in.stanzas.Load() - received)
	s.Abort()
	in2 := newInbox()
	cc := p.cfg.clientConfig(p.keys, "")
	cc.Handler = in2
	r, err := client.Resume(ctx, cc, full, id, h)
	if err != nil {
		return "", errorf("%s; resuming after the connection dropped: %v", detail, err)
	}
	defer r.Close()
	if _, err := p.iq(ctx, r, stanza.Get, p.domain(), stanza.New(nsPing, "ping")); err != nil {
		return "", errorf("%s; the resumed stream does not work: %v", detail, err)
	}
	return detail + ", resumed after a dropped connection", nil
}

// probeCSI tells the server that a session of its own is inactive, then
// active, and checks the session keeps working; a server without CSI
// closes the stream on the unknown element.
func probeCSI(ctx context.Context, p *prober) (string, error) {
	s, _, err := p.dial(ctx, "compliance-csi-"+randomToken(4), client.StartTLS)
	if err != nil {
		return "", errorf("second login: %v", err)
	}
	defer s.Close()
	if s.Features().Child(nsCSI, "csi") == nil {
		return "", errorf("no <csi xmlns='%s'/> in stream features", nsCSI)
	}
	for _, state := range []string{"inactive", "active"} {
		s.Send(stanza.New(nsCSI, state))
		if _, err := p.iq(ctx, s, stanza.Get, p.domain(), stanza.New(nsPing, "ping")); err != nil {
			return "", errorf("after <%s/>: %v", state, err)
		}
	}
	return "inactive and active accepted", nil
}

// probePush enables push notifications to an app server that cannot
// exist (.invalid, RFC 2606) and disables them again.
func probePush(ctx context.Context, p *prober) (string, error) {
	d, err := p.account(ctx)
	if err != nil {
		return "", err
	}
	if !d.has(nsPush) {
		return "", errNotFeature(p.cfg.JID, nsPush)
	}
	appServer := "push.hearth-compliance.invalid"
	node := "compliance-" + randomToken(4)
	if _, err := p.iq(ctx, p.s, stanza.Set, jid.JID{}, stanza.New(nsPush, "enable", "jid", appServer, "node", node)); err != nil {
		return "", errorf("enable: %v", err)
	}
	if _, err := p.iq(ctx, p.s, stanza.Set, jid.JID{}, stanza.New(nsPush, "disable", "jid", appServer, "node", node)); err != nil {
		return "", errorf("disable: %v", err)
	}
	return "enabled and disabled", nil
}

package router

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"hearth/jid"
	"hearth/module"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/stream"
)

// NSCarbons is the XEP-0280 namespace, whose <enable/> Bind 2 takes inline.
const NSCarbons = "urn:xmpp:carbons:2"

// maxTagLen bounds the Bind 2 <tag/> kept in a resource.
const maxTagLen = 32

var _ stream.LoginHost = (*VHost)(nil)

// inlineIQ is whether a Bind 2 inline feature is an account IQ handler
// that its inline element is the payload of (carbons' <enable/>).
func (vh *VHost) inlineIQ(name string) (module.IQHandler, bool) {
	if name != NSCarbons {
		return nil, false
	}
	return vh.reg.IQ(module.AccountTarget, module.IQKey{Type: stanza.Set, Payload: module.Name(NSCarbons, "enable")})
}

// Bind2Features implements stream.LoginHost: stream management and
// client state indication always, carbons when a module handles it.
func (vh *VHost) Bind2Features() []string {
	fs := []string{NSCSI, NSSM}
	if _, ok := vh.inlineIQ(NSCarbons); ok {
		fs = append([]string{NSCarbons}, fs...)
	}
	return fs
}

// Bind2 implements stream.LoginHost (XEP-0386). The resource is the
// client's tag followed by a dot and an identifier derived from its
// user-agent id and the account, so that a client reconnecting gets the
// same resource (and replaces its own stale session), or a random one
// without user-agent id. Inline features are enabled in the order the
// client listed them; their outcome is returned for <bound/>.
func (vh *VHost) Bind2(ctx context.Context, c *stream.Conn, bare jid.JID, req *stanza.Element) (stream.SessionHandler, jid.JID, []*stanza.Element, error) {
	resource := bind2Resource(req.ChildText(stream.NSBind2, "tag"), bare, c.Login())
	var bound []*stanza.Element
	// Inline features take effect before the session enters the table:
	// with stream management, <enabled/> goes out in <success/>, before
	// anything the session is sent, which must all be counted.
	setup := func(s *Session) {
		for _, el := range req.Elements() {
			switch {
			case el.Name.Space == NSSM && el.Name.Local == "enable":
				bound = append(bound, s.enableSMElement(el.Get("resume") == "true" || el.Get("resume") == "1"))
			case el.Name.Space == NSCSI && el.Name.Local == "inactive":
				s.handleCSI(el)
			case el.Name.Space == NSCarbons && el.Name.Local == "enable":
				if fn, ok := vh.inlineIQ(NSCarbons); ok {
					iq := stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "from", s.jid.String()).Append(el)
					fn(ctx, module.IQRequest{Stanza: iq, Payload: el, From: s.jid, To: bare, Session: s})
				}
			}
		}
	}
	h, full, err := vh.bind(ctx, c, bare, resource, setup)
	if err != nil {
		return nil, jid.JID{}, nil, err
	}
	return h, full, bound, nil
}

// bind2Resource returns the resource for a Bind 2 request.
func bind2Resource(tag string, bare jid.JID, login *stream.Login) string {
	tag = strings.TrimSpace(tag)
	if len(tag) > maxTagLen {
		tag = tag[:maxTagLen]
	}
	if _, err := bare.WithResource(tag); err != nil || tag == "" {
		tag = "hearth"
	}
	id := stanza.NewID()[:8]
	if login != nil && login.AgentID != "" {
		m := hmac.New(sha256.New, []byte(bare.String()))
		m.Write([]byte(login.AgentID))
		id = hex.EncodeToString(m.Sum(nil)[:4])
	}
	return tag + "." + id
}

// FAST implements stream.LoginHost.
func (vh *VHost) FAST() bool { return vh.reg.Clients() != nil }

// TokenKeys implements stream.LoginHost.
func (vh *VHost) TokenKeys(ctx context.Context, bare jid.JID, agentID, mechanism string) ([][]byte, error) {
	c := vh.reg.Clients()
	if c == nil {
		return nil, nil
	}
	return c.TokenKeys(ctx, bare, agentID, mechanism)
}

// LoggedIn implements stream.LoginHost.
func (vh *VHost) LoggedIn(ctx context.Context, l *stream.Login) (*stream.Token, error) {
	c := vh.reg.Clients()
	if c == nil {
		return nil, nil
	}
	t, err := c.LoggedIn(ctx, module.Login{
		User: l.JID, Mechanism: l.Mechanism,
		AgentID: l.AgentID, Software: l.Software, Device: l.Device,
		TokenKey: l.TokenKey, Count: l.Count, HasCount: l.HasCount,
		Invalidate: l.Invalidate, RequestToken: l.RequestToken,
	})
	if err != nil || t == nil {
		return nil, err
	}
	return &stream.Token{Secret: t.Secret, Expiry: t.Expiry}, nil
}

// UpgradeCredentials implements stream.LoginHost.
func (vh *VHost) UpgradeCredentials(ctx context.Context, bare jid.JID, hash string, key sasl.SCRAMKey) error {
	acct, err := vh.r.store.Accounts().Get(ctx, vh.domain, bare.Local())
	if err != nil {
		return err
	}
	switch hash {
	case "SHA-256":
		acct.Credentials.SHA256 = key
	default:
		return errors.New("router: no upgrade to " + hash)
	}
	return vh.r.store.Accounts().SetCredentials(ctx, vh.domain, bare.Local(), acct.Credentials)
}

// ClientID implements module.ClientSession.
func (s *Session) ClientID() string { return s.client }

package fast

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// NSCAM is the XEP-0494 Client Access Management namespace.
const NSCAM = "urn:xmpp:cam:0"

// sessionPrefix starts the id of a session without user-agent id, which
// is listed by its resource.
const sessionPrefix = "resource:"

// own refuses a client management request that does not come from a
// session of the account itself.
func own(req module.IQRequest) error {
	if req.Session == nil || req.From.Bare() != req.To.Bare() {
		return stanza.NewError("forbidden")
	}
	return nil
}

// list answers <list/> (XEP-0494 §3.1): every remembered client, and
// every session of a client that sent no user-agent id.
func (k *keeper) list(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := own(req); err != nil {
		return nil, err
	}
	user := req.To.Bare()
	entries, err := k.m.All(ctx, user.String())
	if err != nil {
		return nil, err
	}
	now := k.now()
	connected := map[string]bool{}
	out := stanza.New(NSCAM, "clients")
	var anonymous []module.Session
	for _, s := range k.h.Sessions(user) {
		if cs, ok := s.(module.ClientSession); ok && cs.ClientID() != "" {
			connected[ClientID(cs.ClientID())] = true
		} else {
			anonymous = append(anonymous, s)
		}
	}
	for _, e := range entries {
		var r record
		if err := json.Unmarshal(e.Value, &r); err != nil {
			continue
		}
		fast := len(validTokens(&r, now)) > 0
		if !fast && !connected[e.Key] && now.Sub(r.Last) > time.Duration(k.cfg.ClientRetention)*time.Second {
			continue
		}
		out.Append(clientElement(e.Key, connected[e.Key], r.First, r.Last, r.Password, fast, r.Software, r.Device))
	}
	slices.SortFunc(anonymous, func(a, b module.Session) int { return strings.Compare(a.JID().Resource(), b.JID().Resource()) })
	for _, s := range anonymous {
		out.Append(clientElement(sessionPrefix+s.JID().Resource(), true, time.Time{}, now, true, false, "", ""))
	}
	return out, nil
}

func clientElement(id string, connected bool, first, last time.Time, password, fast bool, software, device string) *stanza.Element {
	typ := "access"
	if connected {
		typ = "session"
	}
	c := stanza.New(NSCAM, "client", "connected", strconv.FormatBool(connected), "id", id, "type", typ)
	if !first.IsZero() {
		c.Append(stanza.New(NSCAM, "first-seen").AppendText(stamp(first)))
	}
	c.Append(stanza.New(NSCAM, "last-seen").AppendText(stamp(last)))
	auth := stanza.New(NSCAM, "auth")
	if password {
		auth.Append(stanza.New(NSCAM, "password"))
	}
	if fast {
		auth.Append(stanza.New(NSCAM, "fast"))
	}
	c.Append(auth)
	c.Append(stanza.New(NSCAM, "permission", "status", "unrestricted"))
	ua := stanza.New(NSCAM, "user-agent")
	if software != "" {
		ua.Append(stanza.New(NSCAM, "software").AppendText(software))
	}
	if device != "" {
		ua.Append(stanza.New(NSCAM, "device").AppendText(device))
	}
	return c.Append(ua)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// revoke answers <revoke/> (XEP-0494 §3.2). A client holding FAST tokens
// loses them, is forgotten and its sessions end; a client that only ever
// used the password cannot be locked out but by a password change, which
// the error says.
func (k *keeper) revoke(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := own(req); err != nil {
		return nil, err
	}
	id := req.Payload.Get("id")
	if id == "" {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "revoke needs an id"}
	}
	user := req.To.Bare()
	owner := user.String()
	k.mu.Lock()
	r, err := k.load(ctx, owner, id)
	if err != nil {
		k.mu.Unlock()
		return nil, err
	}
	if r == nil {
		k.mu.Unlock()
		if k.hasResource(user, id) {
			return nil, passwordResetRequired()
		}
		return nil, stanza.NewError("item-not-found")
	}
	if len(validTokens(r, k.now())) == 0 {
		k.mu.Unlock()
		return nil, passwordResetRequired()
	}
	err = k.m.Delete(ctx, owner, id)
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, s := range k.h.Sessions(user) {
		if cs, ok := s.(module.ClientSession); ok && cs.ClientID() != "" && ClientID(cs.ClientID()) == id {
			s.Close(&stanza.StreamError{Condition: "not-authorized", Text: "access revoked"})
		}
	}
	return nil, nil
}

func (k *keeper) hasResource(user jid.JID, id string) bool {
	for _, s := range k.h.Sessions(user) {
		if sessionPrefix+s.JID().Resource() == id {
			return true
		}
	}
	return false
}

func passwordResetRequired() error {
	return &stanza.Error{Type: stanza.Cancel, Condition: "service-unavailable",
		App: stanza.New(NSCAM, "password-reset-required")}
}

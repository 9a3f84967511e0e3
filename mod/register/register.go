// Package register implements XEP-0077: In-Band Registration: creating an
// account before authentication (when the [registration] mode is "open",
// or "invite" with an invitation token, XEP-0445), and, for an
// authenticated account, changing its password and removing it (in every
// mode).
package register

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"hearth/jid"
	"hearth/mod/invite"
	"hearth/module"
	"hearth/sasl"
	"hearth/stanza"
)

// Namespaces of XEP-0077.
const (
	NS        = "jabber:iq:register"
	NSFeature = "http://jabber.org/features/iq-register"
)

// Registration modes.
const (
	ModeClosed = "closed"
	ModeOpen   = "open"
	ModeInvite = "invite" // registration with an invitation token only (mod/invite)
)

// Config is the [registration] section.
type Config struct {
	// Mode is "closed" (the default: accounts are created by the operator
	// and admins only), "open" (anyone may register over an encrypted
	// stream) or "invite" (registration needs an invitation token,
	// XEP-0445, sent first with <preauth/>; mod/invite must run).
	Mode string `toml:"mode"`
	// MinPasswordLength is the least number of characters (Unicode code
	// points) of a new password, at registration and password change.
	MinPasswordLength int `toml:"min_password_length"`
	// MaxPerIPPerHour bounds the accounts registered from one IP address
	// in any hour (0: no limit).
	MaxPerIPPerHour int `toml:"max_per_ip_per_hour"`
}

// Defaults of Config.
const (
	DefaultMinPasswordLength = 8
	DefaultMaxPerIPPerHour   = 5
)

// throttleWindow is the period MaxPerIPPerHour counts over.
const throttleWindow = time.Hour

// Module serves XEP-0077 on the host.
var Module = module.New("register", Config{
	Mode:              ModeClosed,
	MinPasswordLength: DefaultMinPasswordLength,
	MaxPerIPPerHour:   DefaultMaxPerIPPerHour,
}, start).WithSection("registration")

// now is the clock; tests replace it.
var now = time.Now

func (c Config) validate() error {
	switch {
	case c.Mode != ModeOpen && c.Mode != ModeClosed && c.Mode != ModeInvite:
		return fmt.Errorf("[registration] mode: %q is not %q, %q or %q", c.Mode, ModeClosed, ModeOpen, ModeInvite)
	case c.MinPasswordLength < 1:
		return fmt.Errorf("[registration] min_password_length: %d is less than 1", c.MinPasswordLength)
	case c.MaxPerIPPerHour < 0:
		return fmt.Errorf("[registration] max_per_ip_per_hour: %d is negative (0 means no limit)", c.MaxPerIPPerHour)
	}
	return nil
}

// registrar holds what the handlers share.
type registrar struct {
	h        *module.Host
	cfg      Config
	throttle *throttle
	invites  *invite.Service // mode invite only
	tokens   *streamTokens   // mode invite: tokens presented per stream
}

func start(h *module.Host, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	r := &registrar{h: h, cfg: cfg, throttle: newThrottle(cfg.MaxPerIPPerHour, throttleWindow)}
	if cfg.Mode == ModeInvite {
		if r.invites = invite.ServiceOf(h.Registry()); r.invites == nil {
			return errors.New(`[registration] mode "invite" needs the invite module, started before register`)
		}
		r.tokens = newStreamTokens(maxPendingTokens, tokenTimeout)
		r.invites.SetRegistrar(func(ctx context.Context, name, password, addr, token string) (jid.JID, error) {
			return r.create(ctx, name, password, addr, token)
		})
		h.AddPreAuthFeature(stanza.New(invite.NSFeature, "register"))
		h.HandlePreAuthIQ(stanza.Set, module.Name(invite.NSPreAuth, "preauth"), r.preAuthToken)
	}

	// Before authentication: registration, when open. The handlers are
	// registered in closed mode too, to say not-allowed rather than
	// service-unavailable.
	if cfg.Mode == ModeOpen || cfg.Mode == ModeInvite {
		h.AddPreAuthFeature(stanza.New(NSFeature, "register"))
	}
	h.HandlePreAuthIQ(stanza.Get, module.Name(NS, "query"), r.preAuthGet)
	h.HandlePreAuthIQ(stanza.Set, module.Name(NS, "query"), r.preAuthSet)

	// After authentication: password change and removal of one's own
	// account, in every mode. XEP-0077 addresses them to the server
	// (§3.3 Example 18) or to no one, which is the account itself (§3.2
	// Example 13); clients do both, so both are served. Only the server
	// advertises the namespace: it is the entity clients ask (e.g.
	// Conversations shows "change password" when it is there).
	h.AddFeature(module.ServerTarget, NS)
	for _, target := range []module.Target{module.ServerTarget, module.AccountTarget} {
		h.HandleIQ(target, stanza.Get, module.Name(NS, "query"), r.accountGet)
		h.HandleIQ(target, stanza.Set, module.Name(NS, "query"), r.accountSet)
	}
	return nil
}

// fields returns the username and password a client submitted, from the
// data form when there is one (XEP-0077 §4), else from the plain fields.
func fields(query *stanza.Element) (username, password string, err error) {
	if x := query.Child(stanza.NSData, "x"); x != nil {
		f, err := stanza.ParseForm(x)
		if err != nil {
			return "", "", &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid data form"}
		}
		return f.Value("username"), f.Value("password"), nil
	}
	return query.ChildText(NS, "username"), query.ChildText(NS, "password"), nil
}

// checkPassword applies the length policy to a new password; a password
// that fails is not-acceptable (XEP-0077 §3.1). It is cheap, unlike
// credentials.
func (r *registrar) checkPassword(password string) error {
	if utf8.RuneCountInString(password) < r.cfg.MinPasswordLength {
		return &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable",
			Text: fmt.Sprintf("the password must have at least %d characters", r.cfg.MinPasswordLength)}
	}
	return nil
}

// credentials derives the stored form of a password that passed
// checkPassword; a password the OpaqueString profile refuses (RFC 8265)
// is not-acceptable.
func (r *registrar) credentials(password string) (sasl.Credentials, error) {
	cred, err := sasl.NewCredentials(password, r.h.Settings().SCRAMIterations)
	if err != nil {
		return sasl.Credentials{}, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable",
			Text: "the password contains characters that are not allowed"}
	}
	return cred, nil
}

// username normalises a requested username as the localpart of an
// account of the host; an invalid one is not-acceptable.
func (r *registrar) username(name string) (jid.JID, error) {
	j, err := jid.New(name, r.h.Domain(), "")
	if err != nil || j.Local() == "" {
		return jid.JID{}, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "invalid username"}
	}
	return j, nil
}

// Package invite implements XEP-0401: Easy User Onboarding: invitations
// that carry a token for XEP-0445 pre-authenticated in-band registration
// and XEP-0379 pre-authenticated roster subscription (the inviter and the
// new account are added to each other's rosters). Invitations are created
// by `hearth invite`, by the ad-hoc commands of this module (users invite
// friends; admins create account invitations), and redeemed by
// mod/register in the "invite" registration mode or by the web page of
// Handler.
package invite

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces.
const (
	NSPreAuth = "urn:xmpp:pars:0"      // XEP-0379/XEP-0445 <preauth token=.../>
	NSFeature = "urn:xmpp:ibr-token:0" // XEP-0445 stream feature
	// Ad-hoc command nodes of XEP-0401.
	NodeInvite        = "urn:xmpp:invite#invite"
	NodeCreateAccount = "urn:xmpp:invite#create-account"
)

// MapName is the storage Map of invitations: owner the host, key the token.
const MapName = "invites"

// Config is the [invites] section.
type Config struct {
	// UsersCanInvite lets every user create invitations for friends
	// (admins always can).
	UsersCanInvite bool `toml:"users_can_invite"`
	// Expiry is how long an invitation made by the ad-hoc commands stays
	// valid, in seconds (default 7 days).
	Expiry int `toml:"expiry"`
	// WebBase is the address of the invitation web pages, without the
	// trailing /invite/<token>; default https://<host>:5281.
	WebBase string `toml:"web_base"`
}

// Module serves the invitation ad-hoc commands on the host and makes its
// Service available to mod/register and the web page.
var Module = module.New("invite", Config{UsersCanInvite: true, Expiry: 7 * 24 * 3600}, start).
	WithSection("invites").WithRequires("roster")

// Invite is one stored invitation.
type Invite struct {
	Token   string    `json:"-"`
	Domain  string    `json:"-"`
	Inviter string    `json:"inviter,omitempty"` // bare JID, "" for an account-only invitation
	Uses    int       `json:"uses"`              // registrations left
	Expires time.Time `json:"expires"`
	Admin   bool      `json:"admin,omitempty"` // the new account becomes an admin
}

// Options are what Create needs besides the host.
type Options struct {
	Inviter jid.JID // zero: no roster subscription
	Uses    int     // at least 1
	Expiry  time.Duration
	Admin   bool
}

// Errors of invitation checks.
var (
	ErrInvalid = errors.New("invite: no such invitation, or it expired or was used up")
)

// Create stores a new invitation for domain in m (the Map MapName).
func Create(ctx context.Context, m storage.Map, domain string, o Options) (Invite, error) {
	if o.Uses < 1 {
		return Invite{}, errors.New("invite: uses must be at least 1")
	}
	if o.Expiry <= 0 {
		return Invite{}, errors.New("invite: expiry must be positive")
	}
	b := make([]byte, 18)
	rand.Read(b)
	inv := Invite{Token: base64.RawURLEncoding.EncodeToString(b), Domain: domain, Uses: o.Uses,
		Expires: time.Now().Add(o.Expiry).UTC().Truncate(time.Second), Admin: o.Admin}
	if !o.Inviter.IsZero() {
		inv.Inviter = o.Inviter.Bare().String()
	}
	v, err := json.Marshal(inv)
	if err != nil {
		return Invite{}, err
	}
	if err := m.Set(ctx, domain, inv.Token, v); err != nil {
		return Invite{}, fmt.Errorf("invite: storing: %w", err)
	}
	return inv, nil
}

// Lookup returns the valid (unexpired, not used up) invitation token of
// domain, or ErrInvalid.
func Lookup(ctx context.Context, m storage.Map, domain, token string) (Invite, error) {
	if token == "" || len(token) > 64 {
		return Invite{}, ErrInvalid
	}
	v, err := m.Get(ctx, domain, token)
	if errors.Is(err, storage.ErrNotFound) {
		return Invite{}, ErrInvalid
	}
	if err != nil {
		return Invite{}, fmt.Errorf("invite: %w", err)
	}
	var inv Invite
	if err := json.Unmarshal(v, &inv); err != nil {
		return Invite{}, fmt.Errorf("invite: stored invitation: %w", err)
	}
	inv.Token, inv.Domain = token, domain
	if inv.Uses < 1 || time.Now().After(inv.Expires) {
		return Invite{}, ErrInvalid
	}
	return inv, nil
}

// RegisterURI is the XEP-0401 URI a client opens to register with the
// invitation: with an inviter, the inviter's roster URI with ibr=y
// (xmpp:romeo@example.org?roster;preauth=T;ibr=y), else the server's
// register URI (xmpp:example.org?register;preauth=T).
func (inv Invite) RegisterURI() string {
	if inv.Inviter != "" {
		return "xmpp:" + inv.Inviter + "?roster;preauth=" + url.QueryEscape(inv.Token) + ";ibr=y"
	}
	return "xmpp:" + inv.Domain + "?register;preauth=" + url.QueryEscape(inv.Token)
}

// RosterURI is the XEP-0379 URI for someone who already has an account:
// it subscribes to the inviter with the token. Empty without an inviter.
func (inv Invite) RosterURI() string {
	if inv.Inviter == "" {
		return ""
	}
	return "xmpp:" + inv.Inviter + "?roster;preauth=" + url.QueryEscape(inv.Token)
}

// LandingURL is the web page of the invitation under base (e.g.
// https://example.org:5281); base "" means https://<domain>:5281.
func (inv Invite) LandingURL(base string) string {
	if base == "" {
		base = "https://" + inv.Domain + ":5281"
	}
	return base + "/invite/" + url.PathEscape(inv.Token)
}

// Service is the invitation service of one host.
type Service struct {
	h   *module.Host
	cfg Config
	mu  sync.Mutex // serializes Take and Giveback (read-modify-write of a use count)

	regMu     sync.Mutex
	registrar Registrar
}

// Registrar creates an account with an invitation token as in-band
// registration does (its checks, limits and welcome); mod/register
// provides it in mode "invite". Errors a user can fix are *stanza.Error.
type Registrar func(ctx context.Context, username, password, addr, token string) (jid.JID, error)

// SetRegistrar installs the registration function used by the web page.
func (s *Service) SetRegistrar(fn Registrar) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	s.registrar = fn
}

// canRegister reports whether invitations can create accounts here
// (registration mode "invite").
func (s *Service) canRegister() bool {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	return s.registrar != nil
}

// Register creates an account with the invitation token (the web form),
// or fails when registration with invitations is off.
func (s *Service) Register(ctx context.Context, username, password, addr, token string) (jid.JID, error) {
	s.regMu.Lock()
	fn := s.registrar
	s.regMu.Unlock()
	if fn == nil {
		return jid.JID{}, &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "registration with invitations is off on this server"}
	}
	return fn(ctx, username, password, addr, token)
}

var (
	servicesMu sync.Mutex
	services   = map[*module.Registry]*Service{}
)

// ServiceOf returns the invitation service of the host of reg, or nil
// when the invite module does not run there.
func ServiceOf(reg *module.Registry) *Service {
	servicesMu.Lock()
	defer servicesMu.Unlock()
	return services[reg]
}

func start(h *module.Host, cfg Config) error {
	if cfg.Expiry <= 0 {
		return errors.New("[invites] expiry must be positive")
	}
	s := &Service{h: h, cfg: cfg}
	servicesMu.Lock()
	services[h.Registry()] = s
	servicesMu.Unlock()
	h.Go(func(ctx context.Context) {
		<-ctx.Done()
		servicesMu.Lock()
		delete(services, h.Registry())
		servicesMu.Unlock()
	})
	h.OnDeliver(s.deliver)
	if web := h.HTTP(); web != nil {
		// The page of this host's invitations, for requests naming it;
		// the first host also answers requests naming no host it knows
		// (an address, a proxy's name), which later hosts cannot claim.
		own := Handler(func(domain string) *Service { return s })
		if err := web.Handle(h.Domain()+"/invite/", own); err != nil {
			return fmt.Errorf("[invites]: %w", err)
		}
		_ = web.Handle("/invite/", own)
	}
	h.AddCommand(module.Command{
		Node: NodeInvite, Name: "Invite a friend",
		Allowed: func(from jid.JID) bool {
			return from.Domain() == h.Domain() && from.Local() != "" && (cfg.UsersCanInvite || h.IsAdmin(context.Background(), from))
		},
		Run: func(ctx context.Context, from jid.JID, _ *stanza.Form) (module.CommandResult, error) {
			return s.commandResult(ctx, Options{Inviter: from.Bare(), Uses: 1, Expiry: s.expiry()})
		},
		// Without registration by invitation the link still lets someone
		// who has an account elsewhere add the inviter (XEP-0379).
	})
	h.AddCommand(module.Command{
		Node: NodeCreateAccount, Name: "Create an account invitation",
		Allowed: func(from jid.JID) bool { return s.canRegister() && h.IsAdmin(context.Background(), from) },
		Run: func(ctx context.Context, _ jid.JID, _ *stanza.Form) (module.CommandResult, error) {
			return s.commandResult(ctx, Options{Uses: 1, Expiry: s.expiry()})
		},
	})
	return nil
}

func (s *Service) expiry() time.Duration { return time.Duration(s.cfg.Expiry) * time.Second }

// Domain returns the host of the service.
func (s *Service) Domain() string { return s.h.Domain() }

// commandResult creates an invitation and returns it as the XEP-0401
// result form: uri, landing-url, expire.
func (s *Service) commandResult(ctx context.Context, o Options) (module.CommandResult, error) {
	inv, err := Create(ctx, s.h.Map(MapName), s.h.Domain(), o)
	if err != nil {
		return module.CommandResult{}, err
	}
	uri := inv.RegisterURI()
	if !s.canRegister() {
		uri = inv.RosterURI() // no account creation here: a contact link only
	}
	form := &stanza.Form{Type: stanza.FormResult, Title: "Invitation", Fields: []stanza.Field{
		{Var: "uri", Type: stanza.FieldTextSingle, Label: "Invitation URI", Values: []string{uri}},
		{Var: "landing-url", Type: stanza.FieldTextSingle, Label: "Invitation web page", Values: []string{inv.LandingURL(s.cfg.WebBase)}},
		{Var: "expire", Type: stanza.FieldTextSingle, Label: "Valid until", Values: []string{inv.Expires.Format(time.RFC3339)}},
	}}
	return module.CommandResult{Done: true, Form: form, Note: "Send the link to the person you invite."}, nil
}

// Lookup returns the valid invitation token of the host, or ErrInvalid.
func (s *Service) Lookup(ctx context.Context, token string) (Invite, error) {
	return Lookup(ctx, s.h.Map(MapName), s.h.Domain(), token)
}

// Take uses up one registration of the invitation token, or returns
// ErrInvalid. A registration that then fails gives it back (Giveback).
func (s *Service) Take(ctx context.Context, token string) (Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.Lookup(ctx, token)
	if err != nil {
		return Invite{}, err
	}
	return inv, s.store(ctx, inv, inv.Uses-1)
}

// Giveback returns the registration Take used up.
func (s *Service) Giveback(ctx context.Context, inv Invite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Lookup(ctx, inv.Token)
	uses := 1
	if err == nil {
		uses = cur.Uses + 1
	}
	return s.store(ctx, inv, uses)
}

func (s *Service) store(ctx context.Context, inv Invite, uses int) error {
	m := s.h.Map(MapName)
	if uses < 1 {
		return m.Delete(ctx, inv.Domain, inv.Token)
	}
	inv.Uses = uses
	v, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	return m.Set(ctx, inv.Domain, inv.Token, v)
}

// Welcome finishes the registration of user with inv: the inviter and
// user get each other in their rosters with a mutual subscription, and an
// admin invitation makes user an admin. Failures are logged: the account
// exists either way.
func (s *Service) Welcome(ctx context.Context, inv Invite, user jid.JID) {
	if inv.Admin {
		if err := s.h.Map(module.AdminsMap).Set(ctx, user.Domain(), user.Local(), []byte("invite")); err != nil {
			s.h.Logger().Error("making an invited admin failed", "user", user.String(), "err", err)
		}
	}
	if inv.Inviter == "" {
		return
	}
	inviter, err := jid.Parse(inv.Inviter)
	if err != nil {
		return
	}
	both := func(it *roster.Item) bool {
		it.Subscription, it.Ask, it.PendingIn, it.Hidden = roster.Both, false, nil, false
		return true
	}
	for _, pair := range [][2]jid.JID{{inviter, user}, {user, inviter}} {
		if _, err := roster.Update(ctx, s.h, pair[0], pair[1], both); err != nil {
			s.h.Logger().Warn("adding an invited contact to a roster failed", "owner", pair[0].String(), "err", err)
		}
	}
}

package register

import (
	"context"
	"errors"
	"fmt"

	"hearth/jid"
	"hearth/mod/invite"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Errors of registration before authentication.
var (
	errClosed = &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed",
		Text: "in-band registration is closed on this server"}
	errInsecure = &stanza.Error{Type: stanza.Modify, Condition: "policy-violation",
		Text: "registration requires an encrypted stream"}
	errNeedInvite = &stanza.Error{Type: stanza.Auth, Condition: "not-authorized",
		Text: "registration needs an invitation: send its token first (XEP-0445)"}
	errThrottled = &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint",
		Text: "too many registrations from your address; try again later"}
)

// preAuthAllowed says whether a client may register at all: the mode is
// open and the stream encrypted (a password must not cross in clear).
func (r *registrar) preAuthAllowed(req module.PreAuthRequest) error {
	if r.cfg.Mode == ModeInvite {
		if !req.Secure {
			return errInsecure
		}
		if r.tokens.get(req.StreamID, now()) == "" {
			return errNeedInvite
		}
		return nil
	}
	if r.cfg.Mode != ModeOpen {
		return errClosed
	}
	if !req.Secure {
		return errInsecure
	}
	return nil
}

// preAuthGet returns the registration form (XEP-0077 §3.1 Example 2 and
// §4 Example 5): the plain fields and the same as a data form.
func (r *registrar) preAuthGet(_ context.Context, req module.PreAuthRequest) (*stanza.Element, error) {
	if err := r.preAuthAllowed(req); err != nil {
		return nil, err
	}
	instructions := fmt.Sprintf("Choose a username and a password of at least %d characters.", r.cfg.MinPasswordLength)
	form := &stanza.Form{
		Type:         stanza.FormForm,
		Title:        "Account registration on " + r.h.Domain(),
		Instructions: instructions,
		Fields: []stanza.Field{
			{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NS}},
			{Var: "username", Type: stanza.FieldTextSingle, Label: "Username", Required: true},
			{Var: "password", Type: stanza.FieldTextPrivate, Label: "Password", Required: true},
		},
	}
	return stanza.New(NS, "query").Append(
		stanza.New(NS, "instructions").AppendText(instructions),
		stanza.New(NS, "username"),
		stanza.New(NS, "password"),
		form.Element(),
	), nil
}

// preAuthSet creates an account (XEP-0077 §3.1): conflict when the
// username is taken, not-acceptable for an invalid username or a weak
// password, resource-constraint past the per-address limit.
func (r *registrar) preAuthSet(ctx context.Context, req module.PreAuthRequest) (*stanza.Element, error) {
	if err := r.preAuthAllowed(req); err != nil {
		return nil, err
	}
	if req.Payload.Child(NS, "remove") != nil {
		return nil, &stanza.Error{Type: stanza.Auth, Condition: "not-authorized", Text: "log in to remove your account"}
	}
	name, password, err := fields(req.Payload)
	if err != nil {
		return nil, err
	}
	token := ""
	if r.cfg.Mode == ModeInvite {
		token = r.tokens.get(req.StreamID, now())
	}
	if _, err := r.create(ctx, name, password, req.RemoteAddr, token); err != nil {
		return nil, err
	}
	if token != "" {
		r.tokens.forget(req.StreamID)
	}
	return nil, nil
}

// create registers the account name with password for a client at addr,
// with the invitation token in mode invite ("" otherwise): the checks,
// the per-address limit, the invitation's use and welcome (mutual roster
// subscription with the inviter). Errors are *stanza.Error values for
// what the client can fix.
func (r *registrar) create(ctx context.Context, name, password, addr, token string) (jid.JID, error) {
	user, err := r.username(name)
	if err != nil {
		return jid.JID{}, err
	}
	if err := r.checkPassword(password); err != nil {
		return jid.JID{}, err
	}
	accounts := r.h.Store().Accounts()
	errConflict := &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: "the username is taken"}
	// Every cheap check comes before the costly key derivation.
	if _, err := accounts.Get(ctx, user.Domain(), user.Local()); err == nil {
		return jid.JID{}, errConflict
	} else if !errors.Is(err, storage.ErrNotFound) {
		return jid.JID{}, fmt.Errorf("register: looking up %s: %w", user, err)
	}
	// Reserve before deriving, so that concurrent registrations from one
	// address cannot overshoot the limit; a failure gives its reservation
	// back, so only accounts created use the quota.
	release, ok := r.throttle.reserve(addr, now())
	if !ok {
		r.h.Logger().Warn("registration refused: address over its limit", "addr", addr)
		return jid.JID{}, errThrottled
	}
	cred, err := r.credentials(password)
	if err != nil {
		release()
		return jid.JID{}, err
	}
	// With an invitation, a use is taken before the account exists, so
	// that concurrent registrations cannot overuse it, and given back if
	// creating the account fails.
	var inv invite.Invite
	if r.cfg.Mode == ModeInvite {
		if inv, err = r.invites.Take(ctx, token); err != nil {
			release()
			if errors.Is(err, invite.ErrInvalid) {
				return jid.JID{}, errNeedInvite
			}
			return jid.JID{}, fmt.Errorf("register: %w", err)
		}
	}
	err = accounts.Create(ctx, user.Domain(), user.Local(), cred)
	if err != nil {
		release()
		if r.cfg.Mode == ModeInvite {
			if gerr := r.invites.Giveback(ctx, inv); gerr != nil {
				r.h.Logger().Warn("giving back an invitation use failed", "err", gerr)
			}
		}
		if errors.Is(err, storage.ErrExists) { // registered meanwhile
			return jid.JID{}, errConflict
		}
		return jid.JID{}, fmt.Errorf("register: creating %s: %w", user, err)
	}
	if r.cfg.Mode == ModeInvite {
		r.invites.Welcome(ctx, inv, user)
	}
	r.h.Logger().Info("account registered", "user", user.String(), "addr", addr)
	return user, nil
}

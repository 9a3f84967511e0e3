package register

import (
	"context"
	"errors"
	"fmt"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// errNotYours answers a request about an account other than the sender's.
var errNotYours = &stanza.Error{Type: stanza.Auth, Condition: "not-authorized",
	Text: "only an account itself may change or remove it"}

// account returns the account a request after authentication is about:
// the sender's own, addressed either to the server or to its bare JID.
// Anything else is not-authorized: nobody manages another account here.
func (r *registrar) account(req module.IQRequest) (jid.JID, error) {
	self := req.From.Bare()
	if self.Local() == "" || self.Domain() != r.h.Domain() {
		return jid.JID{}, errNotYours
	}
	if req.To.Local() != "" && req.To != self {
		return jid.JID{}, errNotYours
	}
	return self, nil
}

// accountGet tells an account that it is registered (XEP-0077 §3.1
// Example 3), without its password, which is not stored.
func (r *registrar) accountGet(_ context.Context, req module.IQRequest) (*stanza.Element, error) {
	self, err := r.account(req)
	if err != nil {
		return nil, err
	}
	return stanza.New(NS, "query").Append(
		stanza.New(NS, "registered"),
		stanza.New(NS, "username").AppendText(self.Local()),
	), nil
}

// accountSet changes the account's password (XEP-0077 §3.3) or, with
// <remove/>, deletes the account (§3.2).
func (r *registrar) accountSet(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	self, err := r.account(req)
	if err != nil {
		return nil, err
	}
	if req.Payload.Child(NS, "remove") != nil {
		return r.remove(ctx, req, self)
	}
	return r.changePassword(ctx, req, self)
}

// changePassword replaces the credentials of self. The username, when
// given, must be self's own.
func (r *registrar) changePassword(ctx context.Context, req module.IQRequest, self jid.JID) (*stanza.Element, error) {
	name, password, err := fields(req.Payload)
	if err != nil {
		return nil, err
	}
	if name != "" {
		if u, err := jid.New(name, r.h.Domain(), ""); err != nil || u != self {
			return nil, errNotYours
		}
	}
	if err := r.checkPassword(password); err != nil {
		return nil, err
	}
	cred, err := r.credentials(password)
	if err != nil {
		return nil, err
	}
	if err := r.h.Store().Accounts().SetCredentials(ctx, self.Domain(), self.Local(), cred); err != nil {
		return nil, fmt.Errorf("register: changing the password of %s: %w", self, err)
	}
	r.h.Logger().Info("password changed", "user", self.String())
	r.h.Registry().RunPasswordChanged(ctx, self, req.Session)
	return nil, nil
}

// remove deletes the account self and everything stored for it, then
// closes its sessions with a not-authorized stream error (XEP-0077 §3.2).
// The user-deleted hooks run after the account is gone (nobody can log in
// any more) and before its data is removed (they may need it, e.g. the
// roster to tell contacts).
func (r *registrar) remove(ctx context.Context, req module.IQRequest, self jid.JID) (*stanza.Element, error) {
	err := r.h.Store().Accounts().Delete(ctx, self.Domain(), self.Local())
	if errors.Is(err, storage.ErrNotFound) {
		// Removed meanwhile (by another session or the operator).
		return nil, stanza.NewError("item-not-found")
	}
	if err != nil {
		return nil, fmt.Errorf("register: removing %s: %w", self, err)
	}
	r.h.Registry().RunUserDeleted(ctx, self)
	if err := r.h.Store().DeleteOwner(ctx, self.String()); err != nil {
		// The account is gone, which is what the user asked for: report
		// success and leave the stray data to the operator.
		r.h.Logger().Error("removing the data of a removed account failed", "user", self.String(), "err", err)
	}
	r.h.Logger().Info("account removed by its user", "user", self.String())

	closing := &stanza.StreamError{Condition: "not-authorized", Text: "account removed"}
	for _, s := range r.h.Sessions(self) {
		if s != req.Session {
			s.Close(closing)
		}
	}
	if req.Session != nil {
		// FIXME(router): the requesting session must get the result
		// before its stream closes, but the router sends the reply only
		// after this handler returns. So the result is sent here, ahead of
		// the close; the router's copy then finds the stream closing and
		// is dropped (a closed stream sends nothing more). A router
		// contract such as "close after reply" would remove this.
		req.Session.Send(r.resultReply(req))
		req.Session.Close(closing)
	}
	return nil, nil
}

// resultReply is the empty result the router would send for req: from the
// addressee, or from nobody when the client addressed no one (RFC 6120
// §8.1.2.1), to the sender.
func (r *registrar) resultReply(req module.IQRequest) *stanza.Element {
	reply := stanza.ResultReply(req.Stanza, nil)
	if req.Stanza.Get("to") == "" {
		reply.Set("from", "")
	} else {
		reply.Set("from", req.To.String())
	}
	return reply.Set("to", req.From.String())
}

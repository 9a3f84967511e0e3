package module

import (
	"context"

	"hearth/jid"
	"hearth/stanza"
)

// A StanzaHook sees a stanza on its way through the router and decides
// what happens next: it returns the stanza to pass on (st itself or a
// modified copy — never modify st in place, other hooks and sessions may
// share it), or nil and a nil error to stop it silently, or nil and an
// error to stop it and bounce it to its sender (a *stanza.Error is sent as
// is; any other error as internal-server-error).
type StanzaHook func(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error)

// DeliveredHandler is told which sessions a message was delivered to (by
// the rules of RFC 6121 §8.5), after delivery. to is the account's bare
// JID. It must not block.
type DeliveredHandler func(ctx context.Context, msg *stanza.Element, to jid.JID, sessions []Session)

type requeuedKey struct{}

// WithRequeued returns ctx marked for the undelivered hooks: the message
// they are offered was given to a session earlier (delivered, archived)
// and comes back because that session ended without acknowledging it
// (XEP-0198). Hooks must not treat it as a new message. waited says that
// it was queued while the session hibernated, when the delivered hooks
// saw it go to a hibernating session (push notified the user then).
func WithRequeued(ctx context.Context, waited bool) context.Context {
	return context.WithValue(ctx, requeuedKey{}, waited)
}

// Requeued reports whether ctx was marked by WithRequeued, and with
// which waited.
func Requeued(ctx context.Context) (requeued, waited bool) {
	waited, requeued = ctx.Value(requeuedKey{}).(bool)
	return requeued, waited
}

// OnInbound runs fn on every stanza a local session sends, after its
// 'from' is stamped and before it is routed (presence included). to is the
// stanza's addressee (the sender's bare JID when it had no 'to').
func (h *Host) OnInbound(fn StanzaHook) { h.addHook(hookInbound, fn) }

// OnDeliver runs fn on every stanza addressed to an existing local account
// (message, presence, and IQ requests to the account or one of its
// sessions), whoever sent it — a local session, the server itself (presence
// broadcasts, roster pushes excepted: they go straight to sessions) or
// another server — before a session is chosen. to is the addressee (bare
// or full JID). Hooks filter on the stanza's name themselves.
func (h *Host) OnDeliver(fn StanzaHook) { h.addHook(hookDeliver, fn) }

// OnDelivered tells fn where a message to a local account was delivered.
func (h *Host) OnDelivered(fn DeliveredHandler) { h.addHook(hookDelivered, fn) }

// OnSessionAvailable runs fn when a session sends its initial presence
// (RFC 6121 §4.2); the presence module calls RunSessionAvailable.
func (h *Host) OnSessionAvailable(fn func(ctx context.Context, s Session)) {
	h.addHook(hookSessionAvailable, fn)
}

// RunInbound runs the inbound hooks in order; see StanzaHook for the result.
func (r *Registry) RunInbound(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	return r.runStanzaHooks(ctx, hookInbound, st, from, to)
}

// RunDeliver runs the deliver hooks in order; see StanzaHook for the result.
func (r *Registry) RunDeliver(ctx context.Context, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	return r.runStanzaHooks(ctx, hookDeliver, st, from, to)
}

func (r *Registry) runStanzaHooks(ctx context.Context, name hookName, st *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	for _, h := range r.hooks[name] {
		next, err := h.fn.(StanzaHook)(ctx, st, from, to)
		if next == nil || err != nil {
			return nil, err
		}
		st = next
	}
	return st, nil
}

// RunDelivered runs the delivered hooks in order.
func (r *Registry) RunDelivered(ctx context.Context, msg *stanza.Element, to jid.JID, sessions []Session) {
	for _, h := range r.hooks[hookDelivered] {
		h.fn.(DeliveredHandler)(ctx, msg, to, sessions)
	}
}

// RunSessionAvailable runs the session-available hooks in order.
func (r *Registry) RunSessionAvailable(ctx context.Context, s Session) {
	for _, h := range r.hooks[hookSessionAvailable] {
		h.fn.(func(context.Context, Session))(ctx, s)
	}
}

// OnPasswordChanged runs fn after the password of the local account user
// was changed by its session by (nil when changed otherwise).
func (h *Host) OnPasswordChanged(fn func(ctx context.Context, user jid.JID, by Session)) {
	h.addHook(hookPasswordChanged, fn)
}

// RunPasswordChanged runs the password-changed hooks in order.
func (r *Registry) RunPasswordChanged(ctx context.Context, user jid.JID, by Session) {
	for _, h := range r.hooks[hookPasswordChanged] {
		h.fn.(func(context.Context, jid.JID, Session))(ctx, user, by)
	}
}

package module

import (
	"context"
	"fmt"
	"slices"

	"hearth/jid"
	"hearth/stanza"
)

// Command is an ad-hoc command (XEP-0050) of the server, offered by a
// module and executed by mod/adhoc.
type Command struct {
	Node string // unique on the host, e.g. "http://jabber.org/protocol/admin#add-user"
	Name string // human-readable, listed in disco#items
	// Allowed reports whether from (a full JID, authenticated) may see and
	// execute the command.
	Allowed func(from jid.JID) bool
	// Run executes one stage. On the first stage form is nil: Run returns
	// the form to fill in (Done false) or, for a command without input, the
	// outcome. On the next stage form is the submitted form; Run returns
	// the outcome (Done true), or another form to fill in. An error is
	// returned to the requester as an IQ error (a *stanza.Error keeps its
	// condition; others become internal-server-error).
	Run    func(ctx context.Context, from jid.JID, form *stanza.Form) (CommandResult, error)
	module string
}

// CommandResult is what one stage of a command returns.
type CommandResult struct {
	Done bool
	Form *stanza.Form // a form to fill (not Done), or a result form (Done), or nil
	Note string       // an informational note for the user, or ""
}

// AddCommand offers an ad-hoc command on the host.
func (h *Host) AddCommand(c Command) {
	h.reg.lock()
	defer h.reg.mu.Unlock()
	if c.Node == "" || c.Run == nil || c.Allowed == nil {
		h.errs = append(h.errs, fmt.Errorf("command %q: node, Allowed and Run are required", c.Node))
		return
	}
	for _, o := range h.reg.commands {
		if o.Node == c.Node {
			h.errs = append(h.errs, fmt.Errorf("command %s already offered by %s", c.Node, o.module))
			return
		}
	}
	c.module = h.module
	h.reg.commands = append(h.reg.commands, c)
}

// Commands returns the ad-hoc commands offered on the host, in the order
// they were added.
func (r *Registry) Commands() []Command { return r.commands }

// Command returns the command with node, if any.
func (r *Registry) Command(node string) (Command, bool) {
	i := slices.IndexFunc(r.commands, func(c Command) bool { return c.Node == node })
	if i < 0 {
		return Command{}, false
	}
	return r.commands[i], true
}

// IsAdmin reports whether the bare JID of j is one of the configured
// server administrators (the top-level "admins" key).
func (s Settings) IsAdmin(j jid.JID) bool {
	return slices.Contains(s.Admins, j.Bare())
}

// AdminsMap is the storage Map of administrators made at run time (by an
// admin invitation): owner the host, key the localpart.
const AdminsMap = "admins"

// IsAdmin reports whether j's account is an administrator of the host:
// named by the "admins" key, or made one by an admin invitation.
func (h *Host) IsAdmin(ctx context.Context, j jid.JID) bool {
	if j.Domain() != h.reg.domain || j.Local() == "" {
		return false
	}
	if h.reg.settings.IsAdmin(j) {
		return true
	}
	_, err := h.store.Map(AdminsMap).Get(ctx, h.reg.domain, j.Local())
	return err == nil
}

// OnlineLister is implemented by routers that can list the accounts with
// a bound session on a host (hearth/router does).
type OnlineLister interface {
	OnlineAccounts(domain string) []jid.JID
}

// OnlineAccounts returns the bare JIDs of the host's accounts that have at
// least one bound session, sorted, or nil when the router cannot tell.
func (h *Host) OnlineAccounts() []jid.JID {
	if ol, ok := h.router.(OnlineLister); ok {
		return ol.OnlineAccounts(h.reg.domain)
	}
	return nil
}

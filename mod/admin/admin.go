// Package admin implements XEP-0133: Service Administration, as ad-hoc
// commands (XEP-0050, executed by mod/adhoc) for the administrators named
// by the top-level "admins" key: add a user, delete users, change a
// password, end users' sessions, list online users, announce a message to
// every online user.
package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"hearth/jid"
	"hearth/module"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/storage"
)

// NS is the XEP-0133 namespace: the FORM_TYPE of its forms and the
// prefix of its command nodes.
const NS = "http://jabber.org/protocol/admin"

// Command nodes.
const (
	NodeAddUser        = NS + "#add-user"
	NodeDeleteUser     = NS + "#delete-user"
	NodeChangePassword = NS + "#change-user-password"
	NodeEndSession     = NS + "#end-user-session"
	NodeOnlineUsers    = NS + "#get-online-users-list"
	NodeAnnounce       = NS + "#announce"
)

// Module offers the XEP-0133 commands on the host.
var Module = module.New("admin", struct{}{}, start)

type admin struct{ h *module.Host }

func start(h *module.Host, _ struct{}) error {
	a := &admin{h: h}
	allowed := func(from jid.JID) bool {
		return h.IsAdmin(context.Background(), from)
	}
	for _, c := range []struct {
		node, name string
		form       func() *stanza.Form
		run        func(context.Context, jid.JID, *stanza.Form) (string, *stanza.Form, error)
	}{
		{NodeAddUser, "Add a user", addUserForm, a.addUser},
		{NodeDeleteUser, "Delete users", jidsForm("Delete users", "accountjids", "The accounts to delete, with all their data"), a.deleteUsers},
		{NodeChangePassword, "Change a user's password", changePasswordForm, a.changePassword},
		{NodeEndSession, "End users' sessions", jidsForm("End user sessions", "accountjids", "Accounts (bare: every session) or full JIDs"), a.endSessions},
		{NodeOnlineUsers, "List online users", onlineForm, a.onlineUsers},
		{NodeAnnounce, "Announce to all online users", announceForm, a.announce},
	} {
		h.AddCommand(module.Command{
			Node: c.node, Name: c.name, Allowed: allowed,
			Run: func(ctx context.Context, from jid.JID, f *stanza.Form) (module.CommandResult, error) {
				if f == nil {
					return module.CommandResult{Form: c.form()}, nil
				}
				if f.FormType() != NS {
					return module.CommandResult{}, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "FORM_TYPE must be " + NS}
				}
				note, result, err := c.run(ctx, from, f)
				if err != nil {
					return module.CommandResult{}, err
				}
				return module.CommandResult{Done: true, Note: note, Form: result}, nil
			},
		})
	}
	return nil
}

func form(title string, fields ...stanza.Field) *stanza.Form {
	return &stanza.Form{Type: stanza.FormForm, Title: title,
		Fields: append([]stanza.Field{{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NS}}}, fields...)}
}

func addUserForm() *stanza.Form {
	return form("Add a user",
		stanza.Field{Var: "accountjid", Type: stanza.FieldJIDSingle, Label: "The Jabber ID for the account to be added", Required: true},
		stanza.Field{Var: "password", Type: stanza.FieldTextPrivate, Label: "The password for this account", Required: true},
		stanza.Field{Var: "password-verify", Type: stanza.FieldTextPrivate, Label: "Retype password", Required: true})
}

func changePasswordForm() *stanza.Form {
	return form("Change a user's password",
		stanza.Field{Var: "accountjid", Type: stanza.FieldJIDSingle, Label: "The Jabber ID for this account", Required: true},
		stanza.Field{Var: "password", Type: stanza.FieldTextPrivate, Label: "The new password for this account", Required: true})
}

func jidsForm(title, v, label string) func() *stanza.Form {
	return func() *stanza.Form {
		return form(title, stanza.Field{Var: v, Type: stanza.FieldJIDMulti, Label: label, Required: true})
	}
}

func onlineForm() *stanza.Form {
	return form("List online users", stanza.Field{Var: "max_items", Type: stanza.FieldListSingle, Label: "Maximum number of items to show",
		Values: []string{"100"}, Options: []stanza.Option{{Value: "25"}, {Value: "50"}, {Value: "75"}, {Value: "100"}, {Value: "150"}, {Value: "200"}, {Label: "None", Value: "none"}}})
}

func announceForm() *stanza.Form {
	return form("Announce to all online users",
		stanza.Field{Var: "subject", Type: stanza.FieldTextSingle, Label: "Subject"},
		stanza.Field{Var: "announcement", Type: stanza.FieldTextMulti, Label: "Announcement", Required: true})
}

// values returns every value of field v.
func values(f *stanza.Form, v string) []string {
	for _, fd := range f.Fields {
		if fd.Var == v {
			return fd.Values
		}
	}
	return nil
}

func badRequest(text string) error {
	return &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: text}
}

// localAccount parses s as the bare JID of an account of the host.
func (a *admin) localAccount(s string) (jid.JID, error) {
	j, err := jid.Parse(strings.TrimSpace(s))
	if err != nil || j.Local() == "" || j.Resource() != "" {
		return jid.JID{}, badRequest(fmt.Sprintf("%q is not a bare JID", s))
	}
	if j.Domain() != a.h.Domain() {
		return jid.JID{}, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: j.String() + " is not an account of " + a.h.Domain()}
	}
	return j, nil
}

func (a *admin) credentials(password string) (sasl.Credentials, error) {
	if password == "" {
		return sasl.Credentials{}, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "the password is empty"}
	}
	cred, err := sasl.NewCredentials(password, a.h.Settings().SCRAMIterations)
	if err != nil {
		return sasl.Credentials{}, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "the password contains characters that are not allowed"}
	}
	return cred, nil
}

func (a *admin) addUser(ctx context.Context, from jid.JID, f *stanza.Form) (string, *stanza.Form, error) {
	user, err := a.localAccount(f.Value("accountjid"))
	if err != nil {
		return "", nil, err
	}
	if f.Value("password") != f.Value("password-verify") {
		return "", nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "the passwords do not match"}
	}
	cred, err := a.credentials(f.Value("password"))
	if err != nil {
		return "", nil, err
	}
	err = a.h.Store().Accounts().Create(ctx, user.Domain(), user.Local(), cred)
	if errors.Is(err, storage.ErrExists) {
		return "", nil, &stanza.Error{Type: stanza.Cancel, Condition: "conflict", Text: user.String() + " exists"}
	}
	if err != nil {
		return "", nil, fmt.Errorf("admin: creating %s: %w", user, err)
	}
	a.h.Logger().Info("account created by an admin", "user", user.String(), "admin", from.Bare().String())
	return "Account " + user.String() + " created.", nil, nil
}

func (a *admin) changePassword(ctx context.Context, from jid.JID, f *stanza.Form) (string, *stanza.Form, error) {
	user, err := a.localAccount(f.Value("accountjid"))
	if err != nil {
		return "", nil, err
	}
	cred, err := a.credentials(f.Value("password"))
	if err != nil {
		return "", nil, err
	}
	err = a.h.Store().Accounts().SetCredentials(ctx, user.Domain(), user.Local(), cred)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no account " + user.String()}
	}
	if err != nil {
		return "", nil, fmt.Errorf("admin: changing the password of %s: %w", user, err)
	}
	// The other clients' tokens are revoked and their sessions end, as
	// when the user changes it.
	a.h.Registry().RunPasswordChanged(ctx, user, nil)
	a.h.Logger().Info("password changed by an admin", "user", user.String(), "admin", from.Bare().String())
	return "Password of " + user.String() + " changed.", nil, nil
}

func (a *admin) deleteUsers(ctx context.Context, from jid.JID, f *stanza.Form) (string, *stanza.Form, error) {
	list := values(f, "accountjids")
	if len(list) == 0 {
		return "", nil, badRequest("no account given")
	}
	var users []jid.JID
	for _, s := range list {
		u, err := a.localAccount(s)
		if err != nil {
			return "", nil, err
		}
		users = append(users, u)
	}
	var deleted, missing []string
	for _, u := range users {
		err := a.h.Store().Accounts().Delete(ctx, u.Domain(), u.Local())
		if errors.Is(err, storage.ErrNotFound) {
			missing = append(missing, u.String())
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("admin: deleting %s: %w", u, err)
		}
		a.h.Registry().RunUserDeleted(ctx, u)
		if err := a.h.Store().DeleteOwner(ctx, u.String()); err != nil {
			a.h.Logger().Error("removing the data of a deleted account failed", "user", u.String(), "err", err)
		}
		for _, s := range a.h.Sessions(u) {
			s.Close(&stanza.StreamError{Condition: "not-authorized", Text: "account deleted"})
		}
		a.h.Logger().Info("account deleted by an admin", "user", u.String(), "admin", from.Bare().String())
		deleted = append(deleted, u.String())
	}
	note := "Deleted: " + strings.Join(deleted, ", ") + "."
	if len(deleted) == 0 {
		note = "Nothing deleted."
	}
	if len(missing) > 0 {
		note += " No such account: " + strings.Join(missing, ", ") + "."
	}
	return note, nil, nil
}

func (a *admin) endSessions(_ context.Context, from jid.JID, f *stanza.Form) (string, *stanza.Form, error) {
	list := values(f, "accountjids")
	if len(list) == 0 {
		return "", nil, badRequest("no account given")
	}
	n := 0
	for _, s := range list {
		j, err := jid.Parse(strings.TrimSpace(s))
		if err != nil || j.Local() == "" || j.Domain() != a.h.Domain() {
			return "", nil, badRequest(fmt.Sprintf("%q is not a JID of an account of %s", s, a.h.Domain()))
		}
		var sessions []module.Session
		if j.Resource() == "" {
			sessions = a.h.Sessions(j)
		} else if s := a.h.Session(j); s != nil {
			sessions = []module.Session{s}
		}
		for _, s := range sessions {
			s.Close(&stanza.StreamError{Condition: "policy-violation", Text: "session ended by an administrator"})
			n++
		}
	}
	a.h.Logger().Info("sessions ended by an admin", "count", n, "admin", from.Bare().String())
	return fmt.Sprintf("%d session(s) ended.", n), nil, nil
}

func (a *admin) onlineUsers(_ context.Context, _ jid.JID, f *stanza.Form) (string, *stanza.Form, error) {
	online := a.h.OnlineAccounts()
	limit := len(online)
	if v := f.Value("max_items"); v != "" && v != "none" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return "", nil, badRequest("max_items: not a number")
		}
		limit = min(limit, n)
	}
	vals := make([]string, 0, limit)
	for _, j := range online[:limit] {
		vals = append(vals, j.String())
	}
	res := &stanza.Form{Type: stanza.FormResult, Fields: []stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NS}},
		{Var: "onlineuserjids", Type: stanza.FieldJIDMulti, Label: "The list of all online users", Values: vals},
	}}
	return "", res, nil
}

func (a *admin) announce(ctx context.Context, from jid.JID, f *stanza.Form) (string, *stanza.Form, error) {
	text := strings.Join(values(f, "announcement"), "\n")
	if strings.TrimSpace(text) == "" {
		return "", nil, badRequest("the announcement is empty")
	}
	n := 0
	for _, u := range a.h.OnlineAccounts() {
		for _, s := range a.h.Sessions(u) {
			msg := stanza.New(stanza.NSClient, "message", "type", "headline", "from", a.h.Domain(), "to", s.JID().String())
			if subj := f.Value("subject"); subj != "" {
				msg.Append(stanza.New(stanza.NSClient, "subject").AppendText(subj))
			}
			msg.Append(stanza.New(stanza.NSClient, "body").AppendText(text))
			s.Send(msg)
			n++
		}
	}
	a.h.Logger().Info("announcement sent", "sessions", n, "admin", from.Bare().String())
	return fmt.Sprintf("Announcement sent to %d session(s).", n), nil, nil
}

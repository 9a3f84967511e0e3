package muc

import (
	"slices"
	"strconv"

	"hearth/jid"
	"hearth/stanza"
)

// Values of muc#roomconfig_whois and muc#roomconfig_allowpm.
const (
	whoisModerators = "moderators"
	whoisAnyone     = "anyone"

	pmAnyone       = "anyone"
	pmParticipants = "participants"
	pmModerators   = "moderators"
	pmNone         = "none"
)

// roomConfig is a room's configuration: the muc#roomconfig fields of
// XEP-0045 §15.5.3.
type roomConfig struct {
	Name              string   `json:"name,omitempty"`
	Description       string   `json:"desc,omitempty"`
	Lang              string   `json:"lang,omitempty"`
	Persistent        bool     `json:"persistent"`
	Public            bool     `json:"public"`
	MembersOnly       bool     `json:"members_only"`
	Moderated         bool     `json:"moderated"`
	PasswordProtected bool     `json:"password_protected"`
	Password          string   `json:"password,omitempty"`
	MaxUsers          int      `json:"max_users"`
	WhoIs             string   `json:"whois"`
	ChangeSubject     bool     `json:"change_subject"`
	AllowInvites      bool     `json:"allow_invites"`
	AllowPM           string   `json:"allow_pm"`
	PresenceBroadcast []string `json:"presence_broadcast"`
	GetMemberList     []string `json:"get_member_list"`
	EnableLogging     bool     `json:"enable_logging"`
	PubSub            string   `json:"pubsub,omitempty"`
	MaxHistoryFetch   int      `json:"max_history_fetch"`
}

// defaultConfig is the configuration of a new room.
func (s *service) defaultConfig() roomConfig {
	return roomConfig{
		Persistent:        s.cfg.Persistent,
		Public:            s.cfg.Public,
		MaxUsers:          s.cfg.MaxOccupants,
		WhoIs:             whoisModerators,
		AllowPM:           pmAnyone,
		PresenceBroadcast: []string{roleModerator, roleParticipant, roleVisitor},
		GetMemberList:     []string{roleModerator, roleParticipant, roleVisitor},
		EnableLogging:     s.cfg.Archive,
		MaxHistoryFetch:   s.cfg.HistoryMax,
	}
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var roleOptions = []stanza.Option{{Label: "Moderator", Value: roleModerator}, {Label: "Participant", Value: roleParticipant}, {Label: "Visitor", Value: roleVisitor}}

// configForm returns the owner's configuration form (XEP-0045 §10.2).
// Caller holds r.mu.
func (r *room) configForm() *stanza.Form {
	c := r.cfg
	var owners, admins []string
	for j, a := range r.affs {
		switch a.Affiliation {
		case affOwner:
			owners = append(owners, j.String())
		case affAdmin:
			admins = append(admins, j.String())
		}
	}
	slices.Sort(owners)
	slices.Sort(admins)
	return &stanza.Form{
		Type:         stanza.FormForm,
		Title:        "Configuration of " + r.jid.String(),
		Instructions: "Complete and submit this form to configure the room.",
		Fields: []stanza.Field{
			{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NSRoomConfig}},
			{Var: "muc#roomconfig_roomname", Type: stanza.FieldTextSingle, Label: "Name", Values: []string{c.Name}},
			{Var: "muc#roomconfig_roomdesc", Type: stanza.FieldTextSingle, Label: "Description", Values: []string{c.Description}},
			{Var: "muc#roomconfig_lang", Type: stanza.FieldTextSingle, Label: "Language", Values: []string{c.Lang}},
			{Var: "muc#roomconfig_persistentroom", Type: stanza.FieldBoolean, Label: "Persistent", Values: []string{boolValue(c.Persistent)}},
			{Var: "muc#roomconfig_publicroom", Type: stanza.FieldBoolean, Label: "Listed in the directory", Values: []string{boolValue(c.Public)}},
			{Var: "muc#roomconfig_membersonly", Type: stanza.FieldBoolean, Label: "Members only", Values: []string{boolValue(c.MembersOnly)}},
			{Var: "muc#roomconfig_moderatedroom", Type: stanza.FieldBoolean, Label: "Moderated", Values: []string{boolValue(c.Moderated)}},
			{Var: "muc#roomconfig_passwordprotectedroom", Type: stanza.FieldBoolean, Label: "Password protected", Values: []string{boolValue(c.PasswordProtected)}},
			{Var: "muc#roomconfig_roomsecret", Type: stanza.FieldTextPrivate, Label: "Password", Values: []string{c.Password}},
			{Var: "muc#roomconfig_maxusers", Type: stanza.FieldListSingle, Label: "Maximum number of occupants", Values: []string{strconv.Itoa(c.MaxUsers)}, Options: r.maxUsersOptions()},
			{Var: "muc#roomconfig_whois", Type: stanza.FieldListSingle, Label: "Who may discover real JIDs", Values: []string{c.WhoIs},
				Options: []stanza.Option{{Label: "Moderators only", Value: whoisModerators}, {Label: "Anyone", Value: whoisAnyone}}},
			{Var: "muc#roomconfig_changesubject", Type: stanza.FieldBoolean, Label: "Occupants may change the subject", Values: []string{boolValue(c.ChangeSubject)}},
			{Var: "muc#roomconfig_allowinvites", Type: stanza.FieldBoolean, Label: "Occupants may invite others", Values: []string{boolValue(c.AllowInvites)}},
			{Var: "muc#roomconfig_allowpm", Type: stanza.FieldListSingle, Label: "Who may send private messages", Values: []string{c.AllowPM},
				Options: []stanza.Option{{Label: "Anyone", Value: pmAnyone}, {Label: "Participants", Value: pmParticipants}, {Label: "Moderators", Value: pmModerators}, {Label: "Nobody", Value: pmNone}}},
			{Var: "muc#roomconfig_presencebroadcast", Type: stanza.FieldListMulti, Label: "Roles whose presence is broadcast", Values: c.PresenceBroadcast, Options: roleOptions},
			{Var: "muc#roomconfig_getmemberlist", Type: stanza.FieldListMulti, Label: "Roles that may retrieve the member list", Values: c.GetMemberList, Options: roleOptions},
			{Var: "muc#roomconfig_enablelogging", Type: stanza.FieldBoolean, Label: "Archive messages", Values: []string{boolValue(c.EnableLogging)}},
			{Var: "muc#roomconfig_pubsub", Type: stanza.FieldTextSingle, Label: "Associated publish-subscribe node", Values: []string{c.PubSub}},
			{Var: "muc#maxhistoryfetch", Type: stanza.FieldTextSingle, Label: "Maximum number of history messages", Values: []string{strconv.Itoa(c.MaxHistoryFetch)}},
			{Var: "muc#roomconfig_roomadmins", Type: stanza.FieldJIDMulti, Label: "Administrators", Values: admins},
			{Var: "muc#roomconfig_roomowners", Type: stanza.FieldJIDMulti, Label: "Owners", Values: owners},
		},
	}
}

func (r *room) maxUsersOptions() []stanza.Option {
	var opts []stanza.Option
	for _, n := range []int{10, 20, 30, 50, 100, 200, 500, 1000} {
		if n <= r.s.cfg.MaxOccupantsLimit {
			opts = append(opts, stanza.Option{Label: strconv.Itoa(n), Value: strconv.Itoa(n)})
		}
	}
	if l := r.s.cfg.MaxOccupantsLimit; len(opts) == 0 || opts[len(opts)-1].Value != strconv.Itoa(l) {
		opts = append(opts, stanza.Option{Label: strconv.Itoa(l), Value: strconv.Itoa(l)})
	}
	return opts
}

// configChange is what a submitted configuration form changes besides
// the configuration itself.
type configChange struct {
	owners, admins []jid.JID
	setOwners      bool
	setAdmins      bool
}

// applyForm returns c changed by the submitted form f, or a bad-request
// or not-acceptable error. Fields it does not know are ignored (XEP-0045
// §10.2: the service MAY ignore them).
func (r *room) applyForm(c roomConfig, f *stanza.Form) (roomConfig, configChange, *stanza.Error) {
	var ch configChange
	bad := func(field, why string) *stanza.Error {
		return &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: field + ": " + why}
	}
	c.PresenceBroadcast = slices.Clone(c.PresenceBroadcast)
	c.GetMemberList = slices.Clone(c.GetMemberList)
	for _, fd := range f.Fields {
		v := ""
		if len(fd.Values) > 0 {
			v = fd.Values[0]
		}
		b := v == "1" || v == "true"
		switch fd.Var {
		case "muc#roomconfig_roomname":
			c.Name = v
		case "muc#roomconfig_roomdesc":
			c.Description = v
		case "muc#roomconfig_lang":
			c.Lang = v
		case "muc#roomconfig_persistentroom":
			c.Persistent = b
		case "muc#roomconfig_publicroom":
			c.Public = b
		case "muc#roomconfig_membersonly":
			c.MembersOnly = b
		case "muc#roomconfig_moderatedroom":
			c.Moderated = b
		case "muc#roomconfig_passwordprotectedroom":
			c.PasswordProtected = b
		case "muc#roomconfig_roomsecret":
			c.Password = v
		case "muc#roomconfig_maxusers":
			if v == "" || v == "none" {
				c.MaxUsers = r.s.cfg.MaxOccupantsLimit
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > r.s.cfg.MaxOccupantsLimit {
				return c, ch, bad(fd.Var, "not between 1 and "+strconv.Itoa(r.s.cfg.MaxOccupantsLimit))
			}
			c.MaxUsers = n
		case "muc#roomconfig_whois":
			if v != whoisModerators && v != whoisAnyone {
				return c, ch, bad(fd.Var, "not moderators or anyone")
			}
			c.WhoIs = v
		case "muc#roomconfig_changesubject":
			c.ChangeSubject = b
		case "muc#roomconfig_allowinvites":
			c.AllowInvites = b
		case "muc#roomconfig_allowpm":
			switch v {
			case pmAnyone, pmParticipants, pmModerators, pmNone:
				c.AllowPM = v
			default:
				return c, ch, bad(fd.Var, "not anyone, participants, moderators or none")
			}
		case "muc#roomconfig_presencebroadcast", "muc#roomconfig_getmemberlist":
			var roles []string
			for _, x := range fd.Values {
				if roleRank(x) == 0 {
					return c, ch, bad(fd.Var, "not a role")
				}
				if !slices.Contains(roles, x) {
					roles = append(roles, x)
				}
			}
			if fd.Var == "muc#roomconfig_presencebroadcast" {
				c.PresenceBroadcast = roles
			} else {
				c.GetMemberList = roles
			}
		case "muc#roomconfig_enablelogging":
			c.EnableLogging = b
		case "muc#roomconfig_pubsub":
			c.PubSub = v
		case "muc#maxhistoryfetch":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > r.s.cfg.HistoryMax {
				return c, ch, bad(fd.Var, "not between 0 and "+strconv.Itoa(r.s.cfg.HistoryMax))
			}
			c.MaxHistoryFetch = n
		case "muc#roomconfig_roomadmins", "muc#roomconfig_roomowners":
			var js []jid.JID
			for _, x := range fd.Values {
				j, err := jid.Parse(x)
				if err != nil {
					return c, ch, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", Text: fd.Var}
				}
				js = append(js, j.Bare())
			}
			if fd.Var == "muc#roomconfig_roomadmins" {
				ch.admins, ch.setAdmins = js, true
			} else {
				ch.owners, ch.setOwners = js, true
			}
		}
	}
	if c.PasswordProtected && c.Password == "" {
		return c, ch, bad("muc#roomconfig_roomsecret", "a password-protected room needs a password")
	}
	if !c.PasswordProtected {
		c.Password = ""
	}
	return c, ch, nil
}

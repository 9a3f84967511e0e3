package muc

import (
	"strconv"

	"hearth/stanza"
)

// discoInfo answers disco#info of the service (XEP-0045 §6.1).
func (s *service) discoInfo(p *stanza.Element) (*stanza.Element, *stanza.Error) {
	if p.Get("node") != "" {
		return nil, stanza.NewError("item-not-found")
	}
	q := stanza.New(NSDiscoInfo, "query").Append(
		stanza.New(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", s.cfg.Name))
	// Room features (MAM, occupant IDs, self-ping...) are advertised by
	// each room: the service domain itself only does disco and ping.
	for _, f := range []string{NSDiscoInfo, NSDiscoItems, NS, NSPing, NSUnique} {
		q.Append(stanza.New(NSDiscoInfo, "feature", "var", f))
	}
	return q, nil
}

// discoItems lists the public rooms of the service (XEP-0045 §6.3).
func (s *service) discoItems(p *stanza.Element) (*stanza.Element, *stanza.Error) {
	if p.Get("node") != "" {
		return nil, stanza.NewError("item-not-found")
	}
	q := stanza.New(NSDiscoItems, "query")
	for _, r := range s.publicRooms() {
		item := stanza.New(NSDiscoItems, "item", "jid", r.jid.String())
		r.mu.Lock()
		name := r.cfg.Name
		r.mu.Unlock()
		if name == "" {
			name = r.jid.Local()
		}
		q.Append(item.Set("name", name))
	}
	return q, nil
}

// features returns the disco#info features of the room (XEP-0045 §6.4,
// §17.2). Caller holds r.mu.
func (r *room) features() []string {
	c := r.cfg
	pick := func(b bool, yes, no string) string {
		if b {
			return yes
		}
		return no
	}
	f := []string{
		NS, NSDiscoInfo, NSDiscoItems, NSStableID, NSSelfPing, NSOccupantID, NSPing, NSRegister,
		pick(c.Public, "muc_public", "muc_hidden"),
		pick(c.Persistent, "muc_persistent", "muc_temporary"),
		pick(c.MembersOnly, "muc_membersonly", "muc_open"),
		pick(c.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(r.nonAnonymous(), "muc_nonanonymous", "muc_semianonymous"),
		pick(c.PasswordProtected, "muc_passwordprotected", "muc_unsecured"),
	}
	if c.EnableLogging {
		f = append(f, NSMAM, NSStanzaID, NSModerate)
	}
	return f
}

// discoInfo answers disco#info of the room, with its muc#roominfo form
// (XEP-0045 §6.4). Caller holds r.mu.
func (r *room) discoInfo(p *stanza.Element) (*stanza.Element, error) {
	if p.Get("node") != "" {
		return nil, stanza.NewError("item-not-found")
	}
	name := r.cfg.Name
	if name == "" {
		name = r.jid.Local()
	}
	q := stanza.New(NSDiscoInfo, "query").Append(
		stanza.New(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", name))
	for _, f := range r.features() {
		q.Append(stanza.New(NSDiscoInfo, "feature", "var", f))
	}
	subject := ""
	if r.subject != nil {
		subject = r.subject.ChildText(stanza.NSClient, "subject")
	}
	changeSubject := "0"
	if r.cfg.ChangeSubject {
		changeSubject = "1"
	}
	form := &stanza.Form{Type: stanza.FormResult, Fields: []stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NSRoomInfo}},
		{Var: "muc#roomconfig_roomname", Label: "Name", Values: []string{name}},
		{Var: "muc#roominfo_description", Label: "Description", Values: []string{r.cfg.Description}},
		{Var: "muc#roominfo_occupants", Label: "Number of occupants", Values: []string{strconv.Itoa(len(r.occupants))}},
		{Var: "muc#roominfo_subject", Label: "Subject", Values: []string{subject}},
		{Var: "muc#roomconfig_changesubject", Type: stanza.FieldBoolean, Label: "Occupants may change the subject", Values: []string{changeSubject}},
		{Var: "muc#maxhistoryfetch", Label: "Maximum number of history messages", Values: []string{strconv.Itoa(r.cfg.MaxHistoryFetch)}},
	}}
	if r.cfg.Lang != "" {
		form.Fields = append(form.Fields, stanza.Field{Var: "muc#roominfo_lang", Label: "Language", Values: []string{r.cfg.Lang}})
	}
	return q.Append(form.Element()), nil
}

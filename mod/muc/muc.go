// Package muc implements XEP-0045: Multi-User Chat, on a service domain of
// each virtual host (muc.<host> by default), with XEP-0359 stanza IDs
// assigned by the room, XEP-0313 archives of rooms, XEP-0410 self-ping,
// XEP-0421 occupant IDs and XEP-0425 moderation.
//
// Every stanza to the service domain or to a JID at it reaches the service
// through module.Host.AddService. A room processes its stanzas one at a
// time (room.post) and routes what it sends after releasing its lock, so
// that a bounce coming back to the room while it fans out cannot deadlock
// it. docs/design/005-muc.md explains the choices.
package muc

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// Namespaces.
const (
	NS           = "http://jabber.org/protocol/muc"
	NSUser       = "http://jabber.org/protocol/muc#user"
	NSAdmin      = "http://jabber.org/protocol/muc#admin"
	NSOwner      = "http://jabber.org/protocol/muc#owner"
	NSRoomConfig = "http://jabber.org/protocol/muc#roomconfig"
	NSRoomInfo   = "http://jabber.org/protocol/muc#roominfo"
	NSStableID   = "http://jabber.org/protocol/muc#stable_id"
	NSSelfPing   = "http://jabber.org/protocol/muc#self-ping-optimization"
	NSOccupantID = "urn:xmpp:occupant-id:0"
	NSStanzaID   = "urn:xmpp:sid:0"
	NSMAM        = "urn:xmpp:mam:2"
	NSDelay      = "urn:xmpp:delay"
	NSForward    = "urn:xmpp:forward:0"
	NSRSM        = "http://jabber.org/protocol/rsm"
	NSModerate   = "urn:xmpp:message-moderate:1"
	NSRetract    = "urn:xmpp:message-retract:1"
	NSConference = "jabber:x:conference"
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSPing       = "urn:xmpp:ping"
	NSUnique     = "http://jabber.org/protocol/muc#unique"
)

// Storage names.
const (
	// RoomsMapName is the Map holding each persistent room (owner: the
	// room's bare JID) under roomKey.
	RoomsMapName = "muc.rooms"
	roomKey      = "room"
	// ArchiveName is the Archive holding the messages of every room
	// (owner: the room's bare JID).
	ArchiveName = "muc"
)

// Who may create rooms ([muc] create).
const (
	CreateAdmins = "admins"
	CreateLocal  = "local"
	CreateAnyone = "anyone"
)

// Config is the [muc] section.
type Config struct {
	// Domain is the service domain (default "muc.<host>"). With several
	// hosts, leave it unset: each host serves its own muc.<host>.
	Domain string `toml:"domain"`
	// Name is the service's name in disco (default "Chatrooms").
	Name string `toml:"name"`
	// Create says who may create rooms: "admins" (the JIDs of Admins and
	// the server's administrators),
	// "local" (accounts of the host, the default) or "anyone".
	Create string `toml:"create"`
	// Admins are the bare JIDs of the service's administrators: they may
	// create rooms whatever Create says and are owners of every room.
	Admins []string `toml:"admins"`
	// MaxRooms bounds the rooms of the service (default 10000).
	MaxRooms int `toml:"max_rooms"`
	// MaxRoomsPerUser bounds the rooms one user may have created and
	// still exist (default 100; admins are not bound).
	MaxRoomsPerUser int `toml:"max_rooms_per_user"`
	// MaxOccupants is the default maximum of occupants of a new room
	// (muc#roomconfig_maxusers, default 200).
	MaxOccupants int `toml:"max_occupants"`
	// MaxOccupantsLimit bounds what an owner may set as maxusers
	// (default 1000).
	MaxOccupantsLimit int `toml:"max_occupants_limit"`
	// MaxSessionsPerNick bounds the devices of one user joined under one
	// nick (default 10).
	MaxSessionsPerNick int `toml:"max_sessions_per_nick"`
	// HistoryDefault is the number of messages a joining occupant gets
	// when it does not say (default 20).
	HistoryDefault int `toml:"history_default"`
	// HistoryMax is the number of messages a room keeps for discussion
	// history (muc#maxhistoryfetch, default 50).
	HistoryMax int `toml:"history_max"`
	// HistoryMaxBytes bounds the encoded size of a room's history
	// (default 256 KiB): the oldest messages go first.
	HistoryMaxBytes int `toml:"history_max_bytes"`
	// MaxAffiliations bounds the affiliated JIDs of one room (default 5000).
	MaxAffiliations int `toml:"max_affiliations"`
	// QueueLimit bounds the stanzas waiting for a busy room (default
	// 1000); beyond it, stanzas are refused with resource-constraint.
	QueueLimit int `toml:"queue_limit"`
	// MaxForwardedIQs bounds the IQs between occupants a room forwards
	// and still waits a reply for (default 256); beyond it, requests are
	// refused with resource-constraint.
	MaxForwardedIQs int `toml:"max_forwarded_iqs"`
	// Persistent is the default of muc#roomconfig_persistentroom (false).
	Persistent bool `toml:"persistent"`
	// Public is the default of muc#roomconfig_publicroom (true).
	Public bool `toml:"public"`
	// Archive is the default of muc#roomconfig_enablelogging (true): the
	// room keeps a XEP-0313 archive.
	Archive bool `toml:"archive"`
	// DefaultPage and MaxPage size MAM pages (defaults 50 and 250).
	DefaultPage int `toml:"default_page"`
	MaxPage     int `toml:"max_page"`
}

// Defaults of Config.
const (
	DefaultName               = "Chatrooms"
	DefaultMaxRooms           = 10000
	DefaultMaxRoomsPerUser    = 100
	DefaultMaxOccupants       = 200
	DefaultMaxOccupantsLimit  = 1000
	DefaultMaxSessionsPerNick = 10
	DefaultHistoryDefault     = 20
	DefaultHistoryMax         = 50
	DefaultHistoryMaxBytes    = 256 << 10
	DefaultMaxAffiliations    = 5000
	DefaultQueueLimit         = 1000
	DefaultMaxForwardedIQs    = 256
	DefaultPage               = 50
	DefaultMaxPage            = 250
)

// Module serves a multi-user chat service on a subdomain of each host.
var Module = module.New("muc", Config{
	Name:               DefaultName,
	Create:             CreateLocal,
	MaxRooms:           DefaultMaxRooms,
	MaxRoomsPerUser:    DefaultMaxRoomsPerUser,
	MaxOccupants:       DefaultMaxOccupants,
	MaxOccupantsLimit:  DefaultMaxOccupantsLimit,
	MaxSessionsPerNick: DefaultMaxSessionsPerNick,
	HistoryDefault:     DefaultHistoryDefault,
	HistoryMax:         DefaultHistoryMax,
	HistoryMaxBytes:    DefaultHistoryMaxBytes,
	MaxAffiliations:    DefaultMaxAffiliations,
	QueueLimit:         DefaultQueueLimit,
	MaxForwardedIQs:    DefaultMaxForwardedIQs,
	Public:             true,
	Archive:            true,
	DefaultPage:        DefaultPage,
	MaxPage:            DefaultMaxPage,
}, start).WithSection("muc")

func (c Config) validate() error {
	switch {
	case c.Create != CreateAdmins && c.Create != CreateLocal && c.Create != CreateAnyone:
		return fmt.Errorf("[muc] create: %q is not %q, %q or %q", c.Create, CreateAdmins, CreateLocal, CreateAnyone)
	case c.MaxRooms < 1:
		return fmt.Errorf("[muc] max_rooms: %d is less than 1", c.MaxRooms)
	case c.MaxRoomsPerUser < 1:
		return fmt.Errorf("[muc] max_rooms_per_user: %d is less than 1", c.MaxRoomsPerUser)
	case c.MaxOccupantsLimit < 1:
		return fmt.Errorf("[muc] max_occupants_limit: %d is less than 1", c.MaxOccupantsLimit)
	case c.MaxOccupants < 1 || c.MaxOccupants > c.MaxOccupantsLimit:
		return fmt.Errorf("[muc] max_occupants: %d is not between 1 and max_occupants_limit (%d)", c.MaxOccupants, c.MaxOccupantsLimit)
	case c.MaxSessionsPerNick < 1:
		return fmt.Errorf("[muc] max_sessions_per_nick: %d is less than 1", c.MaxSessionsPerNick)
	case c.HistoryMax < 0:
		return fmt.Errorf("[muc] history_max: %d is negative", c.HistoryMax)
	case c.HistoryDefault < 0 || c.HistoryDefault > c.HistoryMax:
		return fmt.Errorf("[muc] history_default: %d is not between 0 and history_max (%d)", c.HistoryDefault, c.HistoryMax)
	case c.HistoryMaxBytes < 1:
		return fmt.Errorf("[muc] history_max_bytes: %d is less than 1", c.HistoryMaxBytes)
	case c.MaxAffiliations < 1:
		return fmt.Errorf("[muc] max_affiliations: %d is less than 1", c.MaxAffiliations)
	case c.QueueLimit < 1:
		return fmt.Errorf("[muc] queue_limit: %d is less than 1", c.QueueLimit)
	case c.MaxForwardedIQs < 1:
		return fmt.Errorf("[muc] max_forwarded_iqs: %d is less than 1", c.MaxForwardedIQs)
	case c.MaxPage < 1:
		return fmt.Errorf("[muc] max_page: %d is less than 1", c.MaxPage)
	case c.DefaultPage < 1 || c.DefaultPage > c.MaxPage:
		return fmt.Errorf("[muc] default_page: %d is not between 1 and max_page (%d)", c.DefaultPage, c.MaxPage)
	}
	for _, a := range c.Admins {
		if j, err := jid.Parse(a); err != nil || !j.IsBare() {
			return fmt.Errorf("[muc] admins: %q is not a bare JID", a)
		}
	}
	return nil
}

// service is the MUC service of one host.
type service struct {
	h      *module.Host
	cfg    Config
	domain jid.JID
	admins map[jid.JID]bool

	handOff chan *room // busy rooms for the drain workers

	loadOnce sync.Once
	mu       sync.Mutex
	rooms    map[jid.JID]*room // bare room JID -> room; guarded by mu
}

func start(h *module.Host, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.Domain == "" {
		cfg.Domain = "muc." + h.Domain()
	}
	d, err := jid.New("", cfg.Domain, "")
	if err != nil {
		return fmt.Errorf("[muc] domain: %q: %v", cfg.Domain, err)
	}
	s := newService(h, cfg, d)
	h.AddService(d.Domain(), cfg.Name, s.handle)
	h.OnUserDeleted(s.userDeleted)
	return nil
}

// userDeleted forgets the affiliations of a deleted account in every
// room: a new account of the same name is someone else.
func (s *service) userDeleted(ctx context.Context, user jid.JID) {
	s.loadOnce.Do(func() { s.loadRooms(context.WithoutCancel(ctx)) })
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		if _, ok := r.affs[user.Bare()]; ok {
			delete(r.affs, user.Bare())
			r.saveIfPersistent(ctx)
		}
		r.mu.Unlock()
	}
}

func newService(h *module.Host, cfg Config, d jid.JID) *service {
	s := &service{h: h, cfg: cfg, domain: d, admins: map[jid.JID]bool{}, rooms: map[jid.JID]*room{},
		handOff: make(chan *room, handOffQueue)}
	for _, a := range cfg.Admins {
		s.admins[jid.MustParse(a).Bare()] = true
	}
	for range drainWorkers {
		h.Go(s.drainWorker)
	}
	return s
}

// drainWorker processes the queues of busy rooms handed to it until the
// server stops. A room left in handOff at shutdown stays busy: the server
// is going away.
func (s *service) drainWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-s.handOff:
			r.drain(context.WithoutCancel(ctx), 0)
		}
	}
}

// isAdmin reports whether j's account administers the service.
// isAdmin reports whether j administers the service: listed in [muc]
// admins, or an administrator of the server (top-level admins).
func (s *service) isAdmin(j jid.JID) bool {
	return s.admins[j.Bare()] || s.h.Settings().IsAdmin(j.Bare())
}

// mayCreate reports whether from may create a room ([muc] create).
func (s *service) mayCreate(from jid.JID) bool {
	switch {
	case s.isAdmin(from):
		return true
	case s.cfg.Create == CreateAnyone:
		return true
	case s.cfg.Create == CreateLocal:
		return from.Local() != "" && s.h.IsLocal(from.Domain())
	}
	return false
}

// handle is the ServiceHandler: stanzas to the domain are answered here,
// stanzas to a room or an occupant go to the room.
func (s *service) handle(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	s.loadOnce.Do(func() { s.loadRooms(context.WithoutCancel(ctx)) })
	if to.Local() == "" {
		s.handleDomain(ctx, st, from, to)
		return
	}
	s.dispatch(ctx, st, from, to)
}

// dispatch hands a stanza for a room to that room, creating it for a join.
func (s *service) dispatch(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	room := s.room(to.Bare())
	if room == nil {
		if st.Name.Local != "presence" || st.Get("type") != "" || to.IsBare() {
			s.noRoom(ctx, st, from, to)
			return
		}
		var err *stanza.Error
		if room, err = s.create(to.Bare(), from); err != nil {
			s.reply(ctx, stanza.ErrorReply(st, err))
			return
		}
	}
	if !room.post(ctx, event{st: st, from: from, to: to}) {
		s.reply(ctx, stanza.ErrorReply(st, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "room busy"}))
	}
}

// noRoom answers a stanza for a room that does not exist.
func (s *service) noRoom(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	switch st.Get("type") {
	case stanza.ErrorType, stanza.Result, "unavailable":
		return
	}
	if st.Name.Local == "presence" && to.IsBare() {
		// XEP-0045 §7.2.1: a join without a nickname.
		s.reply(ctx, stanza.ErrorReply(st, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed", By: to.Bare().String()}))
		return
	}
	s.reply(ctx, stanza.ErrorReply(st, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", By: to.Bare().String()}))
}

// room returns the live room j, or nil.
func (s *service) room(j jid.JID) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[j]
}

// create makes a new room j for its first occupant creator.
func (s *service) create(j jid.JID, creator jid.JID) (*room, *stanza.Error) {
	if !s.mayCreate(creator) {
		return nil, &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "room creation is restricted", By: j.String()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[j]; r != nil {
		return r, nil // created meanwhile
	}
	if len(s.rooms) >= s.cfg.MaxRooms {
		return nil, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many rooms", By: j.String()}
	}
	if !s.isAdmin(creator) {
		n := 0
		for _, r := range s.rooms {
			if r.creator == creator.Bare() {
				n++
			}
		}
		if n >= s.cfg.MaxRoomsPerUser {
			return nil, &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many rooms created by this user", By: j.String()}
		}
	}
	r := newRoom(s, j, s.defaultConfig())
	r.creator = creator.Bare()
	r.locked = true
	r.affs[creator.Bare()] = affiliation{Affiliation: affOwner}
	s.rooms[j] = r
	return r, nil
}

// remove forgets room r (destroyed, or temporary and empty).
func (s *service) remove(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.jid] == r {
		delete(s.rooms, r.jid)
	}
}

// reply routes a stanza generated by the service; routing errors (an
// unparsable address) are logged.
func (s *service) reply(ctx context.Context, st *stanza.Element) {
	if err := s.h.Route(ctx, st); err != nil {
		s.h.Logger().Debug("muc: cannot route reply", "err", err)
	}
}

// publicRooms returns the public rooms sorted by JID, for disco#items.
func (s *service) publicRooms() []*room {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	out := rooms[:0]
	for _, r := range rooms {
		if r.isPublic() {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *room) int {
		switch as, bs := a.jid.String(), b.jid.String(); {
		case as < bs:
			return -1
		case as > bs:
			return 1
		}
		return 0
	})
	return out
}

package muc

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// record is a persistent room as stored (RoomsMapName, key roomKey).
type record struct {
	Config       roomConfig             `json:"config"`
	Creator      string                 `json:"creator,omitempty"`
	Secret       []byte                 `json:"secret"`
	Affiliations map[string]affiliation `json:"affiliations"`
	Subject      string                 `json:"subject,omitempty"` // the subject message, XML
}

// saveIfPersistent stores the room when it is persistent. A failure is
// logged: the room goes on in memory. Caller holds r.mu.
func (r *room) saveIfPersistent(ctx context.Context) {
	if !r.cfg.Persistent || r.locked || r.gone {
		return
	}
	rec := record{Config: r.cfg, Creator: r.creator.String(), Secret: r.secret, Affiliations: map[string]affiliation{}}
	if r.creator.IsZero() {
		rec.Creator = ""
	}
	for j, a := range r.affs {
		rec.Affiliations[j.String()] = a
	}
	if r.subject != nil {
		rec.Subject = r.subject.String()
	}
	b, err := json.Marshal(rec)
	if err == nil {
		err = r.s.h.Map(RoomsMapName).Set(ctx, r.jid.String(), roomKey, b)
	}
	if err != nil {
		r.s.h.Logger().Error("muc: saving room failed", "room", r.jid.String(), "err", err)
	}
}

// forget removes a room's stored configuration and archive.
func (s *service) forget(ctx context.Context, room jid.JID) {
	if err := s.h.Map(RoomsMapName).Delete(ctx, room.String(), roomKey); err != nil {
		s.h.Logger().Error("muc: removing room failed", "room", room.String(), "err", err)
	}
	if _, err := s.h.Archive(ArchiveName).DeleteBefore(ctx, room.String(), now().Add(time.Hour)); err != nil {
		s.h.Logger().Error("muc: removing room archive failed", "room", room.String(), "err", err)
	}
}

// loadRooms loads the persistent rooms of the service, with their recent
// history from the archive.
func (s *service) loadRooms(ctx context.Context) {
	m := s.h.Map(RoomsMapName)
	owners, err := m.Owners(ctx, s.domain.Domain())
	if err != nil {
		s.h.Logger().Error("muc: listing rooms failed", "err", err)
		return
	}
	for _, owner := range owners {
		j, err := jid.Parse(owner)
		if err != nil || j.Domain() != s.domain.Domain() || j.Local() == "" {
			continue
		}
		b, err := m.Get(ctx, owner, roomKey)
		if err != nil {
			continue
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			s.h.Logger().Error("muc: stored room unreadable", "room", owner, "err", err)
			continue
		}
		r := newRoom(s, j.Bare(), rec.Config)
		if len(rec.Secret) > 0 {
			r.secret = rec.Secret
		}
		if c, err := jid.Parse(rec.Creator); err == nil {
			r.creator = c
		}
		for k, a := range rec.Affiliations {
			if aj, err := jid.Parse(k); err == nil {
				r.affs[aj.Bare()] = a
			}
		}
		if rec.Subject != "" {
			if el, err := decode(rec.Subject); err == nil {
				r.subject = el
			}
		}
		r.loadHistory(ctx)
		s.mu.Lock()
		if len(s.rooms) < s.cfg.MaxRooms {
			s.rooms[r.jid] = r
		}
		s.mu.Unlock()
	}
}

// loadHistory fills the discussion history from the archive.
func (r *room) loadHistory(ctx context.Context) {
	if r.s.cfg.HistoryMax == 0 {
		return
	}
	res, err := r.s.h.Archive(ArchiveName).Query(ctx, r.jid.String(), storage.Query{Last: true, Limit: r.s.cfg.HistoryMax})
	if err != nil {
		return
	}
	for _, it := range res.Items {
		if el, err := decode(string(it.Data)); err == nil && el.Child(stanza.NSClient, "body") != nil {
			r.remember(withoutRealJID(el), it.Time)
		}
	}
}

// archive appends a message of room to its archive under stanza ID sid.
// With is the occupant's JID in the room. A failure is logged: the message
// goes on without an archive entry.
//
// The archived copy carries the sender's real bare JID (a muc#user <x/>
// with an <item jid/>, as XEP-0313 §5.1.2 has for rooms): results show it
// to those who may see real JIDs (withoutRealJID hides it from others),
// and clients of non-anonymous rooms (OMEMO group chats) need it to know
// who wrote what. real is zero for what the room itself says.
func (s *service) archive(ctx context.Context, room jid.JID, sid string, t time.Time, occ, real jid.JID, msg *stanza.Element) {
	if !real.IsZero() {
		msg = msg.Copy().Append(stanza.New(NSUser, "x").Append(stanza.New(NSUser, "item", "jid", real.Bare().String())))
	}
	_, err := s.h.Archive(ArchiveName).Append(ctx, room.String(), storage.Item{ID: sid, Time: t, With: occ.String(), Data: []byte(msg.String())})
	if err != nil {
		s.h.Logger().Error("muc: archiving failed", "room", room.String(), "err", err)
	}
}

// decode parses one stored stanza.
func decode(s string) (*stanza.Element, error) {
	return stanza.NewDecoder(strings.NewReader(s), stanza.Limits{}).Next()
}

// withoutRealJID returns an archived message without the muc#user <x/>
// that names its sender's real JID.
func withoutRealJID(msg *stanza.Element) *stanza.Element {
	if msg.Child(NSUser, "x") == nil {
		return msg
	}
	c := &stanza.Element{Name: msg.Name, Attr: msg.Attr}
	for _, n := range msg.Children {
		if el, ok := n.(*stanza.Element); ok && el.Name.Space == NSUser && el.Name.Local == "x" {
			continue
		}
		c.Children = append(c.Children, n)
	}
	return c
}

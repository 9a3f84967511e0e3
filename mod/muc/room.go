package muc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"sync"
	"time"

	"hearth/jid"
	"hearth/stanza"
)

// now is the clock; tests replace it.
var now = time.Now

// Affiliations and roles (XEP-0045 §5).
const (
	affOwner   = "owner"
	affAdmin   = "admin"
	affMember  = "member"
	affNone    = "none"
	affOutcast = "outcast"

	roleModerator   = "moderator"
	roleParticipant = "participant"
	roleVisitor     = "visitor"
	roleNone        = "none"
)

// affRank orders affiliations: a higher rank has more privileges.
func affRank(a string) int {
	switch a {
	case affOwner:
		return 4
	case affAdmin:
		return 3
	case affMember:
		return 2
	case affNone:
		return 1
	}
	return 0 // outcast
}

func roleRank(r string) int {
	switch r {
	case roleModerator:
		return 3
	case roleParticipant:
		return 2
	case roleVisitor:
		return 1
	}
	return 0
}

// affiliation is a JID's lasting standing in a room, with the nick it
// reserved (XEP-0045 §7.10) and the reason given when it was set.
type affiliation struct {
	Affiliation string `json:"affiliation"`
	Nick        string `json:"nick,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// occupant is one nick in the room: a user joined from one or more
// devices (multi-session nick).
type occupant struct {
	nick     string
	bare     jid.JID
	role     string
	id       string // XEP-0421 occupant ID
	sessions []*occSession
}

// occSession is one device of an occupant.
type occSession struct {
	jid  jid.JID
	pres *stanza.Element // the last presence it sent the room
}

// last returns the most recently joined session, whose presence the
// room shows for the occupant.
func (o *occupant) last() *occSession { return o.sessions[len(o.sessions)-1] }

// event is one stanza for a room.
type event struct {
	st       *stanza.Element
	from, to jid.JID
}

// histEntry is one message of the discussion history.
type histEntry struct {
	msg  *stanza.Element // as broadcast, without 'to'
	at   time.Time
	size int
}

// room is one chat room. Its stanzas are processed one at a time by post;
// the fields below mu are guarded by it.
type room struct {
	s   *service
	jid jid.JID

	inMu     sync.Mutex
	inbox    []event
	draining bool

	mu           sync.Mutex
	cfg          roomConfig
	creator      jid.JID
	secret       []byte // key of occupant IDs
	locked       bool   // created, waiting for its owner's configuration
	gone         bool   // destroyed: stanzas are handed back to the service
	affs         map[jid.JID]affiliation
	occupants    []*occupant // in join order
	byNick       map[string]*occupant
	byReal       map[jid.JID]*occupant // full real JID -> occupant
	history      []histEntry
	historyBytes int             // sum of the sizes of history
	subject      *stanza.Element // the last subject message, without 'to'
	forwarded    map[string]forwardedIQ
	out          []*stanza.Element // stanzas to route once mu is released
}

func newRoom(s *service, j jid.JID, cfg roomConfig) *room {
	secret := make([]byte, 32)
	rand.Read(secret)
	return &room{
		s: s, jid: j, cfg: cfg, secret: secret,
		affs:      map[jid.JID]affiliation{},
		byNick:    map[string]*occupant{},
		byReal:    map[jid.JID]*occupant{},
		forwarded: map[string]forwardedIQ{},
	}
}

// post queues ev and, unless another goroutine is already processing the
// room's stanzas, processes the queue until it is empty. A stanza that
// comes back to the room while it routes (a bounce) is queued and
// processed after the current one, in order. post reports false when the
// queue is full (Config.QueueLimit).
func (r *room) post(ctx context.Context, ev event) bool {
	r.inMu.Lock()
	if len(r.inbox) >= r.s.cfg.QueueLimit {
		r.inMu.Unlock()
		return false
	}
	r.inbox = append(r.inbox, ev)
	if r.draining {
		r.inMu.Unlock()
		return true
	}
	r.draining = true
	r.inMu.Unlock()
	// The stanzas of other senders are processed here too: the sender's
	// cancellation must not cut them short.
	r.drain(context.WithoutCancel(ctx), drainBatch)
	return true
}

// drainBatch is how many stanzas a sender's goroutine processes for a
// room before it hands the rest of a busy room's queue to one of the
// service's drainWorkers: a client's read loop is not held by other
// people's messages for long. When all are busy (handOffQueue rooms
// wait), the sender's goroutine goes on.
const (
	drainBatch   = 64
	drainWorkers = 4
	handOffQueue = 1024
)

// drain processes the queue until it is empty, or, after limit stanzas
// (0: no limit), hands the room to a drain worker. Only the goroutine
// that set r.draining calls it.
func (r *room) drain(ctx context.Context, limit int) {
	for n := 0; ; n++ {
		r.inMu.Lock()
		if len(r.inbox) == 0 {
			r.draining = false
			r.inbox = nil
			r.inMu.Unlock()
			return
		}
		if limit > 0 && n >= limit {
			select {
			case r.s.handOff <- r:
				r.inMu.Unlock()
				return
			default:
				limit = 0 // every worker is busy: go on here
			}
		}
		ev := r.inbox[0]
		r.inbox[0] = event{}
		r.inbox = r.inbox[1:]
		r.inMu.Unlock()
		r.process(ctx, ev)
	}
}

// process handles one stanza and routes what the room sends in response.
func (r *room) process(ctx context.Context, ev event) {
	r.mu.Lock()
	if r.gone {
		r.mu.Unlock()
		r.s.dispatch(ctx, ev.st, ev.from, ev.to)
		return
	}
	r.handle(ctx, ev)
	out := r.out
	r.out = nil
	r.mu.Unlock()
	for _, st := range out {
		r.s.reply(ctx, st)
	}
}

// handle processes one stanza. Caller holds r.mu.
func (r *room) handle(ctx context.Context, ev event) {
	switch ev.st.Name.Local {
	case "presence":
		r.handlePresence(ctx, ev)
	case "message":
		r.handleMessage(ctx, ev)
	case "iq":
		r.handleIQ(ctx, ev)
	}
}

// send queues st for routing. Caller holds r.mu.
func (r *room) send(st *stanza.Element) { r.out = append(r.out, st) }

// fail queues the error reply to st. Caller holds r.mu.
func (r *room) fail(st *stanza.Element, err *stanza.Error) {
	switch st.Get("type") {
	case stanza.ErrorType, stanza.Result:
		return
	}
	if err.By == "" && (err.Type != "" || err.Condition != "") {
		e := *err
		e.By = r.jid.String()
		err = &e
	}
	r.send(stanza.ErrorReply(st, err))
}

// occJID returns the occupant JID of nick.
func (r *room) occJID(nick string) jid.JID {
	j, err := r.jid.WithResource(nick)
	if err != nil {
		return r.jid
	}
	return j
}

// affOf returns the affiliation of the account of j. Service admins are
// owners of every room. Caller holds r.mu.
func (r *room) affOf(j jid.JID) string {
	if r.s.isAdmin(j) {
		return affOwner
	}
	if a, ok := r.affs[j.Bare()]; ok {
		return a.Affiliation
	}
	return affNone
}

// defaultRole is the role an occupant with affiliation aff gets on entry
// (XEP-0045 §5.1.2). Caller holds r.mu.
func (r *room) defaultRole(aff string) string {
	switch aff {
	case affOwner, affAdmin:
		return roleModerator
	case affMember:
		return roleParticipant
	case affNone:
		if r.cfg.Moderated {
			return roleVisitor
		}
		return roleParticipant
	}
	return roleNone
}

// occupantID returns the XEP-0421 occupant ID of the account bare: stable
// in the room, unlinkable across rooms.
func (r *room) occupantID(bare jid.JID) string {
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(bare.String()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// nonAnonymous reports whether every occupant sees real JIDs.
func (r *room) nonAnonymous() bool { return r.cfg.WhoIs == whoisAnyone }

// seesJIDs reports whether viewer may see the real JIDs of occupants.
func (r *room) seesJIDs(viewer *occupant) bool {
	return r.nonAnonymous() || viewer != nil && viewer.role == roleModerator
}

// broadcastsPresence reports whether the presence of an occupant with
// role is sent to the others (muc#roomconfig_presencebroadcast).
func (r *room) broadcastsPresence(role string) bool {
	return role == roleNone || slices.Contains(r.cfg.PresenceBroadcast, role)
}

// isPublic reports whether the room is listed in the service's items.
func (r *room) isPublic() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.Public && !r.locked && !r.gone
}

// userX returns the muc#user <x/> describing o, with its real JID when
// showJID, and the status codes.
func (r *room) userX(o *occupant, real jid.JID, showJID bool, codes ...int) *stanza.Element {
	item := stanza.New(NSUser, "item", "affiliation", r.affOf(o.bare), "role", o.role)
	if showJID {
		item.Set("jid", real.String())
	}
	x := stanza.New(NSUser, "x").Append(item)
	return appendCodes(x, codes...)
}

func appendCodes(x *stanza.Element, codes ...int) *stanza.Element {
	for _, c := range codes {
		x.Append(stanza.New(NSUser, "status", "code", strconv.Itoa(c)))
	}
	return x
}

// presenceOf returns the presence of o for viewer (a session's full JID,
// the occupant viewing it, possibly o itself), built from the presence of
// o's latest session, with the room's <x/> and occupant ID, and codes.
// Caller holds r.mu.
func (r *room) presenceOf(o *occupant, to jid.JID, viewer *occupant, codes ...int) *stanza.Element {
	sess := o.last()
	p := stanza.New(stanza.NSClient, "presence")
	if sess.pres != nil {
		p = cleanCopy(sess.pres)
	}
	p.Set("from", r.occJID(o.nick).String()).Set("to", to.String()).Set("id", "")
	real := sess.jid
	self := viewer == o
	if self {
		real = to // each device sees its own JID
	}
	x := r.userX(o, real, self || r.seesJIDs(viewer), codes...)
	return p.Append(x, stanza.New(NSOccupantID, "occupant-id", "id", o.id))
}

// cleanCopy returns a copy of a stanza a user sent to the room without
// the room's own payloads (muc <x/>, muc#user <x/>, occupant ID, stanza
// IDs by anyone claiming to be the room, delay), which only the room may
// add, and without 'type' when it is available.
func cleanCopy(st *stanza.Element) *stanza.Element {
	st = clientNS(st)
	c := &stanza.Element{Name: st.Name, Attr: slices.Clone(st.Attr)}
	for _, n := range st.Children {
		if el, ok := n.(*stanza.Element); ok {
			switch {
			case el.Name.Space == NS && el.Name.Local == "x",
				el.Name.Space == NSUser && el.Name.Local == "x",
				el.Name.Space == NSOccupantID,
				el.Name.Space == NSStanzaID && el.Name.Local == "stanza-id":
				continue
			}
		}
		c.Children = append(c.Children, n)
	}
	return c
}

// sendAll queues, for every session of every occupant, the stanza build
// returns for it (nil: nothing). Caller holds r.mu.
func (r *room) sendAll(build func(o *occupant, to jid.JID) *stanza.Element) {
	for _, o := range r.occupants {
		for _, s := range o.sessions {
			if st := build(o, s.jid); st != nil {
				r.send(st)
			}
		}
	}
}

// clientNS returns st in jabber:client: what the room relays from a
// server stream (jabber:server) goes out to clients, and into the
// archive, as a client stanza.
func clientNS(st *stanza.Element) *stanza.Element {
	if st.Name.Space != stanza.NSServer {
		return st
	}
	c := &stanza.Element{Name: st.Name, Attr: st.Attr}
	c.Name.Space = stanza.NSClient
	for _, n := range st.Children {
		if el, ok := n.(*stanza.Element); ok {
			n = clientNS(el)
		}
		c.Children = append(c.Children, n)
	}
	return c
}

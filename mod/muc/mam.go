package muc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

const stampLayout = "2006-01-02T15:04:05.999999Z"

// mamForm returns the query form of the room archive (XEP-0313 §5.1.1).
func mamForm() *stanza.Element {
	f := &stanza.Form{Type: stanza.FormForm, Fields: []stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NSMAM}},
		{Var: "with", Type: stanza.FieldJIDSingle},
		{Var: "start", Type: stanza.FieldTextSingle},
		{Var: "end", Type: stanza.FieldTextSingle},
		{Var: "before-id", Type: stanza.FieldTextSingle},
		{Var: "after-id", Type: stanza.FieldTextSingle},
	}}
	return stanza.New(NSMAM, "query").Append(f.Element())
}

// mayReadArchive reports whether from may query the room's archive: not
// an outcast; in a members-only or password-protected room, an occupant
// or an affiliated JID. Caller holds r.mu.
func (r *room) mayReadArchive(from jid.JID) bool {
	aff := r.affOf(from)
	switch {
	case aff == affOutcast:
		return false
	case r.byReal[from] != nil:
		return true
	case r.cfg.MembersOnly || r.cfg.PasswordProtected:
		return affRank(aff) >= affRank(affMember)
	}
	return true
}

// mamQuery answers a XEP-0313 query to the room: one message per item,
// then the <fin/> result. Caller holds r.mu.
func (r *room) mamQuery(ctx context.Context, ev event, q *stanza.Element) error {
	if !r.cfg.EnableLogging {
		return stanza.NewError("service-unavailable")
	}
	if !r.mayReadArchive(ev.from) {
		return forbidden("not allowed to read this archive")
	}
	var sq storage.Query
	max := r.s.cfg.DefaultPage
	if x := q.Child(stanza.NSData, "x"); x != nil {
		f, err := stanza.ParseForm(x)
		if err != nil {
			return badRequest(err.Error())
		}
		for _, fd := range f.Fields {
			if len(fd.Values) == 0 || fd.Values[0] == "" {
				continue
			}
			v := fd.Values[0]
			switch fd.Var {
			case "FORM_TYPE":
				if v != NSMAM {
					return badRequest("FORM_TYPE is not " + NSMAM)
				}
			case "with":
				j, err := jid.Parse(v)
				if err != nil {
					return badRequest("with: not a JID")
				}
				sq.With = j.String()
			case "start", "end":
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					return badRequest(fd.Var + ": not a date and time")
				}
				if fd.Var == "start" {
					sq.Start = t
				} else {
					sq.End = t
				}
			case "before-id":
				sq.BeforeID = v
			case "after-id":
				sq.AfterID = v
			default:
				return badRequest("unknown field " + fd.Var)
			}
		}
	}
	if set := q.Child(NSRSM, "set"); set != nil {
		if m := set.Child(NSRSM, "max"); m != nil {
			n, err := strconv.Atoi(m.Text())
			if err != nil || n < 0 {
				return badRequest("max: not a number")
			}
			max = n
		}
		if a := set.Child(NSRSM, "after"); a != nil {
			sq.AfterID = a.Text()
		}
		if b := set.Child(NSRSM, "before"); b != nil {
			sq.Last = true
			if b.Text() != "" {
				sq.BeforeID = b.Text()
			}
		}
	}
	sq.Limit = min(max, r.s.cfg.MaxPage)
	if sq.Limit == 0 {
		sq.Limit = 1 // only the count is wanted; no item is sent
	}
	res, err := r.s.h.Archive(ArchiveName).Query(ctx, r.jid.String(), sq)
	if errors.Is(err, storage.ErrNotFound) {
		return &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such archive ID"}
	}
	if err != nil {
		return fmt.Errorf("querying room archive: %w", err)
	}
	items := res.Items
	if max == 0 {
		items = nil
	}
	qid := q.Get("queryid")
	showJIDs := r.seesJIDs(r.byReal[ev.from])
	for _, it := range items {
		fwd := stanza.New(NSForward, "forwarded").Append(stanza.New(NSDelay, "delay", "stamp", it.Time.UTC().Format(stampLayout)))
		if msg, err := decode(string(it.Data)); err == nil {
			if !showJIDs {
				msg = withoutRealJID(msg)
			}
			fwd.Append(msg)
		}
		result := stanza.New(NSMAM, "result", "id", it.ID)
		result.Set("queryid", qid)
		r.send(stanza.New(stanza.NSClient, "message", "from", r.jid.String(), "to", ev.from.String(), "id", stanza.NewID()).Append(result.Append(fwd)))
	}
	fin := stanza.New(NSMAM, "fin")
	if res.Complete && max != 0 || len(res.Items) == 0 {
		fin.Set("complete", "true")
	}
	set := stanza.New(NSRSM, "set")
	if len(items) > 0 {
		set.Append(stanza.New(NSRSM, "first").AppendText(items[0].ID), stanza.New(NSRSM, "last").AppendText(items[len(items)-1].ID))
	}
	set.Append(stanza.New(NSRSM, "count").AppendText(strconv.Itoa(res.Count)))
	r.send(stanza.ResultReply(ev.st, fin.Append(set)))
	return errNoReply
}

// moderate retracts a message of the room for a moderator (XEP-0425):
// the occupants are told, and the archive keeps a tombstone. Caller holds
// r.mu.
func (r *room) moderate(ctx context.Context, ev event, p *stanza.Element) error {
	actor := r.byReal[ev.from]
	if actor == nil || actor.role != roleModerator {
		return forbidden("only moderators may retract messages")
	}
	if p.Child(NSRetract, "retract") == nil {
		return badRequest("only retraction is supported")
	}
	id := p.Get("id")
	arch := r.s.h.Archive(ArchiveName)
	it, err := arch.Get(ctx, r.jid.String(), id)
	if errors.Is(err, storage.ErrNotFound) || id == "" {
		return &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such message"}
	}
	if err != nil {
		return fmt.Errorf("reading room archive: %w", err)
	}
	reason := p.ChildText(NSModerate, "reason")
	moderated := func() *stanza.Element {
		return stanza.New(NSModerate, "moderated", "by", r.occJID(actor.nick).String()).
			Append(stanza.New(NSOccupantID, "occupant-id", "id", actor.id))
	}
	withReason := func(el *stanza.Element) *stanza.Element {
		if reason != "" {
			el.Append(stanza.New(NSRetract, "reason").AppendText(reason))
		}
		return el
	}
	t := now()
	if err := r.tombstone(ctx, it, withReason(stanza.New(NSRetract, "retracted", "stamp", t.UTC().Format(stampLayout)).Append(moderated()))); err != nil {
		return err
	}
	sid := storage.NewItemID()
	msg := stanza.New(stanza.NSClient, "message", "type", "groupchat", "from", r.jid.String(), "id", stanza.NewID()).
		Append(withReason(stanza.New(NSRetract, "retract", "id", id).Append(moderated()))).
		Append(stanza.New(NSStanzaID, "stanza-id", "id", sid, "by", r.jid.String()))
	r.s.archive(ctx, r.jid, sid, t, r.jid, jid.JID{}, msg)
	r.sendAll(func(_ *occupant, to jid.JID) *stanza.Element { return msg.Copy().Set("to", to.String()) })
	return nil
}

// tombstone replaces the archived message it with a tombstone holding
// retracted (XEP-0424 §5.2, XEP-0425 §5), at the message's place, and
// drops it from the discussion history. Caller holds r.mu.
func (r *room) tombstone(ctx context.Context, it storage.Item, retracted *stanza.Element) error {
	arch := r.s.h.Archive(ArchiveName)
	tomb := stanza.New(stanza.NSClient, "message", "type", "groupchat")
	if orig, err := decode(string(it.Data)); err == nil {
		tomb.Set("from", orig.Get("from")).Set("id", orig.Get("id"))
		if oid := orig.Child(NSOccupantID, "occupant-id"); oid != nil {
			tomb.Append(oid)
		}
	}
	tomb.Append(retracted)
	if err := arch.Delete(ctx, r.jid.String(), it.ID); err != nil {
		return fmt.Errorf("retracting archived message: %w", err)
	}
	if _, err := arch.Append(ctx, r.jid.String(), storage.Item{ID: it.ID, Time: it.Time, With: it.With, Data: []byte(tomb.String())}); err != nil {
		return fmt.Errorf("archiving tombstone: %w", err)
	}
	for i := range r.history {
		if sid := r.history[i].msg.Child(NSStanzaID, "stanza-id"); sid != nil && sid.Get("id") == it.ID {
			r.historyBytes -= r.history[i].size
			r.history = append(r.history[:i:i], r.history[i+1:]...)
			break
		}
	}
	return nil
}

// selfRetract tombstones the archived message a retraction (XEP-0424)
// from occupant o points to, when o sent it (same occupant ID). The
// retraction itself is relayed and archived like any message. Caller
// holds r.mu.
func (r *room) selfRetract(ctx context.Context, o *occupant, retract *stanza.Element) {
	id := retract.Get("id")
	if id == "" || !r.cfg.EnableLogging {
		return
	}
	it, err := r.s.h.Archive(ArchiveName).Get(ctx, r.jid.String(), id)
	if err != nil {
		return
	}
	orig, err := decode(string(it.Data))
	if err != nil || orig.Child(NSRetract, "retracted") != nil {
		return
	}
	if oid := orig.Child(NSOccupantID, "occupant-id"); oid == nil || oid.Get("id") != o.id {
		return // not theirs: relayed, but the archive keeps the message
	}
	retracted := stanza.New(NSRetract, "retracted", "stamp", now().UTC().Format(stampLayout))
	if err := r.tombstone(ctx, it, retracted); err != nil {
		r.s.h.Logger().Error("muc: retraction failed", "room", r.jid.String(), "err", err)
	}
}

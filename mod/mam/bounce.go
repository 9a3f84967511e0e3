package mam

import (
	"context"
	"sync"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// Bounced messages leave the archives. The hooks archive a message before
// the router knows whether it can be delivered; when the recipient has no
// available session and no undelivered hook takes the message (offline
// storage full, refused by a hint, or absent), the router bounces it with
// service-unavailable, and the message must not stay in either archive as
// if it had been exchanged. bounced, the last undelivered hook, removes it
// from the recipient's archive (by the <stanza-id/> incoming added) and
// from a local sender's (by the sender's archive ID that incoming removed,
// remembered for the moment in senders).
//
// Not covered: a message the recipient's preferences kept out of its
// archive (nothing names the sender's item then), and messages bounced
// elsewhere (remote domains, blocked contacts); see docs/design/003-mam.md.

// senderGeneration is how many sender IDs a generation of senderIDs
// holds. An entry is needed only between the deliver hook and the
// undelivered hooks of the same routing call, microseconds later; two
// generations keep at least this many of the latest.
const senderGeneration = 4096

// senderIDs remembers, for messages archived for a recipient with no
// available session, the local sender's archive item: recipient item ID
// -> (sender, sender item ID).
type senderIDs struct {
	mu        sync.Mutex
	cur, prev map[string]senderItem
}

type senderItem struct {
	owner string
	id    string
}

func (s *senderIDs) put(recipientID string, it senderItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) >= senderGeneration || s.cur == nil {
		s.prev, s.cur = s.cur, make(map[string]senderItem)
	}
	s.cur[recipientID] = it
}

func (s *senderIDs) take(recipientID string) (senderItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]senderItem{s.cur, s.prev} {
		if it, ok := m[recipientID]; ok {
			delete(m, recipientID)
			return it, true
		}
	}
	return senderItem{}, false
}

// stanzaIDBy returns the id of st's <stanza-id/> by owner, or "".
func stanzaIDBy(st *stanza.Element, owner jid.JID) string {
	for _, c := range st.Elements() {
		if c.Name.Space == NSStanzaID && c.Name.Local == "stanza-id" && c.Get("by") == owner.String() {
			return c.Get("id")
		}
	}
	return ""
}

// noLiveSession reports whether owner has no session that messages to
// the bare JID reach (available, non-negative priority): then the
// message may be bounced.
func (m *mam) noLiveSession(owner jid.JID) bool {
	for _, s := range m.h.Sessions(owner) {
		if s.Presence() != nil && s.Priority() >= 0 {
			return false
		}
	}
	return true
}

// bounced is the last undelivered hook: nothing took msg, so the router
// bounces it; it leaves the archives. A requeued message (a session
// ended without acknowledging it) was delivered once and stays archived:
// the archive may be its only copy. It never takes the message.
func (m *mam) bounced(ctx context.Context, msg *stanza.Element, to jid.JID) bool {
	if requeued, _ := module.Requeued(ctx); requeued {
		return false
	}
	owner := to.Bare()
	id := stanzaIDBy(msg, owner)
	if id == "" {
		return false
	}
	m.remove(ctx, owner.String(), id)
	if s, ok := m.senders.take(id); ok {
		m.remove(ctx, s.owner, s.id)
	}
	return false
}

// remove deletes item id from owner's archive, once it is written.
func (m *mam) remove(ctx context.Context, owner, id string) {
	m.w.flush(owner)
	if err := m.h.Archive(ArchiveName).Delete(ctx, owner, id); err != nil {
		m.h.Logger().Error("removing a bounced message from the archive failed", "owner", owner, "err", err)
	}
}

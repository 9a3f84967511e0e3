// Package last implements XEP-0012: Last Activity. To the server it
// answers the server's uptime; to an account's bare JID, the time since
// the account's last logout (0 while it has an available session), to the
// account itself and to contacts it shares its presence with.
package last

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// NS is the XEP-0012 namespace.
const NS = "jabber:iq:last"

// Storage: Map "last", owner = the account's bare JID, key logoutKey,
// value = the Unix time of the last logout in seconds, in decimal.
const (
	mapName   = "last"
	logoutKey = "logout"
)

// now is the clock; tests replace it.
var now = time.Now

// Module answers last activity requests and records logouts. It has no
// settings. It reads rosters through the roster module.
var Module = module.New("last", struct{}{}, start).WithRequires("roster")

func start(h *module.Host, _ struct{}) error {
	l := &lastActivity{
		h:       h,
		store:   h.Map(mapName),
		started: now(),
		pending: map[jid.JID]int64{},
		kick:    make(chan struct{}, 1),
	}
	h.Go(l.flusher)
	h.AddFeature(module.ServerTarget, NS)
	h.AddFeature(module.AccountTarget, NS)
	h.HandleIQ(module.ServerTarget, stanza.Get, module.Name(NS, "query"), l.uptime)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "query"), l.account)
	h.OnSessionClosed(l.sessionClosed)
	h.OnUserDeleted(l.userDeleted)
	return nil
}

type lastActivity struct {
	h       *module.Host
	store   storage.Map
	started time.Time

	// Logout times wait in pending for flushDelay, so that the logouts of
	// that moment share one write (Map.SetMany): a write per logout made
	// the commit, with its lock and the reading connections' emptied page
	// caches, a tenth of a login's storage work. flushMu is held across a
	// write, so that a deleted account's time is never written after its
	// deletion. Once the host stops, logouts are written at once.
	mu       sync.Mutex
	pending  map[jid.JID]int64
	stopping bool
	kick     chan struct{} // capacity 1
	flushMu  sync.Mutex
}

// flushDelay is how long a logout time waits for others to share its
// write. A crash loses at most the logouts of that moment: XEP-0012 then
// answers with each account's logout before.
const flushDelay = 100 * time.Millisecond

// uptime answers a query to the server with the seconds since the module
// started on the host, which is when the host started (XEP-0012 §5).
func (l *lastActivity) uptime(context.Context, module.IQRequest) (*stanza.Element, error) {
	return result(now().Sub(l.started)), nil
}

// account answers a query to an account's bare JID (XEP-0012 §4): the
// account itself and contacts with a subscription to its presence ("from"
// or "both" in its roster) get the time since its last logout, or 0 while
// it has an available session; anyone else gets forbidden, and service-
// unavailable answers when no logout was ever recorded.
func (l *lastActivity) account(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	owner, asker := req.To.Bare(), req.From.Bare()
	if asker != owner {
		ok, err := sharesPresence(ctx, l.h, owner, asker)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, stanza.NewError("forbidden")
		}
	}
	for _, s := range l.h.Sessions(owner) {
		if s.Presence() != nil {
			return result(0), nil
		}
	}
	l.mu.Lock()
	at, ok := l.pending[owner]
	l.mu.Unlock()
	if ok {
		return result(now().Sub(time.Unix(at, 0))), nil
	}
	v, err := l.store.Get(ctx, owner.String(), logoutKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.NewError("service-unavailable")
	}
	if err != nil {
		return nil, err
	}
	sec, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return nil, err
	}
	return result(now().Sub(time.Unix(sec, 0))), nil
}

// result returns <query seconds='d'/> with d in whole seconds, never
// negative (the clock may have been set back).
func result(d time.Duration) *stanza.Element {
	sec := int64(max(d, 0) / time.Second)
	return stanza.New(NS, "query", "seconds", strconv.FormatInt(sec, 10))
}

// deletedKey marks the sessions of an account deleted while they were
// bound: their end records no logout.
var deletedKey = module.NewKey[bool]("last.account-deleted")

// sessionClosed records the logout time of the session's account. An
// account that was deleted (its sessions close after it is) gets no entry,
// which would otherwise outlive it; userDeleted marked its sessions, so
// no storage read is needed to tell. (An account deleted behind the
// server's back, by hearth deluser on a running server's database, gets
// its entry back when its sessions end, until it is deleted again.)
func (l *lastActivity) sessionClosed(ctx context.Context, s module.Session) {
	if deleted, _ := deletedKey.Get(s); deleted {
		return
	}
	bare, at := s.JID().Bare(), now().Unix()
	l.mu.Lock()
	if !l.stopping {
		l.pending[bare] = at
		l.mu.Unlock()
		select {
		case l.kick <- struct{}{}:
		default:
		}
		return
	}
	l.mu.Unlock()
	// The host stops: the flusher has written its last batch.
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if err := l.store.Set(context.WithoutCancel(ctx), bare.String(), logoutKey, []byte(strconv.FormatInt(at, 10))); err != nil {
		l.h.Logger().Error("recording logout failed", "user", bare.String(), "err", err)
	}
}

// flusher writes the pending logout times flushDelay after the first of
// a batch, and what is pending when the host stops.
func (l *lastActivity) flusher(ctx context.Context) {
	defer l.flush(context.WithoutCancel(ctx), true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(flushDelay):
		}
		l.flush(ctx, false)
	}
}

// flush writes what is pending in one batch; stop makes later logouts
// write at once. Times a failed write leaves are kept for the next batch
// unless a newer one came.
func (l *lastActivity) flush(ctx context.Context, stop bool) {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	batch := l.pending
	l.pending = map[jid.JID]int64{}
	l.stopping = l.stopping || stop
	l.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	entries := make([]storage.OwnerEntry, 0, len(batch))
	for owner, at := range batch {
		entries = append(entries, storage.OwnerEntry{Owner: owner.String(), Key: logoutKey, Value: []byte(strconv.FormatInt(at, 10))})
	}
	if err := l.store.SetMany(ctx, entries); err != nil {
		l.h.Logger().Error("recording logouts failed", "users", len(entries), "err", err)
		l.mu.Lock()
		for owner, at := range batch {
			if _, newer := l.pending[owner]; !newer {
				l.pending[owner] = at
			}
		}
		l.mu.Unlock()
	}
}

// userDeleted forgets the account's last logout. Store.DeleteOwner would
// too; doing it here keeps "last" correct with any deletion order.
func (l *lastActivity) userDeleted(ctx context.Context, user jid.JID) {
	for _, s := range l.h.Sessions(user.Bare()) {
		deletedKey.Set(s, true)
	}
	l.flushMu.Lock() // no batch holding the account's time is being written
	defer l.flushMu.Unlock()
	l.mu.Lock()
	delete(l.pending, user.Bare())
	l.mu.Unlock()
	if err := l.store.Delete(ctx, user.Bare().String(), logoutKey); err != nil {
		l.h.Logger().Error("forgetting last logout failed", "user", user.Bare().String(), "err", err)
	}
}

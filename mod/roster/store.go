package roster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"hearth/jid"
	"hearth/mod/internal/keylock"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// ErrFull is returned by Update when a new item would take the roster past
// Config.MaxItems.
var ErrFull = errors.New("roster: size limit reached")

// interest is what a session asked of the roster: it fetched it (and so
// receives pushes, RFC 6121 §2.1.6), with versioning or not.
type interest struct {
	versioned bool // the get carried a 'ver' attribute: pushes carry it too
}

// interestKey marks the sessions that requested the roster.
var interestKey = module.NewKey[interest]("roster.interest")

// Interested reports whether s requested the roster, which makes it an
// "interested resource" of RFC 6121 §2.1.6 that receives roster pushes.
func Interested(s module.Session) bool {
	_, ok := interestKey.Get(s)
	return ok
}

// Get returns owner's item for contact. An absent item is returned with
// only its JID and Hidden set (subscription None, InRoster false); an
// error is a storage failure.
func Get(ctx context.Context, h *module.Host, owner, contact jid.JID) (Item, error) {
	owner = owner.Bare()
	if st := stateOf(h); st != nil {
		if it, ok := cachedItem(st.cache, owner, contact); ok {
			return it, nil
		}
	}
	return load(ctx, h.Map(MapName), owner, contact)
}

// Items returns every stored item of owner, hidden ones included, in key
// order.
func Items(ctx context.Context, h *module.Host, owner jid.JID) ([]Item, error) {
	owner = owner.Bare()
	if st := stateOf(h); st != nil {
		return cachedItems(st.cache, owner, func() ([]Item, error) { return loadItems(ctx, h, owner) })
	}
	return loadItems(ctx, h, owner)
}

func loadItems(ctx context.Context, h *module.Host, owner jid.JID) ([]Item, error) {
	entries, err := h.Map(MapName).All(ctx, owner.String())
	if err != nil {
		return nil, fmt.Errorf("roster of %s: %w", owner, err)
	}
	items := make([]Item, 0, len(entries))
	for _, e := range entries {
		c, err := jid.Parse(e.Key)
		if err != nil {
			return nil, fmt.Errorf("roster of %s: key %q: %w", owner, e.Key, err)
		}
		it, err := decode(c, e.Value)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// Update changes owner's item for contact atomically with respect to every
// other Update and roster set of owner: it loads the item (as Get returns
// it), calls fn with it, and when fn reports a change
// stores the result, or deletes it when it is a hidden item left without a
// pending request. When the item changed as clients see it, Update bumps
// the roster version and pushes the item (or its removal) to owner's
// interested resources before it returns, so pushes reach each resource in
// the order of the changes.
//
// fn must not block nor call into the router or the roster (it runs under
// owner's lock). Update returns the item as it is now, ErrFull when a new
// item would exceed the size limit (then nothing changed), or a storage
// error.
func Update(ctx context.Context, h *module.Host, owner, contact jid.JID, fn func(it *Item) (changed bool)) (Item, error) {
	owner = owner.Bare()
	defer lockOwner(owner.String())()
	m := h.Map(MapName)
	// Read from storage, not the cache: the item is about to change.
	old, err := load(ctx, m, owner, contact)
	if err != nil {
		return Item{}, err
	}
	it := old.clone()
	if !fn(&it) {
		return old, nil
	}
	it.JID, it.stored = contact, old.stored
	it.normalize()
	// However the write below ends, the cached roster may be stale.
	defer invalidate(h, owner)
	if it.removable() {
		if old.stored {
			if err := m.Delete(ctx, owner.String(), contact.String()); err != nil {
				return Item{}, fmt.Errorf("roster of %s: deleting %s: %w", owner, contact, err)
			}
		}
		it.stored = false
	} else {
		if !old.stored {
			if err := checkSize(ctx, h, m, owner); err != nil {
				return old, err
			}
		}
		if err := store(ctx, m, owner, &it); err != nil {
			return Item{}, err
		}
		it.stored = true
	}
	var change *stanza.Element
	switch {
	case old.InRoster() && !it.InRoster():
		change = removal(contact)
	case it.InRoster() && (!old.InRoster() || !sameView(&old, &it)):
		change = it.Element()
	}
	if change != nil {
		ver, err := bumpVersion(ctx, h, owner)
		if err != nil {
			return Item{}, err
		}
		push(h, owner, change, ver)
	}
	return it, nil
}

// removal is the pushed form of a removed item (RFC 6121 §2.5.2).
func removal(contact jid.JID) *stanza.Element {
	return stanza.New(NS, "item", "jid", contact.String(), "subscription", "remove")
}

func load(ctx context.Context, m storage.Map, owner, contact jid.JID) (Item, error) {
	b, err := m.Get(ctx, owner.String(), contact.String())
	if errors.Is(err, storage.ErrNotFound) {
		// A new item is hidden until it gets a state of its own or the
		// user adds it (normalize, roster set).
		return Item{JID: contact, Hidden: true}, nil
	}
	if err != nil {
		return Item{}, fmt.Errorf("roster of %s: loading %s: %w", owner, contact, err)
	}
	return decode(contact, b)
}

func store(ctx context.Context, m storage.Map, owner jid.JID, it *Item) error {
	b, err := encode(it)
	if err != nil {
		return err
	}
	if err := m.Set(ctx, owner.String(), it.JID.String(), b); err != nil {
		return fmt.Errorf("roster of %s: storing %s: %w", owner, it.JID, err)
	}
	return nil
}

// checkSize returns ErrFull when owner's roster cannot take one more item.
func checkSize(ctx context.Context, h *module.Host, m storage.Map, owner jid.JID) error {
	limit := configFor(h).MaxItems
	if limit <= 0 {
		return nil
	}
	entries, err := m.All(ctx, owner.String())
	if err != nil {
		return fmt.Errorf("roster of %s: %w", owner, err)
	}
	if len(entries) >= limit {
		return ErrFull
	}
	return nil
}

// Versions are "<epoch>-<counter>": the counter grows with every visible
// change and the random epoch, drawn when a roster first changes, keeps a
// roster deleted and created again from reusing a version a client cached.
// A roster that never changed (and so is empty) has version initialVersion.
const initialVersion = "0"

// version returns owner's roster version.
func version(ctx context.Context, h *module.Host, owner jid.JID) (string, error) {
	b, err := h.Map(VersionMapName).Get(ctx, owner.String(), versionKey)
	if errors.Is(err, storage.ErrNotFound) {
		return initialVersion, nil
	}
	if err != nil {
		return "", fmt.Errorf("roster version of %s: %w", owner, err)
	}
	return string(b), nil
}

// bumpVersion stores and returns the next version of owner's roster.
// Caller holds owner's lock.
func bumpVersion(ctx context.Context, h *module.Host, owner jid.JID) (string, error) {
	cur, err := version(ctx, h, owner)
	if err != nil {
		return "", err
	}
	epoch, n, ok := strings.Cut(cur, "-")
	counter, perr := strconv.ParseUint(n, 10, 64)
	if !ok || perr != nil {
		epoch, counter = stanza.NewID(), 0
	}
	next := epoch + "-" + strconv.FormatUint(counter+1, 10)
	if err := h.Map(VersionMapName).Set(ctx, owner.String(), versionKey, []byte(next)); err != nil {
		return "", fmt.Errorf("roster version of %s: %w", owner, err)
	}
	return next, nil
}

// push sends a roster push carrying item to every interested resource of
// owner (RFC 6121 §2.1.6): an IQ set without 'from', which clients take as
// coming from their own account. Resources that requested the roster with
// versioning get ver (RFC 6121 §2.6.3).
func push(h *module.Host, owner jid.JID, item *stanza.Element, ver string) {
	for _, s := range h.Sessions(owner) {
		in, ok := interestKey.Get(s)
		if !ok {
			continue
		}
		q := stanza.New(NS, "query")
		if in.versioned {
			q.Set("ver", ver)
		}
		q.Append(item)
		s.Send(stanza.New(stanza.NSClient, "iq", "type", stanza.Set, "id", "push-"+stanza.NewID(), "to", s.JID().String()).Append(q))
	}
}

// ownerLocks serialises the changes of each roster. No other lock is
// taken while one is held.
var ownerLocks keylock.Locks

// lockOwner locks owner's roster and returns the unlock function.
func lockOwner(owner string) (unlock func()) { return ownerLocks.Lock(owner) }

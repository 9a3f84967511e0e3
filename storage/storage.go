// Package storage defines the few shapes in which hearth keeps data: Map
// (small values per owner and key), Archive (time-ordered items per owner,
// with the query semantics of XEP-0313 and XEP-0059) and Accounts (users and
// their SCRAM credentials). Modules ask for a named Map or Archive and never
// add backend code. Implementations: sqlstore (SQLite, PostgreSQL, MySQL)
// and memstore; storagetest is the conformance suite both must pass.
//
// Owners are strings, by convention a bare JID ("user@host", or a service
// entity such as "room@muc.host"); the part after the last '@' (or the whole
// owner when it has none) is the owner's host, used for per-host export and
// deletion.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"hearth/sasl"
)

// Errors returned by every implementation.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrExists   = errors.New("storage: already exists")
)

// Store is an open storage backend. All methods are safe for concurrent use.
type Store interface {
	Accounts() Accounts
	// Map returns the map store called name (e.g. "roster"); the same name
	// always designates the same data. Names are [a-z0-9_:.-]{1,64}.
	Map(name string) Map
	// Archive returns the archive called name (e.g. "mam", "offline").
	Archive(name string) Archive
	// DeleteOwner removes everything owner has in every Map and Archive.
	DeleteOwner(ctx context.Context, owner string) error
	Close() error
}

// Account is one user account.
type Account struct {
	Host, User  string // normalised domainpart and localpart
	Credentials sasl.Credentials
	Created     time.Time
}

// Accounts keeps user accounts.
type Accounts interface {
	// Create adds an account; ErrExists if host/user exists.
	Create(ctx context.Context, host, user string, cred sasl.Credentials) error
	// Get returns an account or ErrNotFound.
	Get(ctx context.Context, host, user string) (Account, error)
	// SetCredentials replaces the credentials; ErrNotFound if absent.
	SetCredentials(ctx context.Context, host, user string, cred sasl.Credentials) error
	// Delete removes the account only (callers also call Store.DeleteOwner);
	// ErrNotFound if absent.
	Delete(ctx context.Context, host, user string) error
	// List returns the accounts of host sorted by user, or of all hosts
	// (sorted by host, user) when host is "". Credentials are included.
	List(ctx context.Context, host string) ([]Account, error)
}

// Entry is one key/value pair of a Map.
type Entry struct {
	Key   string
	Value []byte
}

// OwnerEntry is one value of one owner, for Map.SetMany.
type OwnerEntry struct {
	Owner, Key string
	Value      []byte
}

// Map keeps small opaque values per owner and key.
type Map interface {
	// Get returns the value or ErrNotFound.
	Get(ctx context.Context, owner, key string) ([]byte, error)
	// Set creates or replaces the value.
	Set(ctx context.Context, owner, key string, value []byte) error
	// SetMany creates or replaces the values of entries, of any owners,
	// all or none (in one transaction where the backend has them): a
	// batch costs about what one Set does.
	SetMany(ctx context.Context, entries []OwnerEntry) error
	// Delete removes the key; deleting an absent key is not an error.
	Delete(ctx context.Context, owner, key string) error
	// All returns every entry of owner sorted by key (empty, not an error, when none).
	All(ctx context.Context, owner string) ([]Entry, error)
	// Owners returns the owners with at least one entry, sorted, in host
	// (all hosts when host is "").
	Owners(ctx context.Context, host string) ([]string, error)
}

// Item is one archived item.
type Item struct {
	// ID is unique in the whole store and stable (XEP-0359 stanza-id).
	// Append assigns one from NewItemID when empty.
	ID string
	// Time is when the item was archived; Append sets time.Now() when zero.
	// Stored with microsecond precision, in UTC.
	Time time.Time
	// With is the peer the item concerns (a bare or full JID string, as the
	// caller decides), used by Query.With; may be empty.
	With string
	// Data is the payload, typically a serialised stanza.
	Data []byte
}

// Query selects archived items of one owner. Items are totally ordered by
// (Time, insertion order); IDs only name positions.
type Query struct {
	Start, End time.Time // inclusive bounds, zero = unbounded
	With       string    // exact match on Item.With; "" = any
	// WithPrefix matches With values that start with With+"/" as well, so a
	// bare JID matches the full JIDs stored under it (XEP-0313 §4.1.1).
	WithPrefix bool
	IDs        []string // only these ids ("" = no filter); order is archive order
	AfterID    string   // only items after this one; ErrNotFound if unknown
	BeforeID   string   // only items before this one; ErrNotFound if unknown
	// Last selects the last Limit matching items instead of the first
	// (RSM <before/>); results are still in ascending order.
	Last  bool
	Limit int // maximum items returned; 0 = no limit
	// CountLimit bounds the work of counting: when more than CountLimit
	// items match, Result.Count is -1 (unknown) instead of the total.
	// Counting is linear in the matches on every backend, so a client
	// paging through a large archive would otherwise pay for the whole
	// archive on every page. 0 = no bound.
	CountLimit int
}

// Result is one page of a Query.
type Result struct {
	Items []Item // ascending order
	// Complete is true when no further matching item exists beyond this
	// page in the direction of the query (after the last item for forward
	// queries, before the first for Last queries).
	Complete bool
	// Count is the total number of items matching the query without Limit,
	// AfterID/BeforeID (XEP-0059 <count/>), or -1 when it exceeds
	// Query.CountLimit.
	Count int
}

// Archive keeps time-ordered items per owner.
type Archive interface {
	// Append stores item for owner and returns it with ID and Time set.
	// ErrExists if an explicit ID is already used.
	Append(ctx context.Context, owner string, item Item) (Item, error)
	Query(ctx context.Context, owner string, q Query) (Result, error)
	// Get returns one item by id or ErrNotFound.
	Get(ctx context.Context, owner, id string) (Item, error)
	// Delete removes the listed items of owner (unknown ids are ignored).
	Delete(ctx context.Context, owner string, ids ...string) error
	// DeleteBefore removes items older than t, of owner or of every owner when owner is "".
	DeleteBefore(ctx context.Context, owner string, t time.Time) (int64, error)
	// Count returns the number of items of owner.
	Count(ctx context.Context, owner string) (int, error)
}

// MustValidName panics unless name is a valid Map or Archive name
// ([a-z0-9_:.-]{1,64}). Implementations call it in Store.Map and
// Store.Archive: names are constants in module code, so an invalid one is
// a programming error best found at startup.
func MustValidName(name string) {
	ok := len(name) >= 1 && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_:.-", c) >= 0
	}
	if !ok {
		panic(fmt.Sprintf("storage: invalid map or archive name %q", name))
	}
}

// OwnerHost returns the host part of owner (see the package comment): what
// follows the last '@', or the whole owner.
func OwnerHost(owner string) string {
	return owner[strings.LastIndexByte(owner, '@')+1:]
}

package storage

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// idEncoding keeps the byte order of IDs in their text: base32hex's
// alphabet is in ASCII order.
var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// NewItemID returns a new archive item ID (a XEP-0359 stanza-id): 26
// characters, unique and unguessable (72 random bits), and increasing with
// the time of its creation, so that the unique index on IDs grows at its
// right edge like the time index does. Random IDs scatter inserts over the
// whole index, which halves SQLite's archive insert rate
// (BenchmarkArchiveAppendParallel) and costs the servers' B-trees too.
//
// The time prefix says when the item was archived, which its stored
// timestamp says anyway; the order of IDs is not the order of items
// (XEP-0313 orders by time, then insertion), only a hint to the index.
func NewItemID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMicro())<<8) // 56 bits of microseconds
	rand.Read(b[7:])                                                     // never fails (crypto/rand panics instead)
	return idEncoding.EncodeToString(b[:])
}

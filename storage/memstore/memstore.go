// Package memstore is an in-memory storage.Store, for tests and ephemeral data.
package memstore

import "hearth/storage"

// New returns an empty in-memory store.
func New() storage.Store { panic("unimplemented") }

package memstore_test

import (
	"testing"

	"hearth/storage"
	"hearth/storage/memstore"
	"hearth/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

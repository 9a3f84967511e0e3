package pep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"hearth/jid"
	"hearth/mod/internal/keylock"
	"hearth/stanza"
	"hearth/storage"
)

// item is one published item as stored.
type item struct {
	ID        string    `json:"id"`
	Published time.Time `json:"t"`
	XML       string    `json:"x"` // the whole <item/> element
}

// element decodes the stored <item/>.
func (it item) element() (*stanza.Element, error) {
	el, err := stanza.NewDecoder(strings.NewReader(it.XML), stanza.Limits{}).Next()
	if err != nil {
		return nil, fmt.Errorf("pep: stored item %q: %w", it.ID, err)
	}
	return el, nil
}

// store reads and writes the nodes of accounts. Changes of one account are
// serialised by its lock (lock); reads take no lock.
type store struct {
	nodes, items storage.Map
}

// node returns owner's node configuration and whether the node exists.
func (s store) node(ctx context.Context, owner jid.JID, node string) (nodeConfig, bool, error) {
	b, err := s.nodes.Get(ctx, owner.String(), node)
	if errors.Is(err, storage.ErrNotFound) {
		return nodeConfig{}, false, nil
	}
	if err != nil {
		return nodeConfig{}, false, fmt.Errorf("pep: node %q of %s: %w", node, owner, err)
	}
	var c nodeConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nodeConfig{}, false, fmt.Errorf("pep: node %q of %s: %w", node, owner, err)
	}
	return c, true, nil
}

// nodeEntry is one node of an account with its configuration.
type nodeEntry struct {
	Name   string
	Config nodeConfig
}

// all returns owner's nodes sorted by name.
func (s store) all(ctx context.Context, owner jid.JID) ([]nodeEntry, error) {
	entries, err := s.nodes.All(ctx, owner.String())
	if err != nil {
		return nil, fmt.Errorf("pep: nodes of %s: %w", owner, err)
	}
	out := make([]nodeEntry, 0, len(entries))
	for _, e := range entries {
		var c nodeConfig
		if err := json.Unmarshal(e.Value, &c); err != nil {
			return nil, fmt.Errorf("pep: node %q of %s: %w", e.Key, owner, err)
		}
		out = append(out, nodeEntry{e.Key, c})
	}
	return out, nil
}

// setNode stores owner's node configuration. Caller holds owner's lock.
func (s store) setNode(ctx context.Context, owner jid.JID, node string, c nodeConfig) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := s.nodes.Set(ctx, owner.String(), node, b); err != nil {
		return fmt.Errorf("pep: storing node %q of %s: %w", node, owner, err)
	}
	return nil
}

// deleteNode removes owner's node and its items. Caller holds owner's lock.
func (s store) deleteNode(ctx context.Context, owner jid.JID, node string) error {
	if err := s.items.Delete(ctx, owner.String(), node); err != nil {
		return fmt.Errorf("pep: deleting items of %q of %s: %w", node, owner, err)
	}
	if err := s.nodes.Delete(ctx, owner.String(), node); err != nil {
		return fmt.Errorf("pep: deleting node %q of %s: %w", node, owner, err)
	}
	return nil
}

// countNodes returns the number of owner's nodes.
func (s store) countNodes(ctx context.Context, owner jid.JID) (int, error) {
	entries, err := s.nodes.All(ctx, owner.String())
	if err != nil {
		return 0, fmt.Errorf("pep: nodes of %s: %w", owner, err)
	}
	return len(entries), nil
}

// itemsOf returns the items of owner's node, oldest first.
func (s store) itemsOf(ctx context.Context, owner jid.JID, node string) ([]item, error) {
	b, err := s.items.Get(ctx, owner.String(), node)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pep: items of %q of %s: %w", node, owner, err)
	}
	var items []item
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("pep: items of %q of %s: %w", node, owner, err)
	}
	return items, nil
}

// setItems replaces the items of owner's node. Caller holds owner's lock.
func (s store) setItems(ctx context.Context, owner jid.JID, node string, items []item) error {
	if len(items) == 0 {
		if err := s.items.Delete(ctx, owner.String(), node); err != nil {
			return fmt.Errorf("pep: items of %q of %s: %w", node, owner, err)
		}
		return nil
	}
	b, err := json.Marshal(items)
	if err != nil {
		return err
	}
	if err := s.items.Set(ctx, owner.String(), node, b); err != nil {
		return fmt.Errorf("pep: storing items of %q of %s: %w", node, owner, err)
	}
	return nil
}

// trim keeps the newest max items.
func trim(items []item, max int) []item {
	if len(items) > max {
		return items[len(items)-max:]
	}
	return items
}

// ownerLocks serialises the changes of each account's nodes. No other
// lock is taken while one is held, and nothing is routed.
var ownerLocks keylock.Locks

// lock locks owner's nodes and returns the unlock function.
func lock(owner jid.JID) (unlock func()) { return ownerLocks.Lock(owner.String()) }

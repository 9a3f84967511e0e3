package dump

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// RosterSection returns the section of rosters (XEP-0227 §4.4): a <query
// xmlns='jabber:iq:roster'/> with the items as a roster get returns them
// (name, subscription, ask, approved, groups), followed by the pending
// inbound subscription requests as the <presence type='subscribe'/>
// stanzas the contacts sent (§4.9). Items are in bytewise order of their
// JIDs; hidden items (a pending request from someone not in the roster)
// appear as a <presence/> only. It reads and writes through the exported
// API of hearth/mod/roster, so the stored form stays that package's
// business; an import is subject to its size limit ([roster] max_items).
// The roster version is not exported: an import starts a new one.
func RosterSection() Section {
	return Section{
		Name:     "roster",
		Elements: []xml.Name{{Space: roster.NS, Local: "query"}, {Space: stanza.NSClient, Local: "presence"}},
		Export:   exportRoster,
		Import:   importRoster,
	}
}

func exportRoster(ctx context.Context, st storage.Store, user jid.JID) ([]*stanza.Element, error) {
	items, err := roster.Items(ctx, offlineHost(st, user.Domain()), user)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b roster.Item) int { return strings.Compare(a.JID.String(), b.JID.String()) })
	query := stanza.New(roster.NS, "query")
	var pending []*stanza.Element
	for _, it := range items {
		if !it.Hidden {
			query.Append(it.Element())
		}
		if it.PendingIn != nil {
			p := it.PendingIn.DeepCopy()
			p.Name = xml.Name{Space: stanza.NSClient, Local: "presence"}
			p.Set("from", it.JID.String()) // the key; the stanza may carry a full JID
			pending = append(pending, p)
		}
	}
	if len(query.Children) == 0 && len(pending) == 0 {
		return nil, nil
	}
	return append([]*stanza.Element{query}, pending...), nil
}

// rosterEntry is what a dump says about one contact.
type rosterEntry struct {
	item    *stanza.Element // the <item/>, or nil
	pending *stanza.Element // the <presence type='subscribe'/>, or nil
}

func importRoster(ctx context.Context, st storage.Store, user jid.JID, els []*stanza.Element) error {
	entries := map[jid.JID]*rosterEntry{}
	var order []jid.JID
	entry := func(attr string) (*rosterEntry, error) {
		c, err := jid.Parse(attr)
		if err != nil {
			return nil, fmt.Errorf("contact %q: %w", attr, err)
		}
		c = c.Bare()
		e := entries[c]
		if e == nil {
			e = &rosterEntry{}
			entries[c] = e
			order = append(order, c)
		}
		return e, nil
	}
	for _, el := range els {
		switch el.Name.Local {
		case "query":
			for _, it := range el.Elements() {
				if it.Name != (xml.Name{Space: roster.NS, Local: "item"}) || it.Get("subscription") == "remove" {
					continue
				}
				e, err := entry(it.Get("jid"))
				if err != nil {
					return err
				}
				e.item = it
			}
		case "presence":
			if el.Get("type") != "subscribe" {
				continue
			}
			e, err := entry(el.Get("from"))
			if err != nil {
				return err
			}
			e.pending = el
		}
	}
	h := offlineHost(st, user.Domain())
	for _, c := range order {
		e := entries[c]
		_, err := roster.Update(ctx, h, user, c, func(it *roster.Item) bool {
			if e.item != nil {
				it.Hidden = false
				it.Name = e.item.Get("name")
				it.Subscription = parseSubscription(e.item.Get("subscription"))
				it.Ask = e.item.Get("ask") == "subscribe"
				it.Approved = e.item.Get("approved") == "true" || e.item.Get("approved") == "1"
				it.Groups = nil
				for _, g := range e.item.Elements() {
					if g.Name == (xml.Name{Space: roster.NS, Local: "group"}) {
						it.Groups = append(it.Groups, g.Text())
					}
				}
			}
			if e.pending != nil {
				p := e.pending.DeepCopy()
				p.Set("from", c.String())
				p.Set("to", user.String())
				it.PendingIn = p
			}
			return true
		})
		if errors.Is(err, roster.ErrFull) {
			return fmt.Errorf("%s: %w (raise [roster] max_items for the import)", c, err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseSubscription reads a 'subscription' attribute; anything unknown is
// none, as RFC 6121 §2.1.2.5 has a roster item without one.
func parseSubscription(s string) roster.Subscription {
	switch s {
	case "to":
		return roster.To
	case "from":
		return roster.From
	case "both":
		return roster.Both
	}
	return roster.None
}

// offlineHost returns a module.Host over st for domain with no sessions
// and no router, for calling module APIs from a command-line tool while
// the server is not running.
func offlineHost(st storage.Store, domain string) *module.Host {
	var wg sync.WaitGroup
	return module.NewHost(context.Background(), "dump", module.NewRegistry(domain), offlineRouter{}, st,
		slog.New(slog.DiscardHandler), &wg)
}

// offlineRouter is the module.Router of an offline host: there are no
// sessions, and nothing can be sent.
type offlineRouter struct{}

var _ module.Router = offlineRouter{}

var errOffline = errors.New("dump: the server is not running: nothing can be sent")

func (offlineRouter) Route(context.Context, *stanza.Element) error { return errOffline }
func (offlineRouter) Sessions(jid.JID) []module.Session            { return nil }
func (offlineRouter) Session(jid.JID) module.Session               { return nil }
func (offlineRouter) SendIQ(context.Context, *stanza.Element) (*stanza.Element, error) {
	return nil, errOffline
}
func (offlineRouter) IsLocal(string) bool   { return false }
func (offlineRouter) IsService(string) bool { return false }

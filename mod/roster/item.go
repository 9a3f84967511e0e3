package roster

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"hearth/jid"
	"hearth/stanza"
)

// Subscription is the 'subscription' of a roster item (RFC 6121 §2.1.2.5):
// whether the user receives the contact's presence (To), the contact
// receives the user's (From), both, or neither.
type Subscription uint8

// Subscription values. Both is To|From.
const (
	None Subscription = 0
	To   Subscription = 1 << 0
	From Subscription = 1 << 1
	Both              = To | From
)

// HasTo reports whether the user is subscribed to the contact's presence
// (To or Both).
func (s Subscription) HasTo() bool { return s&To != 0 }

// HasFrom reports whether the contact is subscribed to the user's presence
// (From or Both).
func (s Subscription) HasFrom() bool { return s&From != 0 }

// String returns the attribute value: "none", "to", "from" or "both".
func (s Subscription) String() string {
	switch s {
	case To:
		return "to"
	case From:
		return "from"
	case Both:
		return "both"
	}
	return "none"
}

// parseSubscription is the inverse of String; unknown values read as None.
func parseSubscription(s string) Subscription {
	switch s {
	case "to":
		return To
	case "from":
		return From
	case "both":
		return Both
	}
	return None
}

// Item is one roster item with the subscription state of RFC 6121
// Appendix A: Subscription plus the pending flags.
type Item struct {
	JID    jid.JID  // the contact
	Name   string   // the user's name for the contact, "" for none
	Groups []string // in the order the user gave them
	// Subscription is the established subscription.
	Subscription Subscription
	// Ask is "Pending Out": the user asked to subscribe to the contact and
	// has had no answer yet (shown as ask='subscribe').
	Ask bool
	// PendingIn is "Pending In": the subscribe stanza the contact sent,
	// kept to be redelivered until the user answers it (RFC 6121 §3.1.3);
	// nil when there is none. It is never shown to clients as an attribute.
	PendingIn *stanza.Element
	// Approved is a subscription pre-approval (RFC 6121 §3.4): the
	// contact's next subscription request is approved automatically.
	Approved bool
	// Hidden marks an item the user never added that only records an
	// inbound request. Update clears it once the item has a subscription,
	// Ask or Approved, and deletes a hidden item left without PendingIn.
	Hidden bool

	stored bool // loaded from storage (false: a new item)
}

// InRoster reports whether the item is part of the user's roster as
// clients see it: stored and not hidden.
func (it *Item) InRoster() bool { return it.stored && !it.Hidden }

// clone returns a copy of it that shares nothing mutable with it.
func (it Item) clone() Item {
	it.Groups = slices.Clone(it.Groups)
	if it.PendingIn != nil {
		it.PendingIn = it.PendingIn.Copy()
	}
	return it
}

// normalize applies the visibility rules: an item with any subscription
// state of its own is part of the roster for good.
func (it *Item) normalize() {
	if it.Subscription != None || it.Ask || it.Approved {
		it.Hidden = false
	}
}

// removable reports whether Update deletes the item instead of storing it:
// a hidden item that no longer records a request has nothing to keep.
func (it *Item) removable() bool { return it.Hidden && it.PendingIn == nil }

// Element returns the <item/> element of it as roster results and pushes
// carry it (RFC 6121 §2.1.2).
func (it *Item) Element() *stanza.Element {
	el := stanza.New(NS, "item", "jid", it.JID.String())
	el.Set("name", it.Name)
	el.Set("subscription", it.Subscription.String())
	if it.Ask {
		el.Set("ask", "subscribe")
	}
	if it.Approved {
		el.Set("approved", "true")
	}
	for _, g := range it.Groups {
		el.Append(stanza.New(NS, "group").AppendText(g))
	}
	return el
}

// sameView reports whether a and b look the same to clients.
func sameView(a, b *Item) bool {
	return a.Name == b.Name && a.Subscription == b.Subscription && a.Ask == b.Ask &&
		a.Approved == b.Approved && slices.Equal(a.Groups, b.Groups)
}

// record is the stored form of an Item: short keys, empty fields omitted.
type record struct {
	Name         string   `json:"n,omitempty"`
	Groups       []string `json:"g,omitempty"`
	Subscription string   `json:"s,omitempty"`
	Ask          bool     `json:"a,omitempty"`
	PendingIn    string   `json:"p,omitempty"` // the subscribe stanza as XML
	Approved     bool     `json:"ap,omitempty"`
	Hidden       bool     `json:"h,omitempty"`
}

// encode returns the stored form of it.
func encode(it *Item) ([]byte, error) {
	r := record{Name: it.Name, Groups: it.Groups, Ask: it.Ask, Approved: it.Approved, Hidden: it.Hidden}
	if it.Subscription != None {
		r.Subscription = it.Subscription.String()
	}
	if it.PendingIn != nil {
		r.PendingIn = it.PendingIn.String()
	}
	return json.Marshal(r)
}

// decode reads the stored form of the item for contact.
func decode(contact jid.JID, b []byte) (Item, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Item{}, fmt.Errorf("roster item %s: %w", contact, err)
	}
	it := Item{
		JID: contact, Name: r.Name, Groups: r.Groups, Subscription: parseSubscription(r.Subscription),
		Ask: r.Ask, Approved: r.Approved, Hidden: r.Hidden, stored: true,
	}
	if r.PendingIn != "" {
		p, err := stanza.NewDecoder(strings.NewReader(r.PendingIn), stanza.Limits{}).Next()
		if err != nil {
			return Item{}, fmt.Errorf("roster item %s: pending request: %w", contact, err)
		}
		it.PendingIn = p
	}
	return it, nil
}

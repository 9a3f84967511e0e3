package pep

import (
	"fmt"
	"slices"
	"strconv"

	"hearth/stanza"
)

// Access models of XEP-0060 §4.5 that PEP nodes support.
const (
	accessOpen      = "open"
	accessPresence  = "presence"
	accessRoster    = "roster"
	accessWhitelist = "whitelist"
)

// Values of pubsub#send_last_published_item.
const (
	sendNever         = "never"
	sendOnSub         = "on_sub"
	sendOnSubPresence = "on_sub_and_presence"
)

// nodeConfig is the configuration of one node, stored as JSON.
type nodeConfig struct {
	Access        string   `json:"access"`
	MaxItems      int      `json:"max_items"`
	Persist       bool     `json:"persist"`
	SendLast      string   `json:"send_last"`
	NotifyRetract bool     `json:"notify_retract"`
	Title         string   `json:"title,omitempty"`
	RosterGroups  []string `json:"roster_groups,omitempty"`

	// Nodes of the standalone service (service.go) only: the bare JIDs
	// with the owner affiliation (the creator) and the subscribed JIDs.
	Owners        []string `json:"owners,omitempty"`
	Subscriptions []string `json:"subscriptions,omitempty"`
}

// defaultConfig is the configuration of a new node (XEP-0163 §4.1: the
// presence access model, one persisted item, last item sent).
func defaultConfig() nodeConfig {
	return nodeConfig{Access: accessPresence, MaxItems: 1, Persist: true, SendLast: sendOnSubPresence, NotifyRetract: true}
}

// Fields of the node configuration form (XEP-0060 §16.4.4).
const (
	fieldAccess        = "pubsub#access_model"
	fieldMaxItems      = "pubsub#max_items"
	fieldPersist       = "pubsub#persist_items"
	fieldSendLast      = "pubsub#send_last_published_item"
	fieldNotifyRetract = "pubsub#notify_retract"
	fieldTitle         = "pubsub#title"
	fieldRosterGroups  = "pubsub#roster_groups_allowed"
	fieldType          = "FORM_TYPE"
)

// fixedFields are options whose value this package's behaviour fixes:
// they are shown in the configuration form and accepted, in configure and
// publish-options, with that value only, so that clients that state them
// (bookmarks, message-displayed sync) are not refused for saying what is
// true anyway.
var fixedFields = []struct {
	Var, Type, Value, Label string
}{
	{"pubsub#deliver_payloads", stanza.FieldBoolean, "1", "Deliver payloads with event notifications"},
	{"pubsub#deliver_notifications", stanza.FieldBoolean, "1", "Deliver event notifications"},
	{"pubsub#notify_delete", stanza.FieldBoolean, "1", "Notify subscribers when the node is deleted"},
	{"pubsub#notify_config", stanza.FieldBoolean, "0", "Notify subscribers when the configuration changes"},
	{"pubsub#presence_based_delivery", stanza.FieldBoolean, "1", "Deliver notifications only to available resources"},
	{"pubsub#purge_offline", stanza.FieldBoolean, "0", "Purge items when the owner goes offline"},
	{"pubsub#publish_model", stanza.FieldListSingle, "publishers", "Who may publish"},
}

// form returns the configurable fields of c.
func (c nodeConfig) form(limit int) *stanza.Form {
	return &stanza.Form{Type: stanza.FormForm, Fields: []stanza.Field{
		{Var: fieldType, Type: stanza.FieldHidden, Values: []string{NSNodeConfig}},
		{Var: fieldAccess, Type: stanza.FieldListSingle, Label: "Who may subscribe and retrieve items", Values: []string{c.Access},
			Options: []stanza.Option{{Value: accessOpen}, {Value: accessPresence}, {Value: accessRoster}, {Value: accessWhitelist}}},
		{Var: fieldMaxItems, Type: stanza.FieldTextSingle, Label: fmt.Sprintf("Maximum number of items to persist (at most %d, or max)", limit), Values: []string{strconv.Itoa(c.MaxItems)}},
		{Var: fieldPersist, Type: stanza.FieldBoolean, Label: "Persist items to storage", Values: []string{boolValue(c.Persist)}},
		{Var: fieldSendLast, Type: stanza.FieldListSingle, Label: "When to send the last published item", Values: []string{c.SendLast},
			Options: []stanza.Option{{Value: sendNever}, {Value: sendOnSub}, {Value: sendOnSubPresence}}},
		{Var: fieldNotifyRetract, Type: stanza.FieldBoolean, Label: "Notify subscribers when items are retracted", Values: []string{boolValue(c.NotifyRetract)}},
		{Var: fieldTitle, Type: stanza.FieldTextSingle, Label: "A friendly name for the node", Values: []string{c.Title}},
		{Var: fieldRosterGroups, Type: stanza.FieldListMulti, Label: "Roster groups allowed to subscribe", Values: slices.Clone(c.RosterGroups)},
	}}
}

// form returns the owner's configuration form of c (XEP-0060 §8.2) with
// the fixed fields.
func (c nodeConfig) fullForm(limit int) *stanza.Form {
	f := c.form(limit)
	for _, fx := range fixedFields {
		fd := stanza.Field{Var: fx.Var, Type: fx.Type, Label: fx.Label, Values: []string{fx.Value}}
		if fx.Type == stanza.FieldListSingle {
			fd.Options = []stanza.Option{{Value: fx.Value}}
		}
		f.Fields = append(f.Fields, fd)
	}
	return f
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// parseBool reads a XEP-0004 boolean.
func parseBool(s string) (bool, error) {
	switch s {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

// setField sets the field f of c from its submitted values; limit is
// Config.MaxItems. It fails on an unknown field or an invalid value. The
// fields this package's behaviour fixes (payloads and notifications are
// always delivered) are accepted only with that value.
func (c *nodeConfig) setField(f stanza.Field, limit int) error {
	one := ""
	if len(f.Values) > 0 {
		one = f.Values[0]
	}
	switch f.Var {
	case fieldType:
	case fieldAccess:
		switch one {
		case accessOpen, accessPresence, accessRoster, accessWhitelist:
			c.Access = one
		default:
			return fmt.Errorf("unsupported access model %q", one)
		}
	case fieldMaxItems:
		n, err := parseMaxItems(one, limit)
		if err != nil {
			return err
		}
		c.MaxItems = n
	case fieldPersist:
		b, err := parseBool(one)
		if err != nil {
			return err
		}
		c.Persist = b
	case fieldSendLast:
		switch one {
		case sendNever, sendOnSub, sendOnSubPresence:
			c.SendLast = one
		default:
			return fmt.Errorf("unsupported send_last_published_item %q", one)
		}
	case fieldNotifyRetract:
		b, err := parseBool(one)
		if err != nil {
			return err
		}
		c.NotifyRetract = b
	case fieldTitle:
		c.Title = one
	case fieldRosterGroups:
		c.RosterGroups = normalGroups(f.Values)
	default:
		for _, fx := range fixedFields {
			if fx.Var != f.Var {
				continue
			}
			same := one == fx.Value
			if fx.Type == stanza.FieldBoolean {
				b, err := parseBool(one)
				same = err == nil && boolValue(b) == fx.Value
			}
			if !same {
				return fmt.Errorf("%s can only be %s here", f.Var, fx.Value)
			}
			return nil
		}
		return fmt.Errorf("unsupported option %s", f.Var)
	}
	return nil
}

// parseMaxItems reads pubsub#max_items: a number from 1 to limit, or "max"
// (XEP-0060 §7.1.5) for limit.
func parseMaxItems(s string, limit int) (int, error) {
	if s == "max" {
		return limit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("max_items %q is not a positive number or max", s)
	}
	if n > limit {
		return 0, fmt.Errorf("max_items %d is above this server's limit of %d", n, limit)
	}
	return n, nil
}

func normalGroups(gs []string) []string {
	out := slices.Clone(gs)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// apply returns c changed by the submitted form f (configure, or the
// options of a new node). It fails on the first unknown field or invalid
// value.
func (c nodeConfig) apply(f *stanza.Form, limit int) (nodeConfig, error) {
	c.RosterGroups = slices.Clone(c.RosterGroups)
	c.Owners, c.Subscriptions = slices.Clone(c.Owners), slices.Clone(c.Subscriptions)
	for _, fd := range f.Fields {
		if err := c.setField(fd, limit); err != nil {
			return c, err
		}
	}
	return c, nil
}

// meets reports why the existing configuration c does not meet the
// publish-options preconditions f (XEP-0060 §7.1.5), or nil when it does:
// every option must be one this package knows and have the value c has.
func (c nodeConfig) meets(f *stanza.Form, limit int) error {
	want, err := c.apply(f, limit)
	if err != nil {
		return err
	}
	for _, fd := range f.Fields {
		same := true
		switch fd.Var {
		case fieldAccess:
			same = want.Access == c.Access
		case fieldMaxItems:
			same = want.MaxItems == c.MaxItems
		case fieldPersist:
			same = want.Persist == c.Persist
		case fieldSendLast:
			same = want.SendLast == c.SendLast
		case fieldNotifyRetract:
			same = want.NotifyRetract == c.NotifyRetract
		case fieldTitle:
			same = want.Title == c.Title
		case fieldRosterGroups:
			same = slices.Equal(want.RosterGroups, c.RosterGroups)
		}
		if !same {
			return fmt.Errorf("node has a different %s", fd.Var)
		}
	}
	return nil
}

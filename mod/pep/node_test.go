package pep

import (
	"testing"

	"hearth/stanza"
)

func submit(fields ...string) *stanza.Form {
	f := &stanza.Form{Type: stanza.FormSubmit, Fields: []stanza.Field{{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NSPublishOptions}}}}
	for i := 0; i+1 < len(fields); i += 2 {
		f.Fields = append(f.Fields, stanza.Field{Var: fields[i], Values: []string{fields[i+1]}})
	}
	return f
}

func TestApplyOptions(t *testing.T) {
	const limit = 50
	c, err := defaultConfig().apply(submit(fieldAccess, "open", fieldMaxItems, "max", fieldPersist, "true", fieldSendLast, "never"), limit)
	if err != nil {
		t.Fatal(err)
	}
	want := nodeConfig{Access: accessOpen, MaxItems: limit, Persist: true, SendLast: sendNever, NotifyRetract: true}
	if c.Access != want.Access || c.MaxItems != want.MaxItems || !c.Persist || c.SendLast != want.SendLast {
		t.Fatalf("apply = %+v, want %+v", c, want)
	}
	for _, bad := range [][]string{
		{fieldAccess, "authorize"},
		{fieldMaxItems, "0"},
		{fieldMaxItems, "51"},
		{fieldMaxItems, "lots"},
		{fieldPersist, "maybe"},
		{fieldSendLast, "always"},
		{"pubsub#deliver_payloads", "0"},
		{"pubsub#notify_config", "1"},
		{"pubsub#publish_model", "open"},
		{"pubsub#unknown", "1"},
	} {
		if _, err := defaultConfig().apply(submit(bad...), limit); err == nil {
			t.Errorf("apply(%v) succeeded", bad)
		}
	}
}

func TestMeets(t *testing.T) {
	const limit = 50
	node, _ := defaultConfig().apply(submit(fieldAccess, "whitelist", fieldMaxItems, "max", fieldRosterGroups, "b"), limit)
	for _, tc := range []struct {
		opts []string
		ok   bool
	}{
		{[]string{fieldAccess, "whitelist"}, true},
		{[]string{fieldAccess, "open"}, false},
		{[]string{fieldMaxItems, "max"}, true},
		{[]string{fieldMaxItems, "50"}, true},
		{[]string{fieldMaxItems, "1"}, false},
		{[]string{fieldPersist, "1"}, true},
		{[]string{fieldPersist, "false"}, false},
		{[]string{fieldSendLast, sendOnSubPresence}, true},
		{[]string{fieldRosterGroups, "b"}, true},
		{[]string{fieldRosterGroups, "c"}, false},
		{[]string{"pubsub#deliver_payloads", "true"}, true},
		{[]string{"pubsub#notify_delete", "1"}, true},
		{[]string{"pubsub#publish_model", "publishers"}, true},
		{[]string{"pubsub#notify_config", "true"}, false},
		{[]string{"pubsub#unknown", "x"}, false},
	} {
		err := node.meets(submit(tc.opts...), limit)
		if (err == nil) != tc.ok {
			t.Errorf("meets(%v) = %v, want ok=%v", tc.opts, err, tc.ok)
		}
	}
}

// TestFormRoundTrip: the configuration form, submitted back unchanged,
// yields the same configuration.
func TestFormRoundTrip(t *testing.T) {
	c := nodeConfig{Access: accessRoster, MaxItems: 7, Persist: true, SendLast: sendOnSub, Title: "t", RosterGroups: []string{"a", "b"}}
	f := c.fullForm(10)
	f.Type = stanza.FormSubmit
	back, err := defaultConfig().apply(f, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.meets(f, 10); err != nil || back.Access != c.Access || back.MaxItems != 7 || back.Title != "t" || len(back.RosterGroups) != 2 || back.NotifyRetract {
		t.Fatalf("round trip: %+v (%v)", back, err)
	}
}

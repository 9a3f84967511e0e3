package module

import (
	"testing"
)

// valuesSession is the least Session: its Values.
type valuesSession struct {
	Session
	values Values
}

func (s *valuesSession) Values() *Values { return &s.values }

var _ Session = (*valuesSession)(nil)

// TestKeys: each key has its own slot in a session's Values, Set
// replaces, Update sees the old value and whether there was one.
func TestKeys(t *testing.T) {
	name := NewKey[string]("name")
	count := NewKey[int]("count")
	other := NewKey[int]("count") // same name and type, another key
	s := &valuesSession{}
	if _, ok := name.Get(s); ok {
		t.Fatal("Get on empty Values found a value")
	}
	name.Set(s, "a")
	count.Set(s, 1)
	name.Set(s, "b")
	if v, ok := name.Get(s); !ok || v != "b" {
		t.Errorf("name = %q %v, want b true", v, ok)
	}
	if v, ok := count.Get(s); !ok || v != 1 {
		t.Errorf("count = %d %v, want 1 true", v, ok)
	}
	if _, ok := other.Get(s); ok {
		t.Error("a key with the same name and type shares the slot of another")
	}
	inc := func(old int, present bool) int {
		if !present {
			return 100
		}
		return old + 1
	}
	if v := count.Update(s, inc); v != 2 {
		t.Errorf("Update of a present value = %d, want 2", v)
	}
	if v := other.Update(s, inc); v != 100 {
		t.Errorf("Update of an absent value = %d, want 100", v)
	}
	if v, _ := count.Get(s); v != 2 {
		t.Errorf("count after Update = %d, want 2", v)
	}
	if len(s.values.kv) != 3 {
		t.Errorf("%d entries, want 3", len(s.values.kv))
	}
}

package storagetest

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"hearth/storage"
)

func testMap(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("GetNotFound", func(t *testing.T) {
		ctx := t.Context()
		m := open(t).Map("roster")
		_, err := m.Get(ctx, "alice@example.com", "bob@example.com")
		errIs(t, "Get on empty map", err, storage.ErrNotFound)
	})
	t.Run("SetGetReplace", func(t *testing.T) {
		ctx := t.Context()
		m := open(t).Map("roster")
		must(t, m.Set(ctx, "alice@example.com", "bob@example.com", []byte("v1")))
		get(t, m, "alice@example.com", "bob@example.com", []byte("v1"))
		must(t, m.Set(ctx, "alice@example.com", "bob@example.com", []byte("second value")))
		get(t, m, "alice@example.com", "bob@example.com", []byte("second value"))
		all(t, m, "alice@example.com", []storage.Entry{{Key: "bob@example.com", Value: []byte("second value")}})
	})
	t.Run("SetMany", func(t *testing.T) {
		ctx := t.Context()
		st := open(t)
		m := st.Map("last")
		must(t, m.SetMany(ctx, nil))
		must(t, m.Set(ctx, "alice@example.com", "logout", []byte("1")))
		batch := []storage.OwnerEntry{
			{Owner: "alice@example.com", Key: "logout", Value: []byte("2")},
			{Owner: "bob@example.com", Key: "logout", Value: []byte("3")},
			{Owner: "bob@example.org", Key: "k", Value: []byte{}},
		}
		must(t, m.SetMany(ctx, batch))
		batch[1].Value[0] = 'x' // the store keeps its own copy
		get(t, m, "alice@example.com", "logout", []byte("2"))
		get(t, m, "bob@example.com", "logout", []byte("3"))
		get(t, m, "bob@example.org", "k", []byte{})
		owners(t, m, "example.org", []string{"bob@example.org"})
		// Another map's entries are apart.
		_, err := st.Map("roster").Get(ctx, "bob@example.com", "logout")
		errIs(t, "Get in another map", err, storage.ErrNotFound)
	})
	t.Run("Delete", func(t *testing.T) {
		ctx := t.Context()
		m := open(t).Map("roster")
		must(t, m.Set(ctx, "alice@example.com", "k1", []byte("1")))
		must(t, m.Set(ctx, "alice@example.com", "k2", []byte("2")))
		must(t, m.Delete(ctx, "alice@example.com", "k1"))
		_, err := m.Get(ctx, "alice@example.com", "k1")
		errIs(t, "Get after Delete", err, storage.ErrNotFound)
		get(t, m, "alice@example.com", "k2", []byte("2"))
		errIs(t, "Delete of absent key", m.Delete(ctx, "alice@example.com", "k1"), nil)
		errIs(t, "Delete of absent owner", m.Delete(ctx, "nobody@example.com", "k1"), nil)
		must(t, m.Delete(ctx, "alice@example.com", "k2"))
		all(t, m, "alice@example.com", nil)
		owners(t, m, "", nil)
	})
	t.Run("AllSorted", func(t *testing.T) {
		ctx := t.Context()
		m := open(t).Map("private")
		all(t, m, "alice@example.com", nil)
		// Byte order: upper case before lower case, a prefix before its extensions.
		keys := []string{"b", "a/b", "A", "a", "ab", "jabber:iq:private", "é", "z", "storage:bookmarks"}
		want := []storage.Entry{}
		for _, k := range []string{"A", "a", "a/b", "ab", "b", "jabber:iq:private", "storage:bookmarks", "z", "é"} {
			want = append(want, storage.Entry{Key: k, Value: []byte("value of " + k)})
		}
		for _, k := range keys {
			must(t, m.Set(ctx, "alice@example.com", k, []byte("value of "+k)))
		}
		must(t, m.Set(ctx, "bob@example.com", "other", []byte("x")))
		all(t, m, "alice@example.com", want)
	})
	t.Run("BinaryValues", func(t *testing.T) {
		ctx := t.Context()
		m := open(t).Map("vcard")
		every := make([]byte, 512)
		for i := range every {
			every[i] = byte(i)
		}
		large := make([]byte, 1<<20)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range large {
			large[i] = byte(rng.Uint32())
		}
		cases := []struct {
			name  string
			value []byte
		}{
			{"empty", []byte{}},
			{"nil", nil},
			{"NUL", []byte{0}},
			{"every byte", every},
			{"invalid UTF-8", []byte{0xff, 0xfe, 0xc3}},
			{"1 MiB", large},
		}
		for _, c := range cases {
			must(t, m.Set(ctx, "alice@example.com", c.name, c.value))
		}
		for _, c := range cases {
			got, err := m.Get(ctx, "alice@example.com", c.name)
			must(t, err)
			if !bytes.Equal(got, c.value) {
				t.Errorf("%s: got %s, want %s", c.name, short(got), short(c.value))
			}
			if got == nil {
				t.Errorf("%s: Get returned a nil value; a present value is never nil", c.name)
			}
		}
	})
	t.Run("ValuesAreCopied", func(t *testing.T) {
		ctx := t.Context()
		m := open(t).Map("vcard")
		v := []byte("original")
		must(t, m.Set(ctx, "alice@example.com", "k", v))
		copy(v, "mutated!")
		got, err := m.Get(ctx, "alice@example.com", "k")
		must(t, err)
		if string(got) != "original" {
			t.Fatalf("changing the slice passed to Set changed the stored value to %q", got)
		}
		copy(got, "mutated!")
		get(t, m, "alice@example.com", "k", []byte("original"))
		entries, err := m.All(ctx, "alice@example.com")
		must(t, err)
		copy(entries[0].Value, "mutated!")
		get(t, m, "alice@example.com", "k", []byte("original"))
	})
	t.Run("Isolation", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		roster, vcard := s.Map("roster"), s.Map("vcard")
		must(t, roster.Set(ctx, "alice@example.com", "k", []byte("roster alice")))
		must(t, vcard.Set(ctx, "alice@example.com", "k", []byte("vcard alice")))
		must(t, roster.Set(ctx, "bob@example.com", "k", []byte("roster bob")))
		// An archive of the same name is a different thing.
		_, err := s.Archive("roster").Append(ctx, "carol@example.com", storage.Item{Data: []byte("x")})
		must(t, err)
		get(t, roster, "alice@example.com", "k", []byte("roster alice"))
		get(t, vcard, "alice@example.com", "k", []byte("vcard alice"))
		get(t, roster, "bob@example.com", "k", []byte("roster bob"))
		_, err = vcard.Get(ctx, "bob@example.com", "k")
		errIs(t, "vcard of bob", err, storage.ErrNotFound)
		// The same name designates the same data.
		get(t, s.Map("roster"), "alice@example.com", "k", []byte("roster alice"))
		owners(t, roster, "", []string{"alice@example.com", "bob@example.com"})
		owners(t, vcard, "", []string{"alice@example.com"})
		// Owners that are prefixes of each other stay apart.
		must(t, roster.Set(ctx, "alice@example.co", "k", []byte("short")))
		get(t, roster, "alice@example.com", "k", []byte("roster alice"))
		must(t, vcard.Delete(ctx, "alice@example.com", "k"))
		get(t, roster, "alice@example.com", "k", []byte("roster alice"))
	})
	t.Run("Owners", func(t *testing.T) {
		ctx := t.Context()
		m := open(t).Map("config")
		owners(t, m, "", nil)
		for _, o := range []string{
			"room@muc.example.com",
			"bob@example.com",
			"example.com", // a host itself: its host is the whole owner
			"alice@example.com",
			"zed@example.org",
			"a@b@example.com", // the host is after the last '@'
			"alice@sub.example.com",
		} {
			// Two keys each: Owners lists an owner once.
			must(t, m.Set(ctx, o, "k1", []byte("v")))
			must(t, m.Set(ctx, o, "k2", []byte("v")))
		}
		owners(t, m, "", []string{"a@b@example.com", "alice@example.com", "alice@sub.example.com",
			"bob@example.com", "example.com", "room@muc.example.com", "zed@example.org"})
		owners(t, m, "example.com", []string{"a@b@example.com", "alice@example.com", "bob@example.com", "example.com"})
		owners(t, m, "muc.example.com", []string{"room@muc.example.com"})
		owners(t, m, "example.org", []string{"zed@example.org"})
		owners(t, m, "b", nil)
		owners(t, m, "example", nil)
		owners(t, open(t).Map("config"), "example.com", nil)
	})
	t.Run("InvalidNamePanics", func(t *testing.T) {
		s := open(t)
		for _, name := range []string{"", "Roster", "has space", "über", strings.Repeat("a", 65)} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Map(%q) did not panic", name)
					}
				}()
				s.Map(name)
			}()
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Archive(%q) did not panic", name)
					}
				}()
				s.Archive(name)
			}()
		}
		// The edges of the allowed alphabet and length.
		s.Map("a-z_0.9:x")
		s.Archive(strings.Repeat("a", 64))
	})
}

// get checks that m holds want under owner/key.
func get(t *testing.T, m storage.Map, owner, key string, want []byte) {
	t.Helper()
	got, err := m.Get(t.Context(), owner, key)
	if err != nil {
		t.Errorf("Get(%q, %q): %v", owner, key, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Get(%q, %q) = %s, want %s", owner, key, short(got), short(want))
	}
}

// all checks m.All(owner).
func all(t *testing.T, m storage.Map, owner string, want []storage.Entry) {
	t.Helper()
	got, err := m.All(t.Context(), owner)
	if err != nil {
		t.Errorf("All(%q): %v", owner, err)
		return
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Key == want[i].Key && bytes.Equal(got[i].Value, want[i].Value)
	}
	if !ok {
		t.Errorf("All(%q)\ngot  %s\nwant %s", owner, entries(got), entries(want))
	}
}

func entries(es []storage.Entry) string {
	s := "["
	for i, e := range es {
		if i > 0 {
			s += " "
		}
		s += e.Key + "=" + short(e.Value)
	}
	return s + "]"
}

// owners checks m.Owners(host).
func owners(t *testing.T, m storage.Map, host string, want []string) {
	t.Helper()
	got, err := m.Owners(t.Context(), host)
	if err != nil {
		t.Errorf("Owners(%q): %v", host, err)
		return
	}
	if !equalStrings(got, want) {
		t.Errorf("Owners(%q)\ngot  %q\nwant %q", host, got, want)
	}
}

package storagetest

import (
	"testing"
	"time"

	"hearth/sasl"
	"hearth/storage"
)

// credentials returns distinct credentials for seed, with every field set,
// built literally so that the suite does not depend on the sasl package's
// derivation code.
func credentials(seed byte) sasl.Credentials {
	key := func(n byte) sasl.SCRAMKey {
		return sasl.SCRAMKey{
			Salt:       []byte{seed, n, 1, 0, 0xff},
			Iterations: 4096 + int(seed)*10 + int(n),
			StoredKey:  []byte{seed, n, 2, 0x80, 0x00, 0x7f},
			ServerKey:  []byte{seed, n, 3},
		}
	}
	return sasl.Credentials{SHA1: key(1), SHA256: key(2)}
}

func equalKey(a, b sasl.SCRAMKey) bool {
	return equalBytes(a.Salt, b.Salt) && a.Iterations == b.Iterations &&
		equalBytes(a.StoredKey, b.StoredKey) && equalBytes(a.ServerKey, b.ServerKey)
}

func equalCredentials(a, b sasl.Credentials) bool {
	return equalKey(a.SHA1, b.SHA1) && equalKey(a.SHA256, b.SHA256)
}

func testAccounts(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("CreateGet", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Accounts()
		before := time.Now().Truncate(time.Microsecond)
		must(t, a.Create(ctx, "example.com", "alice", credentials(1)))
		after := time.Now()
		got, err := a.Get(ctx, "example.com", "alice")
		must(t, err)
		if got.Host != "example.com" || got.User != "alice" {
			t.Errorf("Get: got %s/%s, want example.com/alice", got.Host, got.User)
		}
		if !equalCredentials(got.Credentials, credentials(1)) {
			t.Errorf("Get: credentials\ngot  %+v\nwant %+v", got.Credentials, credentials(1))
		}
		if got.Created.Before(before) || got.Created.After(after) {
			t.Errorf("Get: Created = %v, want within [%v, %v]", got.Created, before, after)
		}
		if got.Created.Location() != time.UTC {
			t.Errorf("Get: Created location = %v, want UTC", got.Created.Location())
		}
	})
	t.Run("CreateExists", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Accounts()
		must(t, a.Create(ctx, "example.com", "alice", credentials(1)))
		errIs(t, "second Create", a.Create(ctx, "example.com", "alice", credentials(2)), storage.ErrExists)
		got, err := a.Get(ctx, "example.com", "alice")
		must(t, err)
		if !equalCredentials(got.Credentials, credentials(1)) {
			t.Errorf("failed Create changed the credentials to %+v", got.Credentials)
		}
		// The same user on another host, and another user, are other accounts.
		must(t, a.Create(ctx, "example.org", "alice", credentials(3)))
		must(t, a.Create(ctx, "example.com", "alice2", credentials(4)))
	})
	t.Run("GetNotFound", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Accounts()
		must(t, a.Create(ctx, "example.com", "alice", credentials(1)))
		for _, c := range []struct{ name, host, user string }{
			{"other user", "example.com", "bob"},
			{"other host", "example.org", "alice"},
			{"case differs", "example.com", "Alice"},
			{"prefix", "example.com", "alic"},
		} {
			_, err := a.Get(ctx, c.host, c.user)
			errIs(t, "Get "+c.name, err, storage.ErrNotFound)
		}
	})
	t.Run("SetCredentials", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Accounts()
		must(t, a.Create(ctx, "example.com", "alice", credentials(1)))
		must(t, a.Create(ctx, "example.com", "bob", credentials(2)))
		created, err := a.Get(ctx, "example.com", "alice")
		must(t, err)
		must(t, a.SetCredentials(ctx, "example.com", "alice", credentials(5)))
		got, err := a.Get(ctx, "example.com", "alice")
		must(t, err)
		if !equalCredentials(got.Credentials, credentials(5)) {
			t.Errorf("after SetCredentials: got %+v, want %+v", got.Credentials, credentials(5))
		}
		if !got.Created.Equal(created.Created) {
			t.Errorf("SetCredentials changed Created from %v to %v", created.Created, got.Created)
		}
		// Setting the same credentials again is not "not found".
		must(t, a.SetCredentials(ctx, "example.com", "alice", credentials(5)))
		other, err := a.Get(ctx, "example.com", "bob")
		must(t, err)
		if !equalCredentials(other.Credentials, credentials(2)) {
			t.Errorf("SetCredentials of alice changed bob's credentials")
		}
		errIs(t, "SetCredentials of absent user",
			a.SetCredentials(ctx, "example.com", "carol", credentials(1)), storage.ErrNotFound)
		if _, err := a.Get(ctx, "example.com", "carol"); err == nil {
			t.Errorf("SetCredentials of absent user created it")
		}
	})
	t.Run("Delete", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Accounts()
		must(t, a.Create(ctx, "example.com", "alice", credentials(1)))
		must(t, a.Create(ctx, "example.com", "bob", credentials(2)))
		must(t, a.Delete(ctx, "example.com", "alice"))
		_, err := a.Get(ctx, "example.com", "alice")
		errIs(t, "Get after Delete", err, storage.ErrNotFound)
		errIs(t, "second Delete", a.Delete(ctx, "example.com", "alice"), storage.ErrNotFound)
		if _, err := a.Get(ctx, "example.com", "bob"); err != nil {
			t.Errorf("Delete of alice removed bob: %v", err)
		}
		// The name can be registered again.
		must(t, a.Create(ctx, "example.com", "alice", credentials(3)))
	})
	t.Run("List", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Accounts()
		list, err := a.List(ctx, "")
		must(t, err)
		if len(list) != 0 {
			t.Fatalf("List of empty store: got %d accounts", len(list))
		}
		// Inserted out of order; List sorts.
		users := []struct {
			host, user string
			seed       byte
		}{
			{"example.org", "zed", 1},
			{"example.com", "mallory", 2},
			{"example.com", "alice", 3},
			{"b.example", "bob", 4},
			{"example.com", "Bob", 5},
			{"example.com", "bob", 6},
		}
		for _, u := range users {
			must(t, a.Create(ctx, u.host, u.user, credentials(u.seed)))
		}
		seeds := map[string]byte{}
		for _, u := range users {
			seeds[u.host+"/"+u.user] = u.seed
		}
		for _, c := range []struct {
			host string
			want []string
		}{
			{"", []string{"b.example/bob", "example.com/Bob", "example.com/alice", "example.com/bob", "example.com/mallory", "example.org/zed"}},
			{"example.com", []string{"example.com/Bob", "example.com/alice", "example.com/bob", "example.com/mallory"}},
			{"example.org", []string{"example.org/zed"}},
			{"example.net", nil},
			{"example", nil},
		} {
			list, err := a.List(ctx, c.host)
			must(t, err)
			var got []string
			for _, acc := range list {
				id := acc.Host + "/" + acc.User
				got = append(got, id)
				if !equalCredentials(acc.Credentials, credentials(seeds[id])) {
					t.Errorf("List(%q): %s has wrong credentials %+v", c.host, id, acc.Credentials)
				}
				if acc.Created.IsZero() {
					t.Errorf("List(%q): %s has zero Created", c.host, id)
				}
			}
			if !equalStrings(got, c.want) {
				t.Errorf("List(%q)\ngot  %q\nwant %q", c.host, got, c.want)
			}
		}
	})
	t.Run("EmptyCredentialFields", func(t *testing.T) {
		ctx := t.Context()
		a := open(t).Accounts()
		// A zero Credentials (e.g. an account being provisioned) round-trips.
		must(t, a.Create(ctx, "example.com", "alice", sasl.Credentials{}))
		got, err := a.Get(ctx, "example.com", "alice")
		must(t, err)
		if !equalCredentials(got.Credentials, sasl.Credentials{}) {
			t.Errorf("got %+v, want zero credentials", got.Credentials)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

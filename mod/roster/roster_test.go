package roster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage/memstore"
)

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

// newEnv starts the roster module; configure, when not nil, changes its
// configuration.
func newEnv(t *testing.T, configure func(*roster.Config)) *modtest.Env {
	t.Helper()
	env := modtest.New(t, "example.com", memstore.New())
	var dec func(any) error
	if configure != nil {
		dec = func(cfg any) error { configure(cfg.(*roster.Config)); return nil }
	}
	env.Start(t, roster.Module, dec)
	env.Freeze(t)
	return env
}

// host returns a Host on env's registry, as another module (presence) has.
func host(t *testing.T, env *modtest.Env) *module.Host {
	t.Helper()
	return env.Host("test")
}

// sentSince returns what s received after the first n stanzas.
func sentSince(s *modtest.Session, n int) []*stanza.Element {
	return s.Sent()[n:]
}

func get(t *testing.T, env *modtest.Env, from, ver string) modtest.Reply {
	t.Helper()
	q := `<query xmlns='jabber:iq:roster'/>`
	if ver != "-" {
		q = fmt.Sprintf(`<query xmlns='jabber:iq:roster' ver='%s'/>`, ver)
	}
	return env.IQ(t, fmt.Sprintf(`<iq xmlns='jabber:client' type='get' id='g' from='%s'>%s</iq>`, from, q))
}

func set(t *testing.T, env *modtest.Env, from, items string) modtest.Reply {
	t.Helper()
	return env.IQ(t, fmt.Sprintf(`<iq xmlns='jabber:client' type='set' id='s' from='%s'><query xmlns='jabber:iq:roster'>%s</query></iq>`, from, items))
}

// wantPushes fails unless got holds exactly the pushes of want (items as
// XML), each an IQ set to s without 'from', carrying ver when ver != "-".
func wantPushes(t *testing.T, s *modtest.Session, got []*stanza.Element, ver string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s got %d stanzas %v, want %d pushes", s.JID(), len(got), canon(got), len(want))
	}
	for i, p := range got {
		if p.Name.Local != "iq" || p.Get("type") != "set" || p.Get("from") != "" || p.Get("to") != s.JID().String() || p.Get("id") == "" {
			t.Fatalf("push %d = %s, want an iq set to %s without from", i, modtest.Canonical(p), s.JID())
		}
		q := p.Child(roster.NS, "query")
		if q == nil {
			t.Fatalf("push %d without query: %s", i, modtest.Canonical(p))
		}
		if ver != "-" && q.Get("ver") != ver {
			t.Errorf("push %d ver = %q, want %q", i, q.Get("ver"), ver)
		}
		if ver == "-" && q.Get("ver") != "" {
			t.Errorf("push %d to an unversioned session has ver %q", i, q.Get("ver"))
		}
		if len(q.Elements()) != 1 {
			t.Fatalf("push %d carries %d items", i, len(q.Elements()))
		}
		modtest.Equal(t, q.Elements()[0], want[i])
	}
}

func canon(els []*stanza.Element) []string {
	var out []string
	for _, e := range els {
		out = append(out, modtest.Canonical(e))
	}
	return out
}

func TestStreamFeatures(t *testing.T) {
	env := newEnv(t, nil)
	var got []string
	for _, f := range env.Registry.StreamFeatures() {
		got = append(got, modtest.Canonical(f))
	}
	for _, want := range []string{"<{urn:xmpp:features:rosterver}ver></>", "<{urn:xmpp:features:pre-approval}sub></>"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("stream features %v lack %s", got, want)
		}
	}
}

func TestGetAndSet(t *testing.T) {
	env := newEnv(t, nil)
	get(t, env, alice+"/a", "-").WantResult(t, `<query xmlns='jabber:iq:roster'/>`)

	set(t, env, alice+"/a", `<item jid='bob@example.com' name='Bob'><group>Friends</group><group>Work</group></item>`).WantResult(t, "")
	set(t, env, alice+"/a", `<item jid='carol@example.net'/>`).WantResult(t, "")
	get(t, env, alice+"/a", "-").WantResult(t, `<query xmlns='jabber:iq:roster'>
		<item jid='bob@example.com' name='Bob' subscription='none'><group>Friends</group><group>Work</group></item>
		<item jid='carol@example.net' subscription='none'/>
	</query>`)

	// A roster set replaces name and groups.
	set(t, env, alice+"/a", `<item jid='bob@example.com'><group>Work</group></item>`).WantResult(t, "")
	get(t, env, alice+"/a", "-").WantResult(t, `<query xmlns='jabber:iq:roster'>
		<item jid='bob@example.com' subscription='none'><group>Work</group></item>
		<item jid='carol@example.net' subscription='none'/>
	</query>`)

	// Bob's roster is his own.
	get(t, env, bob+"/b", "-").WantResult(t, `<query xmlns='jabber:iq:roster'/>`)
}

func TestSetValidation(t *testing.T) {
	env := newEnv(t, func(c *roster.Config) { c.MaxNameLength, c.MaxGroupLength = 8, 5 })
	for _, tc := range []struct {
		name, from, items string
		typ, condition    string // "" for success
	}{
		{"one item", alice + "/a", `<item jid='bob@example.com'/>`, "", ""},
		{"two items", alice + "/a", `<item jid='bob@example.com'/><item jid='carol@example.com'/>`, stanza.Modify, "bad-request"},
		{"no item", alice + "/a", ``, stanza.Modify, "bad-request"},
		{"no jid", alice + "/a", `<item name='x'/>`, stanza.Modify, "bad-request"},
		{"invalid jid", alice + "/a", `<item jid='@example.com'/>`, stanza.Modify, "jid-malformed"},
		{"duplicate group", alice + "/a", `<item jid='bob@example.com'><group>A</group><group>A</group></item>`, stanza.Modify, "bad-request"},
		{"empty group", alice + "/a", `<item jid='bob@example.com'><group/></item>`, stanza.Modify, "not-acceptable"},
		{"group too long", alice + "/a", `<item jid='bob@example.com'><group>123456</group></item>`, stanza.Modify, "not-acceptable"},
		{"group at the limit", alice + "/a", `<item jid='bob@example.com'><group>12345</group></item>`, "", ""},
		{"name too long", alice + "/a", `<item jid='bob@example.com' name='123456789'/>`, stanza.Modify, "not-acceptable"},
		{"name at the limit", alice + "/a", `<item jid='bob@example.com' name='12345678'/>`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := set(t, env, tc.from, tc.items)
			if tc.condition == "" {
				r.WantResult(t, "")
				return
			}
			r.WantError(t, tc.typ, tc.condition)
		})
	}
	for _, typ := range []string{"get", "set"} {
		t.Run(typ+" of another account's roster", func(t *testing.T) {
			env.IQ(t, `<iq xmlns='jabber:client' type='`+typ+`' id='g' from='bob@example.com/b' to='alice@example.com'><query xmlns='jabber:iq:roster'><item jid='carol@example.com'/></query></iq>`).
				WantError(t, stanza.Auth, "forbidden")
		})
	}
}

// TestSetIgnoresStateAttributes checks RFC 6121 §2.1.2: a client cannot
// set subscription (other than remove), ask or approved.
func TestSetIgnoresStateAttributes(t *testing.T) {
	env := newEnv(t, nil)
	set(t, env, alice+"/a", `<item jid='bob@example.com' subscription='both' ask='subscribe' approved='true'/>`).WantResult(t, "")
	get(t, env, alice+"/a", "-").WantResult(t, `<query xmlns='jabber:iq:roster'><item jid='bob@example.com' subscription='none'/></query>`)
}

func TestPushesGoToInterestedResourcesOnly(t *testing.T) {
	env := newEnv(t, nil)
	a1 := env.Router.Bind(t, alice+"/one")
	a2 := env.Router.Bind(t, alice+"/two")
	a3 := env.Router.Bind(t, alice+"/three") // never asks for the roster
	b := env.Router.Bind(t, bob+"/b")
	get(t, env, alice+"/one", "-").WantResult(t, `<query xmlns='jabber:iq:roster'/>`)
	get(t, env, alice+"/two", "").WantResult(t, `<query xmlns='jabber:iq:roster' ver='0'/>`)
	get(t, env, bob+"/b", "-").WantResult(t, `<query xmlns='jabber:iq:roster'/>`)

	set(t, env, alice+"/three", `<item jid='carol@example.com' name='C'/>`).WantResult(t, "")
	item := `<item xmlns='jabber:iq:roster' jid='carol@example.com' name='C' subscription='none'/>`
	wantPushes(t, a1, a1.Sent(), "-", item)
	ver := a2.Sent()[0].Child(roster.NS, "query").Get("ver")
	if ver == "" || ver == "0" {
		t.Fatalf("versioned push has ver %q, want a new version", ver)
	}
	wantPushes(t, a2, a2.Sent(), ver, item)
	if got := a3.Sent(); len(got) != 0 {
		t.Errorf("uninterested resource got %v", canon(got))
	}
	if got := b.Sent(); len(got) != 0 {
		t.Errorf("another account got %v", canon(got))
	}
	if !roster.Interested(a1) || !roster.Interested(a2) || roster.Interested(a3) {
		t.Errorf("Interested = %v %v %v, want true true false", roster.Interested(a1), roster.Interested(a2), roster.Interested(a3))
	}
}

func TestVersioning(t *testing.T) {
	env := newEnv(t, nil)
	s := env.Router.Bind(t, alice+"/a")
	verOf := func(r modtest.Reply) string {
		t.Helper()
		if r.Err != nil || r.Payload == nil {
			t.Fatalf("got %v / %v, want a roster", r.Payload, r.Err)
		}
		return r.Payload.Get("ver")
	}

	v0 := verOf(get(t, env, alice+"/a", ""))
	if v0 == "" {
		t.Fatal("empty roster has no version")
	}
	get(t, env, alice+"/a", v0).WantResult(t, "") // unchanged: empty result

	set(t, env, alice+"/a", `<item jid='bob@example.com'/>`).WantResult(t, "")
	pushes := s.Sent()
	if len(pushes) != 1 {
		t.Fatalf("got %d pushes, want 1", len(pushes))
	}
	v1 := pushes[0].Child(roster.NS, "query").Get("ver")
	if v1 == v0 || v1 == "" {
		t.Fatalf("version after a change = %q, was %q", v1, v0)
	}
	get(t, env, alice+"/a", v1).WantResult(t, "")
	get(t, env, alice+"/a", v0).WantResult(t, fmt.Sprintf(`<query xmlns='jabber:iq:roster' ver='%s'><item jid='bob@example.com' subscription='none'/></query>`, v1))
	get(t, env, alice+"/a", "bogus").WantResult(t, fmt.Sprintf(`<query xmlns='jabber:iq:roster' ver='%s'><item jid='bob@example.com' subscription='none'/></query>`, v1))

	// A set that changes nothing visible keeps the version.
	n := len(s.Sent())
	set(t, env, alice+"/a", `<item jid='bob@example.com'/>`).WantResult(t, "")
	if got := sentSince(s, n); len(got) != 0 {
		t.Errorf("no-op set pushed %v", canon(got))
	}
	get(t, env, alice+"/a", v1).WantResult(t, "")

	// Removal changes the version too.
	set(t, env, alice+"/a", `<item jid='bob@example.com' subscription='remove'/>`).WantResult(t, "")
	v2 := verOf(get(t, env, alice+"/a", v1))
	if v2 == v1 {
		t.Errorf("version unchanged by a removal")
	}
}

func TestRemove(t *testing.T) {
	for _, tc := range []struct {
		name      string
		item      roster.Item
		available bool
		want      []string // routed, in order
	}{
		{"none", roster.Item{Subscription: roster.None}, true, nil},
		{"to", roster.Item{Subscription: roster.To}, true, []string{"unsubscribe"}},
		{"from", roster.Item{Subscription: roster.From}, true, []string{"unsubscribed", "unavailable alice@example.com/a"}},
		{"from, user offline", roster.Item{Subscription: roster.From}, false, []string{"unsubscribed"}},
		{"both", roster.Item{Subscription: roster.Both}, true, []string{"unsubscribe", "unsubscribed", "unavailable alice@example.com/a"}},
		{"pending out", roster.Item{Ask: true}, true, []string{"unsubscribe"}},
		{"pending in", roster.Item{PendingIn: subscribeFrom(t, "bob@example.com")}, true, []string{"unsubscribed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, nil)
			h := host(t, env)
			s := env.Router.Bind(t, alice+"/a")
			if tc.available {
				s.SetPresence(stanza.New(stanza.NSClient, "presence"))
			}
			set(t, env, alice+"/a", `<item jid='bob@example.com' name='Bob'/>`).WantResult(t, "")
			if _, err := roster.Update(context.Background(), h, jid.MustParse(alice), jid.MustParse(bob), func(it *roster.Item) bool {
				it.Subscription, it.Ask, it.PendingIn = tc.item.Subscription, tc.item.Ask, tc.item.PendingIn
				return true
			}); err != nil {
				t.Fatal(err)
			}
			get(t, env, alice+"/a", "-")
			set(t, env, alice+"/a", `<item jid='bob@example.com' subscription='remove'/>`).WantResult(t, "")
			wantPushes(t, s, s.Sent(), "-", `<item xmlns='jabber:iq:roster' jid='bob@example.com' subscription='remove'/>`)
			get(t, env, alice+"/a", "-").WantResult(t, `<query xmlns='jabber:iq:roster'/>`)

			var got []string
			for _, r := range env.Router.Routed() {
				if r.Get("to") != bob {
					t.Errorf("routed to %q, want %s: %s", r.Get("to"), bob, modtest.Canonical(r))
				}
				if typ := r.Get("type"); typ == "unavailable" {
					got = append(got, typ+" "+r.Get("from"))
				} else {
					if r.Get("from") != alice {
						t.Errorf("%s from %q, want the bare JID %s", typ, r.Get("from"), alice)
					}
					got = append(got, typ)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("routed %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRemoveNotInRoster(t *testing.T) {
	env := newEnv(t, nil)
	h := host(t, env)
	set(t, env, alice+"/a", `<item jid='nobody@example.com' subscription='remove'/>`).WantError(t, stanza.Cancel, "item-not-found")
	// A hidden pending request is not an item of the roster either.
	hide(t, h, alice, bob)
	set(t, env, alice+"/a", `<item jid='bob@example.com' subscription='remove'/>`).WantError(t, stanza.Cancel, "item-not-found")
	if len(env.Router.Routed()) != 0 {
		t.Errorf("routed %v", canon(env.Router.Routed()))
	}
}

func subscribeFrom(t *testing.T, from string) *stanza.Element {
	t.Helper()
	return modtest.Parse(t, fmt.Sprintf(`<presence xmlns='jabber:client' type='subscribe' from='%s' to='alice@example.com'><status>hi</status></presence>`, from))
}

// hide records an inbound request from contact in owner's roster, as
// presence does for an unknown contact.
func hide(t *testing.T, h *module.Host, owner, contact string) roster.Item {
	t.Helper()
	it, err := roster.Update(context.Background(), h, jid.MustParse(owner), jid.MustParse(contact), func(it *roster.Item) bool {
		it.PendingIn = subscribeFrom(t, contact)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func TestHiddenPendingIn(t *testing.T) {
	env := newEnv(t, nil)
	h := host(t, env)
	s := env.Router.Bind(t, alice+"/a")
	v0 := get(t, env, alice+"/a", "").Payload.Get("ver")

	it := hide(t, h, alice, bob)
	if !it.Hidden || it.InRoster() {
		t.Fatalf("new pending-in item: Hidden %v InRoster %v, want hidden", it.Hidden, it.InRoster())
	}
	if got := s.Sent(); len(got) != 0 {
		t.Errorf("hidden item pushed: %v", canon(got))
	}
	get(t, env, alice+"/a", v0).WantResult(t, "") // version unchanged
	get(t, env, alice+"/a", "-").WantResult(t, `<query xmlns='jabber:iq:roster'/>`)

	// Stored, with the request kept for redelivery.
	items, err := roster.Items(context.Background(), h, jid.MustParse(alice))
	if err != nil || len(items) != 1 || items[0].PendingIn == nil {
		t.Fatalf("Items = %+v, %v; want the hidden item with its request", items, err)
	}
	modtest.Equal(t, items[0].PendingIn, `<presence xmlns='jabber:client' type='subscribe' from='bob@example.com' to='alice@example.com'><status>hi</status></presence>`)

	// Approving makes it a roster item: pushed.
	if _, err := roster.Update(context.Background(), h, jid.MustParse(alice), jid.MustParse(bob), func(it *roster.Item) bool {
		it.PendingIn, it.Subscription = nil, roster.From
		return true
	}); err != nil {
		t.Fatal(err)
	}
	wantPushes(t, s, s.Sent(), "-", `<item xmlns='jabber:iq:roster' jid='bob@example.com' subscription='from'/>`)

	// A hidden item whose request goes away is deleted, silently.
	hide(t, h, alice, "carol@example.com")
	n := len(s.Sent())
	it, err = roster.Update(context.Background(), h, jid.MustParse(alice), jid.MustParse("carol@example.com"), func(it *roster.Item) bool {
		it.PendingIn = nil
		return true
	})
	if err != nil || it.InRoster() {
		t.Fatalf("Update = %+v, %v", it, err)
	}
	if got, _ := roster.Get(context.Background(), h, jid.MustParse(alice), jid.MustParse("carol@example.com")); got.PendingIn != nil || got.InRoster() {
		t.Errorf("denied hidden item still stored: %+v", got)
	}
	if got := sentSince(s, n); len(got) != 0 {
		t.Errorf("deleting a hidden item pushed %v", canon(got))
	}

	// The user adding a hidden contact shows it.
	hide(t, h, alice, "dave@example.com")
	set(t, env, alice+"/a", `<item jid='dave@example.com' name='D'/>`).WantResult(t, "")
	wantPushes(t, s, sentSince(s, n), "-", `<item xmlns='jabber:iq:roster' jid='dave@example.com' name='D' subscription='none'/>`)
}

func TestPushAttributes(t *testing.T) {
	env := newEnv(t, nil)
	h := host(t, env)
	s := env.Router.Bind(t, alice+"/a")
	get(t, env, alice+"/a", "-")
	for _, tc := range []struct {
		name string
		fn   func(*roster.Item)
		want string
	}{
		{"pending out", func(it *roster.Item) { it.Ask = true }, `<item xmlns='jabber:iq:roster' jid='bob@example.com' subscription='none' ask='subscribe'/>`},
		{"pre-approved", func(it *roster.Item) { it.Ask, it.Approved = false, true }, `<item xmlns='jabber:iq:roster' jid='bob@example.com' subscription='none' approved='true'/>`},
		{"both", func(it *roster.Item) { it.Approved, it.Subscription = false, roster.Both }, `<item xmlns='jabber:iq:roster' jid='bob@example.com' subscription='both'/>`},
		{"pending in is not shown", func(it *roster.Item) { it.PendingIn = subscribeFrom(t, bob) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(s.Sent())
			if _, err := roster.Update(context.Background(), h, jid.MustParse(alice), jid.MustParse(bob), func(it *roster.Item) bool {
				tc.fn(it)
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				wantPushes(t, s, sentSince(s, n), "-")
				return
			}
			wantPushes(t, s, sentSince(s, n), "-", tc.want)
		})
	}
}

func TestSizeLimit(t *testing.T) {
	env := newEnv(t, func(c *roster.Config) { c.MaxItems = 2 })
	h := host(t, env)
	set(t, env, alice+"/a", `<item jid='a@example.com'/>`).WantResult(t, "")
	hide(t, h, alice, "b@example.com") // hidden requests count too
	set(t, env, alice+"/a", `<item jid='c@example.com'/>`).WantError(t, stanza.Cancel, "not-allowed")
	_, err := roster.Update(context.Background(), h, jid.MustParse(alice), jid.MustParse("d@example.com"), func(it *roster.Item) bool {
		it.Ask = true
		return true
	})
	if !errors.Is(err, roster.ErrFull) {
		t.Errorf("Update of a new item in a full roster: err %v, want ErrFull", err)
	}
	// Existing items can still change, and a removal makes room.
	set(t, env, alice+"/a", `<item jid='a@example.com' name='A'/>`).WantResult(t, "")
	set(t, env, alice+"/a", `<item jid='b@example.com' name='B'/>`).WantResult(t, "")
	set(t, env, alice+"/a", `<item jid='a@example.com' subscription='remove'/>`).WantResult(t, "")
	set(t, env, alice+"/a", `<item jid='c@example.com'/>`).WantResult(t, "")
	// Other rosters are not affected.
	set(t, env, bob+"/b", `<item jid='c@example.com'/>`).WantResult(t, "")
}

// TestConcurrentUpdates checks that updates of one roster from many
// goroutines lose nothing.
func TestConcurrentUpdates(t *testing.T) {
	env := newEnv(t, nil)
	h := host(t, env)
	set(t, env, alice+"/a", `<item jid='bob@example.com'/>`).WantResult(t, "")
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := roster.Update(context.Background(), h, jid.MustParse(alice), jid.MustParse(bob), func(it *roster.Item) bool {
				it.Groups = append(it.Groups, fmt.Sprint("g", i))
				return true
			})
			if err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			set(t, env, alice+"/a", fmt.Sprintf(`<item jid='c%d@example.com'/>`, i))
		}()
	}
	wg.Wait()
	it, err := roster.Get(context.Background(), h, jid.MustParse(alice), jid.MustParse(bob))
	if err != nil {
		t.Fatal(err)
	}
	if len(it.Groups) != n {
		t.Errorf("item has %d groups after %d concurrent additions", len(it.Groups), n)
	}
	items, err := roster.Items(context.Background(), h, jid.MustParse(alice))
	if err != nil || len(items) != n+1 {
		t.Errorf("roster has %d items (%v), want %d", len(items), err, n+1)
	}
}

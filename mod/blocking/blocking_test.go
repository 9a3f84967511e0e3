package blocking_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"hearth/jid"
	"hearth/mod/blocking"
	"hearth/mod/internal/modtest"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/memstore"
)

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

// countingStore counts the reads of whole blocklists, to show that the
// hooks read the cache and not storage.
type countingStore struct {
	storage.Store
	loads atomic.Int64
}

func (s *countingStore) Map(name string) storage.Map {
	m := s.Store.Map(name)
	if name == blocking.MapName {
		return countingMap{m, &s.loads}
	}
	return m
}

type countingMap struct {
	storage.Map
	loads *atomic.Int64
}

func (m countingMap) All(ctx context.Context, owner string) ([]storage.Entry, error) {
	m.loads.Add(1)
	return m.Map.All(ctx, owner)
}

// newEnv starts roster and blocking on example.com; configure, when not
// nil, changes blocking's configuration.
func newEnv(t *testing.T, configure func(*blocking.Config)) (*modtest.Env, *countingStore) {
	t.Helper()
	store := &countingStore{Store: memstore.New()}
	env := modtest.New(t, "example.com", store)
	env.Start(t, roster.Module, nil)
	var dec func(any) error
	if configure != nil {
		dec = func(cfg any) error { configure(cfg.(*blocking.Config)); return nil }
	}
	env.Start(t, blocking.Module, dec)
	env.Freeze(t)
	return env, store
}

func iq(t *testing.T, env *modtest.Env, from, typ, payload string) modtest.Reply {
	t.Helper()
	return env.IQ(t, fmt.Sprintf(`<iq xmlns='jabber:client' type='%s' id='i' from='%s'>%s</iq>`, typ, from, payload))
}

func getList(t *testing.T, env *modtest.Env, from string) modtest.Reply {
	t.Helper()
	return iq(t, env, from, "get", `<blocklist xmlns='urn:xmpp:blocking'/>`)
}

func block(t *testing.T, env *modtest.Env, from string, jids ...string) modtest.Reply {
	t.Helper()
	return iq(t, env, from, "set", `<block xmlns='urn:xmpp:blocking'>`+itemsXML(jids)+`</block>`)
}

func unblock(t *testing.T, env *modtest.Env, from string, jids ...string) modtest.Reply {
	t.Helper()
	return iq(t, env, from, "set", `<unblock xmlns='urn:xmpp:blocking'>`+itemsXML(jids)+`</unblock>`)
}

func itemsXML(jids []string) string {
	var b strings.Builder
	for _, j := range jids {
		fmt.Fprintf(&b, `<item jid='%s'/>`, j)
	}
	return b.String()
}

func TestBlockUnblockList(t *testing.T) {
	env, _ := newEnv(t, nil)
	getList(t, env, alice+"/a").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'/>`)
	block(t, env, alice+"/a", "romeo@Montague.NET", "iago@shakespeare.lit", "romeo@montague.net").WantResult(t, "")
	// Keys are normalised and sorted; the duplicate counts once.
	getList(t, env, alice+"/a").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'><item jid='iago@shakespeare.lit'/><item jid='romeo@montague.net'/></blocklist>`)
	// Blocking again and unblocking what is not blocked are not errors.
	block(t, env, alice+"/a", "iago@shakespeare.lit").WantResult(t, "")
	unblock(t, env, alice+"/a", "nobody@example.org").WantResult(t, "")
	unblock(t, env, alice+"/a", "iago@shakespeare.lit").WantResult(t, "")
	getList(t, env, alice+"/a").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></blocklist>`)
	block(t, env, alice+"/a", "example.org", "x@example.net/res").WantResult(t, "")
	unblock(t, env, alice+"/a").WantResult(t, "") // unblock all
	getList(t, env, alice+"/a").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'/>`)
	// Storage holds what the cache says.
	entries, err := env.Store.Map(blocking.MapName).All(context.Background(), alice)
	if err != nil || len(entries) != 0 {
		t.Errorf("stored after unblock all: %v %v", entries, err)
	}
	// Another user's list is separate.
	block(t, env, bob+"/b", "x@example.net").WantResult(t, "")
	getList(t, env, alice+"/a").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'/>`)
}

func TestCommandErrors(t *testing.T) {
	env, _ := newEnv(t, func(c *blocking.Config) { c.MaxItems = 2 })
	for _, tc := range []struct {
		name, iq  string
		typ, cond string
	}{
		{"another user's list", `<iq xmlns='jabber:client' type='get' id='i' from='bob@example.com/b' to='alice@example.com'><blocklist xmlns='urn:xmpp:blocking'/></iq>`, stanza.Auth, "forbidden"},
		{"another user's block", `<iq xmlns='jabber:client' type='set' id='i' from='bob@example.com/b' to='alice@example.com'><block xmlns='urn:xmpp:blocking'><item jid='x@y.z'/></block></iq>`, stanza.Auth, "forbidden"},
		{"another user's unblock", `<iq xmlns='jabber:client' type='set' id='i' from='bob@example.com/b' to='alice@example.com'><unblock xmlns='urn:xmpp:blocking'/></iq>`, stanza.Auth, "forbidden"},
		{"empty block", `<iq xmlns='jabber:client' type='set' id='i' from='alice@example.com/a'><block xmlns='urn:xmpp:blocking'/></iq>`, stanza.Modify, "bad-request"},
		{"invalid jid", `<iq xmlns='jabber:client' type='set' id='i' from='alice@example.com/a'><block xmlns='urn:xmpp:blocking'><item jid='a@b@c'/></block></iq>`, stanza.Modify, "jid-malformed"},
		{"missing jid", `<iq xmlns='jabber:client' type='set' id='i' from='alice@example.com/a'><block xmlns='urn:xmpp:blocking'><item/></block></iq>`, stanza.Modify, "jid-malformed"},
		{"invalid unblock jid", `<iq xmlns='jabber:client' type='set' id='i' from='alice@example.com/a'><unblock xmlns='urn:xmpp:blocking'><item jid='@'/></unblock></iq>`, stanza.Modify, "jid-malformed"},
		{"over the limit", `<iq xmlns='jabber:client' type='set' id='i' from='alice@example.com/a'><block xmlns='urn:xmpp:blocking'><item jid='a@x.y'/><item jid='b@x.y'/><item jid='c@x.y'/></block></iq>`, stanza.Cancel, "not-allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.IQ(t, tc.iq).WantError(t, tc.typ, tc.cond)
		})
	}
	// Nothing was stored by the failed commands.
	getList(t, env, alice+"/a").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'/>`)
	block(t, env, alice+"/a", "a@x.y", "b@x.y").WantResult(t, "")
	block(t, env, alice+"/a", "a@x.y").WantResult(t, "") // already there: no growth
	block(t, env, alice+"/a", "c@x.y").WantError(t, stanza.Cancel, "not-allowed")
}

func TestPushesGoToInterestedResources(t *testing.T) {
	env, _ := newEnv(t, nil)
	a1 := env.Router.Bind(t, alice+"/one")
	a2 := env.Router.Bind(t, alice+"/two")
	b1 := env.Router.Bind(t, bob+"/one")
	getList(t, env, alice+"/one").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'/>`)
	getList(t, env, bob+"/one").WantResult(t, `<blocklist xmlns='urn:xmpp:blocking'/>`)
	if !blocking.Interested(a1) || blocking.Interested(a2) {
		t.Fatalf("interest: one %v, two %v", blocking.Interested(a1), blocking.Interested(a2))
	}

	block(t, env, alice+"/two", "romeo@montague.net", "iago@shakespeare.lit").WantResult(t, "")
	block(t, env, alice+"/two", "romeo@montague.net").WantResult(t, "") // no change, no push
	unblock(t, env, alice+"/two", "romeo@montague.net").WantResult(t, "")
	unblock(t, env, alice+"/two").WantResult(t, "")
	unblock(t, env, alice+"/two").WantResult(t, "") // already empty, no push

	got := a1.Sent()
	want := []string{
		`<block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/><item jid='iago@shakespeare.lit'/></block>`,
		`<unblock xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></unblock>`,
		`<unblock xmlns='urn:xmpp:blocking'/>`,
	}
	if len(got) != len(want) {
		t.Fatalf("pushes to the interested resource: %v, want %d", got, len(want))
	}
	for i, p := range got {
		if p.Get("type") != "set" || p.Get("to") != alice+"/one" || p.Get("from") != "" || p.Get("id") == "" {
			t.Errorf("push %d envelope: %s", i, p)
		}
		modtest.Equal(t, p.FirstElement(), want[i])
	}
	if n := len(a2.Sent()); n != 0 {
		t.Errorf("the resource that never asked for the list got %d pushes", n)
	}
	if n := len(b1.Sent()); n != 0 {
		t.Errorf("another account got %d pushes", n)
	}
}

func TestMatching(t *testing.T) {
	env, _ := newEnv(t, nil)
	ctx := context.Background()
	block(t, env, alice+"/a",
		"full@a.example/res", // only that resource
		"bare@b.example",     // any resource
		"c.example/res",      // only domain/res
		"d.example",          // the domain and everything at it
	).WantResult(t, "")
	for _, tc := range []struct {
		jid     string
		blocked bool
	}{
		{"full@a.example/res", true},
		{"full@a.example/other", false},
		{"full@a.example", false},
		{"bare@b.example", true},
		{"bare@b.example/any", true},
		{"other@b.example", false},
		{"b.example", false},
		{"c.example/res", true},
		{"c.example/other", false},
		{"c.example", false},
		{"x@c.example/res", false},
		{"d.example", true},
		{"d.example/res", true},
		{"u@d.example", true},
		{"u@d.example/res", true},
		{"sub.d.example", false},
		{"u@sub.d.example", false},
	} {
		from := jid.MustParse(tc.jid)
		msg := modtest.Parse(t, fmt.Sprintf(`<message xmlns='jabber:client' type='chat' from='%s' to='%s'><body>hi</body></message>`, tc.jid, alice))
		out, err := env.Registry.RunDeliver(ctx, msg, from, jid.MustParse(alice))
		if got := out == nil; got != tc.blocked {
			t.Errorf("%s: blocked = %v (err %v), want %v", tc.jid, got, err, tc.blocked)
		}
	}
}

func wantStanzaError(t *testing.T, err error, typ, cond string, blockedApp bool) {
	t.Helper()
	var se *stanza.Error
	if !errors.As(err, &se) {
		t.Fatalf("got error %v, want stanza error %s/%s", err, typ, cond)
	}
	if se.Type != typ || se.Condition != cond {
		t.Errorf("got %s/%s, want %s/%s", se.Type, se.Condition, typ, cond)
	}
	hasApp := se.App != nil && se.App.Name.Space == blocking.NSErrors && se.App.Name.Local == "blocked"
	if hasApp != blockedApp {
		t.Errorf("application condition %v, want <blocked/>: %v", se.App, blockedApp)
	}
}

// TestOutbound checks XEP-0191 §3.3 for stanzas the user sends to a JID
// the user blocked: errors for messages and IQ requests, silence for the
// rest.
func TestOutbound(t *testing.T) {
	env, _ := newEnv(t, nil)
	ctx := context.Background()
	block(t, env, alice+"/a", "romeo@montague.net", "example.com").WantResult(t, "")
	from := jid.MustParse(alice + "/a")
	for _, tc := range []struct {
		name, xml, to string
		pass          bool   // routed unchanged
		cond          string // else refused with this condition, or dropped when ""
	}{
		{"message", `<message type='chat'><body>x</body></message>`, "romeo@montague.net", false, "not-acceptable"},
		{"message to a resource", `<message><body>x</body></message>`, "romeo@montague.net/orchard", false, "not-acceptable"},
		{"iq get", `<iq type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>`, "romeo@montague.net/orchard", false, "not-acceptable"},
		{"iq set", `<iq type='set' id='q'><query xmlns='jabber:iq:roster'/></iq>`, "romeo@montague.net", false, "not-acceptable"},
		{"iq result", `<iq type='result' id='q'/>`, "romeo@montague.net/orchard", false, ""},
		{"message error", `<message type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, "romeo@montague.net", false, ""},
		{"directed presence", `<presence/>`, "romeo@montague.net", false, ""},
		{"subscription request", `<presence type='subscribe'/>`, "romeo@montague.net", false, ""},
		{"probe", `<presence type='probe'/>`, "romeo@montague.net", false, ""},
		{"not blocked", `<message type='chat'><body>x</body></message>`, "juliet@capulet.net", true, ""},
		// The user's own domain is blocked, but never the user's own resources.
		{"own resource", `<message type='chat'><body>x</body></message>`, alice + "/b", true, ""},
		{"own account", `<iq type='get' id='q'><blocklist xmlns='urn:xmpp:blocking'/></iq>`, alice, true, ""},
		{"blocked domain", `<message type='chat'><body>x</body></message>`, bob, false, "not-acceptable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// alice/a is not bound: the error comes back to the caller.
			st := modtest.Parse(t, tc.xml).Copy().Set("from", from.String()).Set("to", tc.to)
			out, err := env.Registry.RunInbound(ctx, st, from, jid.MustParse(tc.to))
			switch {
			case tc.pass:
				if out != st || err != nil {
					t.Errorf("got %v, %v; want the stanza unchanged", out, err)
				}
			case tc.cond == "":
				if out != nil || err != nil {
					t.Errorf("got %v, %v; want it dropped silently", out, err)
				}
			default:
				if out != nil {
					t.Fatalf("routed %s", out)
				}
				wantStanzaError(t, err, stanza.Cancel, tc.cond, true)
			}
		})
	}
}

// TestOutboundErrorToSession checks that the error for a stanza to a
// blocked JID goes straight to the sending session: routed, it would come
// from the blocked JID and the user's own deliver hook would drop it.
// TestOutboundError checks the refusal of a message to a blocked JID; the
// router sends it straight back to the session (server/blocking_test.go).
func TestOutboundError(t *testing.T) {
	env, _ := newEnv(t, nil)
	block(t, env, alice+"/a", "romeo@montague.net").WantResult(t, "")
	st := modtest.Parse(t, `<message xmlns='jabber:client' from='alice@example.com/a' to='romeo@montague.net' id='m1' type='chat'><body>x</body></message>`)
	out, err := env.Registry.RunInbound(context.Background(), st, jid.MustParse(alice+"/a"), jid.MustParse("romeo@montague.net"))
	var se *stanza.Error
	if out != nil || !errors.As(err, &se) || se.Condition != "not-acceptable" || se.App == nil || se.App.Name.Space != "urn:xmpp:blocking:errors" {
		t.Fatalf("got %v, %v; want the stanza stopped with not-acceptable and <blocked/>", out, err)
	}
}

// TestInbound checks XEP-0191 §3.3 for stanzas a blocked JID sends to the
// user, and that what the server sends on the user's behalf to a JID the
// user blocked is stopped too.
func TestInbound(t *testing.T) {
	env, _ := newEnv(t, nil)
	ctx := context.Background()
	block(t, env, alice+"/a", "romeo@montague.net", bob).WantResult(t, "")
	for _, tc := range []struct {
		name, xml, from, to string
		pass                bool
		cond                string
		blockedApp          bool
	}{
		{"message", `<message type='chat'><body>x</body></message>`, "romeo@montague.net/orchard", alice, false, "service-unavailable", false},
		{"headline", `<message type='headline'><body>x</body></message>`, "romeo@montague.net", alice + "/a", false, "service-unavailable", false},
		{"message error", `<message type='error'/>`, "romeo@montague.net/orchard", alice, false, "", false},
		{"iq get", `<iq type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>`, "romeo@montague.net/orchard", alice, false, "service-unavailable", false},
		{"iq set to a resource", `<iq type='set' id='q'><x xmlns='y'/></iq>`, "romeo@montague.net/orchard", alice + "/a", false, "service-unavailable", false},
		{"iq result", `<iq type='result' id='q'/>`, "romeo@montague.net/orchard", alice + "/a", false, "", false},
		{"iq error", `<iq type='error' id='q'/>`, "romeo@montague.net/orchard", alice + "/a", false, "", false},
		{"presence", `<presence/>`, "romeo@montague.net/orchard", alice, false, "", false},
		{"unavailable", `<presence type='unavailable'/>`, "romeo@montague.net/orchard", alice, false, "", false},
		{"subscribe", `<presence type='subscribe'/>`, "romeo@montague.net", alice, false, "", false},
		{"probe", `<presence type='probe'/>`, "romeo@montague.net", alice, false, "", false},
		{"not blocked", `<message type='chat'><body>x</body></message>`, "juliet@capulet.net/balcony", alice, true, "", false},
		{"from the server", `<message><body>x</body></message>`, "example.com", alice, true, "", false},
		// bob is local and blocked by alice: what the server sends from
		// alice to bob (presence broadcasts, probe answers) is stopped.
		{"alice's presence to bob", `<presence/>`, alice + "/a", bob, false, "", false},
		{"alice's unavailable to bob", `<presence type='unavailable'/>`, alice + "/a", bob + "/b", false, "", false},
		{"alice's probe to bob", `<presence type='probe'/>`, alice, bob, false, "", false},
		{"a message from alice to bob", `<message type='chat'><body>x</body></message>`, alice, bob, false, "", false},
		// ... but the errors the server answers bob's stanzas with reach him.
		{"alice's error to bob", `<message type='error'/>`, alice, bob + "/b", true, "", false},
		{"alice's iq error to bob", `<iq type='error' id='q'/>`, alice, bob + "/b", true, "", false},
		{"bob's own resources", `<message type='chat'><body>x</body></message>`, bob + "/b", bob + "/c", true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := modtest.Parse(t, tc.xml).Copy().Set("from", tc.from).Set("to", tc.to)
			out, err := env.Registry.RunDeliver(ctx, st, jid.MustParse(tc.from), jid.MustParse(tc.to))
			switch {
			case tc.pass:
				if out != st || err != nil {
					t.Errorf("got %v, %v; want the stanza unchanged", out, err)
				}
			case tc.cond == "":
				if out != nil || err != nil {
					t.Errorf("got %v, %v; want it dropped silently", out, err)
				}
			default:
				if out != nil {
					t.Fatalf("delivered %s", out)
				}
				wantStanzaError(t, err, stanza.Cancel, tc.cond, tc.blockedApp)
			}
		})
	}
}

func TestHooksReadTheCache(t *testing.T) {
	env, store := newEnv(t, nil)
	ctx := context.Background()
	block(t, env, alice+"/a", "romeo@montague.net").WantResult(t, "")
	loads := store.loads.Load()
	from, to := jid.MustParse("juliet@capulet.net/balcony"), jid.MustParse(alice)
	msg := modtest.Parse(t, `<message xmlns='jabber:client' type='chat'><body>x</body></message>`)
	for range 1000 {
		if out, _ := env.Registry.RunDeliver(ctx, msg, from, to); out == nil {
			t.Fatal("message stopped")
		}
	}
	// A change is written through: no reload, and it applies at once.
	block(t, env, alice+"/a", "capulet.net").WantResult(t, "")
	if out, _ := env.Registry.RunDeliver(ctx, msg, from, to); out != nil {
		t.Fatal("message from a newly blocked domain delivered")
	}
	unblock(t, env, alice+"/a").WantResult(t, "")
	if out, _ := env.Registry.RunDeliver(ctx, msg, from, to); out == nil {
		t.Fatal("message stopped after unblock all")
	}
	if n := store.loads.Load() - loads; n != 0 {
		t.Errorf("%d storage reads of alice's list after it was cached", n)
	}
	// A user who blocks nobody is read once, then cached as empty.
	carol := jid.MustParse("carol@example.com")
	for range 100 {
		env.Registry.RunDeliver(ctx, msg, from, carol)
	}
	if n := store.loads.Load() - loads; n != 1 {
		t.Errorf("%d storage reads of carol's empty list, want 1", n)
	}
}

func TestCacheEviction(t *testing.T) {
	env, store := newEnv(t, func(c *blocking.Config) { c.CacheSize = 2 })
	ctx := context.Background()
	block(t, env, alice+"/a", "romeo@montague.net").WantResult(t, "")
	from := jid.MustParse("romeo@montague.net")
	msg := modtest.Parse(t, `<message xmlns='jabber:client' type='chat'><body>x</body></message>`)
	for i := range 10 {
		env.Registry.RunDeliver(ctx, msg, from, jid.MustParse(fmt.Sprintf("user%d@example.com", i)))
	}
	before := store.loads.Load()
	// alice's list was evicted, but is read again and still blocks.
	if out, _ := env.Registry.RunDeliver(ctx, msg, from, jid.MustParse(alice)); out != nil {
		t.Fatal("blocked message delivered after eviction")
	}
	if store.loads.Load() == before {
		t.Error("alice's list was not evicted from a cache of 2")
	}
}

// TestPresenceOnBlockAndUnblock checks XEP-0191 §3.3 and §3.4: the
// contacts subscribed to the user's presence get unavailable presence
// from each available resource on block, and the current presence again
// on unblock; others get nothing.
func TestPresenceOnBlockAndUnblock(t *testing.T) {
	env, _ := newEnv(t, nil)
	ctx := context.Background()
	h := env.Host("test")
	owner := jid.MustParse(alice)
	for c, sub := range map[string]roster.Subscription{
		"romeo@montague.net":    roster.Both,
		"benvolio@montague.net": roster.From,
		"tybalt@capulet.net":    roster.To,
		"juliet@capulet.net":    roster.None,
	} {
		if _, err := roster.Update(ctx, h, owner, jid.MustParse(c), func(it *roster.Item) bool {
			it.Subscription, it.Hidden = sub, false
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	a1 := env.Router.Bind(t, alice+"/one")
	a1.SetPresence(modtest.Parse(t, `<presence xmlns='jabber:client' from='alice@example.com/one'><show>away</show></presence>`))
	env.Router.Bind(t, alice+"/two") // not available: sends nothing
	routed := func() []string {
		var out []string
		for _, st := range env.Router.Routed() {
			if st.Name.Local == "presence" {
				out = append(out, fmt.Sprintf("%s %s->%s %s", st.Get("type"), st.Get("from"), st.Get("to"), st.ChildText("", "show")))
			}
		}
		return out
	}
	check := func(step string, want ...string) {
		t.Helper()
		got := routed()
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: routed\n%q\nwant\n%q", step, got, want)
		}
	}

	block(t, env, alice+"/one", "tybalt@capulet.net", "juliet@capulet.net").WantResult(t, "")
	check("blocking contacts without a subscription from alice")
	block(t, env, alice+"/one", "romeo@montague.net/orchard").WantResult(t, "")
	check("blocking one resource", "unavailable alice@example.com/one->romeo@montague.net/orchard ")
	block(t, env, alice+"/one", "montague.net").WantResult(t, "")
	check("blocking the domain",
		"unavailable alice@example.com/one->romeo@montague.net/orchard ",
		"unavailable alice@example.com/one->benvolio@montague.net ",
		"unavailable alice@example.com/one->romeo@montague.net ")
	unblock(t, env, alice+"/one", "montague.net").WantResult(t, "")
	// romeo/orchard is still blocked by its own item.
	check("unblocking the domain",
		"unavailable alice@example.com/one->romeo@montague.net/orchard ",
		"unavailable alice@example.com/one->benvolio@montague.net ",
		"unavailable alice@example.com/one->romeo@montague.net ",
		" alice@example.com/one->benvolio@montague.net away",
		" alice@example.com/one->romeo@montague.net away")
}

// BenchmarkDeliverHook measures the blocking hooks on a message to a user
// who blocks 100 JIDs, from a remote JID that is not blocked (one list
// lookup), from a local user (both users' lists), and from a blocked one.
func BenchmarkDeliverHook(b *testing.B) {
	reg, _ := benchEnv(b)
	ctx := context.Background()
	to := jid.MustParse(alice)
	msg := stanza.New(stanza.NSClient, "message", "type", "chat").Append(stanza.New(stanza.NSClient, "body").AppendText("x"))
	for _, bc := range []struct{ name, from string }{
		{"remote", "juliet@capulet.net/balcony"},
		{"local", bob + "/desk"},
		{"blocked", "user50@blocked0.example/res"},
	} {
		from := jid.MustParse(bc.from)
		reg.RunDeliver(ctx, msg, from, to) // fill the cache
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				reg.RunDeliver(ctx, msg, from, to)
			}
		})
	}
}

// BenchmarkLoad measures what the cache saves: reading a 100-item
// blocklist from storage (memstore, so a lower bound) for every stanza.
func BenchmarkLoad(b *testing.B) {
	_, store := benchEnv(b)
	m := store.Map(blocking.MapName)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		entries, err := m.All(ctx, alice)
		if err != nil || len(entries) != 100 {
			b.Fatal(len(entries), err)
		}
		for _, e := range entries {
			jid.MustParse(e.Key)
		}
	}
}

// benchEnv starts roster and blocking on example.com without modtest
// (which needs a *testing.T), alice blocking 100 JIDs at 100 domains.
func benchEnv(b *testing.B) (*module.Registry, storage.Store) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	store := memstore.New()
	reg := module.NewRegistry("example.com")
	for _, def := range []*module.Definition{roster.Module, blocking.Module} {
		cfg, err := def.DecodeConfig(nil)
		if err != nil {
			b.Fatal(err)
		}
		h := module.NewHost(ctx, def.Name, reg, benchRouter{}, store, slog.New(slog.DiscardHandler), &wg)
		if err := def.Start(h, cfg); err != nil {
			b.Fatal(err)
		}
	}
	if err := reg.Freeze(); err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		if err := store.Map(blocking.MapName).Set(ctx, alice, fmt.Sprintf("user%d@blocked%d.example", i, i%10), []byte{}); err != nil {
			b.Fatal(err)
		}
	}
	return reg, store
}

// benchRouter is a module.Router serving example.com with no sessions.
type benchRouter struct{}

func (benchRouter) Route(context.Context, *stanza.Element) error { return nil }
func (benchRouter) Sessions(jid.JID) []module.Session            { return nil }
func (benchRouter) Session(jid.JID) module.Session               { return nil }
func (benchRouter) SendIQ(context.Context, *stanza.Element) (*stanza.Element, error) {
	return nil, stanza.NewError("service-unavailable")
}
func (benchRouter) IsLocal(domain string) bool { return domain == "example.com" }
func (benchRouter) IsService(string) bool      { return false }

package offline_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/mod/offline"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/memstore"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const stamp0 = "2026-01-02T03:04:05Z"

var bob = jid.MustParse("bob@example.com")

// newEnv starts the module with max_messages = limit (-1: the default) and
// the accounts alice and bob; the clock stands at t0.
func newEnv(t *testing.T, limit int) *modtest.Env {
	t.Helper()
	offline.SetClock(t, func() time.Time { return t0 })
	env := modtest.New(t, "example.com", memstore.New())
	var configure func(any) error
	if limit >= 0 {
		configure = func(c any) error { c.(*offline.Config).MaxMessages = limit; return nil }
	}
	env.Start(t, offline.Module, configure)
	env.Freeze(t)
	env.AddAccount(t, "alice")
	env.AddAccount(t, "bob")
	return env
}

// offer offers the message written in XML to the undelivered hooks, as the
// router does for bob, and reports whether a hook took it.
func offer(t *testing.T, env *modtest.Env, msgXML string) bool {
	t.Helper()
	return env.Registry.RunUndelivered(context.Background(), modtest.Parse(t, msgXML), bob)
}

func chat(body string) string {
	return `<message xmlns='jabber:client' from='alice@example.com/laptop' to='bob@example.com' type='chat' id='` + body + `'><body>` + body + `</body></message>`
}

func stored(t *testing.T, env *modtest.Env) []storage.Item {
	t.Helper()
	res, err := env.Store.Archive(offline.ArchiveName).Query(context.Background(), bob.String(), storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

// login binds a session of bob that sent initial presence with priority
// prio and runs the session-available hooks, as the presence module does.
func login(t *testing.T, env *modtest.Env, resource string, prio int) *modtest.Session {
	t.Helper()
	s := env.Router.Bind(t, "bob@example.com/"+resource)
	s.SetPresence(stanza.New(stanza.NSClient, "presence"))
	env.Registry.RunSessionAvailable(context.Background(), withPriority{s, prio})
	return s
}

// withPriority is a session whose presence has priority prio.
type withPriority struct {
	*modtest.Session
	prio int
}

func (s withPriority) Priority() int { return s.prio }

func bodies(sent []*stanza.Element) []string {
	var out []string
	for _, el := range sent {
		out = append(out, el.ChildText("", "body"))
	}
	return out
}

func TestStoreAndDeliver(t *testing.T) {
	env := newEnv(t, -1)
	msg := modtest.Parse(t, chat("hello"))
	before := modtest.Canonical(msg)
	if !env.Registry.RunUndelivered(context.Background(), msg, bob) {
		t.Fatal("message not taken")
	}
	if got := modtest.Canonical(msg); got != before {
		t.Errorf("offered message changed in place:\n got %s\nwant %s", got, before)
	}
	items := stored(t, env)
	if len(items) != 1 || items[0].With != "alice@example.com/laptop" {
		t.Fatalf("stored %+v", items)
	}

	phone := login(t, env, "phone", 0)
	want := `<message xmlns='jabber:client' from='alice@example.com/laptop' to='bob@example.com' type='chat' id='hello'>
		<body>hello</body><delay xmlns='urn:xmpp:delay' from='example.com' stamp='` + stamp0 + `'/></message>`
	sent := phone.Sent()
	if len(sent) != 1 {
		t.Fatalf("delivered %d messages, want 1", len(sent))
	}
	modtest.Equal(t, sent[0], want)
	if items := stored(t, env); len(items) != 0 {
		t.Errorf("%d messages still stored after delivery", len(items))
	}

	desk := login(t, env, "desk", 0)
	if sent := desk.Sent(); len(sent) != 0 {
		t.Errorf("second login got %d messages", len(sent))
	}
}

func TestOrder(t *testing.T) {
	env := newEnv(t, -1)
	var want []string
	for i := range 250 { // more than one delivery batch
		body := fmt.Sprintf("m%03d", i)
		want = append(want, body)
		if !offer(t, env, chat(body)) {
			t.Fatalf("message %d not taken", i)
		}
	}
	s := login(t, env, "phone", 5)
	if got := bodies(s.Sent()); !slices.Equal(got, want) {
		t.Errorf("delivered %d messages in order %v", len(got), got)
	}
	if items := stored(t, env); len(items) != 0 {
		t.Errorf("%d messages still stored", len(items))
	}
}

func TestNegativePriorityGetsNothing(t *testing.T) {
	env := newEnv(t, -1)
	offer(t, env, chat("wait"))
	s := login(t, env, "bot", -1)
	if sent := s.Sent(); len(sent) != 0 {
		t.Errorf("negative priority session got %v", bodies(sent))
	}
	if items := stored(t, env); len(items) != 1 {
		t.Errorf("%d messages stored, want 1", len(items))
	}
}

func TestLimit(t *testing.T) {
	env := newEnv(t, 3)
	for i := range 3 {
		if !offer(t, env, chat(fmt.Sprint(i))) {
			t.Fatalf("message %d refused below the limit", i)
		}
	}
	if offer(t, env, chat("too many")) {
		t.Errorf("message beyond the limit taken; the router would not bounce it")
	}
	if items := stored(t, env); len(items) != 3 {
		t.Errorf("%d messages stored, want 3", len(items))
	}
	// Delivery frees the space.
	login(t, env, "phone", 0)
	if !offer(t, env, chat("room again")) {
		t.Errorf("message refused after delivery emptied the storage")
	}
}

func TestDisabled(t *testing.T) {
	env := newEnv(t, 0)
	if offer(t, env, chat("x")) {
		t.Errorf("message taken with max_messages = 0")
	}
	if slices.Contains(env.Registry.Features(module.ServerTarget), offline.Feature) {
		t.Errorf("msgoffline advertised with max_messages = 0")
	}
	// Messages stored under an earlier configuration still go out.
	data := modtest.Parse(t, chat("old")).String()
	if _, err := env.Store.Archive(offline.ArchiveName).Append(context.Background(), bob.String(), storage.Item{Data: []byte(data)}); err != nil {
		t.Fatal(err)
	}
	s := login(t, env, "phone", 0)
	if got := bodies(s.Sent()); !slices.Equal(got, []string{"old"}) {
		t.Errorf("delivered %v, want [old]", got)
	}
}

func TestNegativeLimitIsAnError(t *testing.T) {
	env := modtest.New(t, "example.com", memstore.New())
	err := env.StartErr(offline.Module, func(c any) error { c.(*offline.Config).MaxMessages = -1; return nil })
	if err == nil || !strings.Contains(err.Error(), "max_messages") {
		t.Errorf("err = %v", err)
	}
}

func TestFeature(t *testing.T) {
	env := newEnv(t, -1)
	if !slices.Contains(env.Registry.Features(module.ServerTarget), offline.Feature) {
		t.Errorf("features %v lack %s", env.Registry.Features(module.ServerTarget), offline.Feature)
	}
}

func TestWhatIsStored(t *testing.T) {
	const (
		from   = `xmlns='jabber:client' from='alice@example.com/laptop' to='bob@example.com'`
		hints  = `urn:xmpp:hints`
		states = `http://jabber.org/protocol/chatstates`
	)
	tests := []struct {
		name      string
		msg       string
		wantTaken bool
		wantStore bool
	}{
		{"chat", `<message ` + from + ` type='chat'><body>hi</body></message>`, true, true},
		{"normal", `<message ` + from + `><body>hi</body></message>`, true, true},
		{"unknown type is normal", `<message ` + from + ` type='fancy'><body>hi</body></message>`, true, true},
		{"receipt", `<message ` + from + ` id='r'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`, true, true},
		{"no-store", `<message ` + from + ` type='chat'><body>hi</body><no-store xmlns='` + hints + `'/></message>`, false, false},
		{"no-store beats store", `<message ` + from + ` type='chat'><body>hi</body><no-store xmlns='` + hints + `'/><store xmlns='` + hints + `'/></message>`, false, false},
		{"no-permanent-store is temporary storage", `<message ` + from + ` type='chat'><body>hi</body><no-permanent-store xmlns='` + hints + `'/></message>`, true, true},
		{"lone chat state", `<message ` + from + ` type='chat'><composing xmlns='` + states + `'/></message>`, true, false},
		{"chat state with thread and ids", `<message ` + from + ` type='chat'><paused xmlns='` + states + `'/><thread>t1</thread><origin-id xmlns='urn:xmpp:sid:0' id='o'/><no-copy xmlns='` + hints + `'/></message>`, true, false},
		{"chat state with store", `<message ` + from + ` type='chat'><composing xmlns='` + states + `'/><store xmlns='` + hints + `'/></message>`, true, true},
		{"chat state with body", `<message ` + from + ` type='chat'><active xmlns='` + states + `'/><body>hi</body></message>`, true, true},
		{"headline", `<message ` + from + ` type='headline'><body>news</body></message>`, true, false},
		{"headline with store", `<message ` + from + ` type='headline'><body>news</body><store xmlns='` + hints + `'/></message>`, true, true},
		{"groupchat", `<message ` + from + ` type='groupchat'><body>hi</body></message>`, false, false},
		{"error", `<message ` + from + ` type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, -1)
			if got := offer(t, env, tc.msg); got != tc.wantTaken {
				t.Errorf("taken = %v, want %v", got, tc.wantTaken)
			}
			if n := len(stored(t, env)); n != map[bool]int{true: 1, false: 0}[tc.wantStore] {
				t.Errorf("%d messages stored, want stored = %v", n, tc.wantStore)
			}
		})
	}
}

func TestStampedCopy(t *testing.T) {
	env := newEnv(t, -1)
	// No 'to' (a message to oneself), and a delay this server added before
	// (a message stored again): 'to' is filled in, the first stamp kept.
	offer(t, env, `<message xmlns='jabber:client' from='bob@example.com/desk'><body>note</body>`+
		`<delay xmlns='urn:xmpp:delay' from='example.com' stamp='2025-12-31T23:59:59Z'/></message>`)
	s := login(t, env, "phone", 0)
	sent := s.Sent()
	if len(sent) != 1 {
		t.Fatalf("delivered %d", len(sent))
	}
	modtest.Equal(t, sent[0], `<message xmlns='jabber:client' from='bob@example.com/desk' to='bob@example.com'><body>note</body>`+
		`<delay xmlns='urn:xmpp:delay' from='example.com' stamp='2025-12-31T23:59:59Z'/></message>`)
}

// TestSessionAvailableMeanwhile covers a session that became available
// after the router found none and before the message was stored: it gets
// the message at once instead of at its next login.
func TestSessionAvailableMeanwhile(t *testing.T) {
	env := newEnv(t, -1)
	s := env.Router.Bind(t, "bob@example.com/phone")
	s.SetPresence(stanza.New(stanza.NSClient, "presence"))
	if !offer(t, env, chat("late")) {
		t.Fatal("message not taken")
	}
	if got := bodies(s.Sent()); !slices.Equal(got, []string{"late"}) {
		t.Errorf("available session got %v", got)
	}
	if items := stored(t, env); len(items) != 0 {
		t.Errorf("%d messages left stored", len(items))
	}
}

func TestUnreadableItemIsSkipped(t *testing.T) {
	env := newEnv(t, -1)
	a := env.Store.Archive(offline.ArchiveName)
	if _, err := a.Append(context.Background(), bob.String(), storage.Item{Data: []byte("<message")}); err != nil {
		t.Fatal(err)
	}
	offer(t, env, chat("fine"))
	s := login(t, env, "phone", 0)
	if got := bodies(s.Sent()); !slices.Equal(got, []string{"fine"}) {
		t.Errorf("delivered %v, want [fine]", got)
	}
	if items := stored(t, env); len(items) != 0 {
		t.Errorf("%d items left", len(items))
	}
}

// TestConcurrentLogins checks that two sessions becoming available at
// once share the stored messages without duplicates, and that
// concurrent stores respect the limit exactly.
func TestConcurrentLogins(t *testing.T) {
	env := newEnv(t, 40)
	done := make(chan bool)
	for i := range 60 {
		go func() { done <- offer(t, env, chat(fmt.Sprint(i))) }()
	}
	taken := 0
	for range 60 {
		if <-done {
			taken++
		}
	}
	if taken != 40 {
		t.Errorf("%d messages taken, want exactly the limit 40", taken)
	}
	sessions := make(chan *modtest.Session)
	for _, r := range []string{"a", "b"} {
		go func() { sessions <- login(t, env, r, 0) }()
	}
	total := len((<-sessions).Sent()) + len((<-sessions).Sent())
	if total != 40 {
		t.Errorf("delivered %d messages in all, want 40", total)
	}
}

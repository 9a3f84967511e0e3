package mam_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/mod/mam"
	"hearth/mod/roster"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/memstore"
)

const domain = "example.com"

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

type env struct {
	*modtest.Env
	clock time.Time
}

// newEnv starts roster and mam (configured by configure, if not nil) on
// example.com with the accounts alice and bob; the module's clock reads
// e.clock, which starts at t0 and advances by a second at each read.
func newEnv(t *testing.T, configure func(c *mam.Config)) *env {
	t.Helper()
	e := &env{Env: modtest.New(t, domain, memstore.New()), clock: t0}
	mam.SetClock(t, func() time.Time {
		c := e.clock
		e.clock = e.clock.Add(time.Second)
		return c
	})
	e.Start(t, roster.Module, nil)
	var conf func(any) error
	if configure != nil {
		conf = func(c any) error { configure(c.(*mam.Config)); return nil }
	}
	e.Start(t, mam.Module, conf)
	e.Freeze(t)
	e.AddAccount(t, "alice")
	e.AddAccount(t, "bob")
	return e
}

func mustJID(t *testing.T, s string) jid.JID {
	t.Helper()
	j, err := jid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// deliver runs the deliver hooks on the message xml from 'from' to 'to'
// (its attributes) and returns what would be delivered.
func (e *env) deliver(t *testing.T, xml string) *stanza.Element {
	t.Helper()
	st := modtest.Parse(t, xml)
	out, err := e.Registry.RunDeliver(context.Background(), st, mustJID(t, st.Get("from")), mustJID(t, st.Get("to")))
	if err != nil || out == nil {
		t.Fatalf("RunDeliver: %v, %v", out, err)
	}
	return out
}

// send runs the inbound hooks on the message xml, as sent by its 'from'.
func (e *env) send(t *testing.T, xml string) *stanza.Element {
	t.Helper()
	st := modtest.Parse(t, xml)
	to := mustJID(t, st.Get("from")).Bare()
	if s := st.Get("to"); s != "" {
		to = mustJID(t, s)
	}
	out, err := e.Registry.RunInbound(context.Background(), st, mustJID(t, st.Get("from")), to)
	if err != nil || out == nil {
		t.Fatalf("RunInbound: %v, %v", out, err)
	}
	return out
}

// items returns the whole archive of owner.
func (e *env) items(t *testing.T, owner string) []storage.Item {
	t.Helper()
	mam.Flush()
	res, err := e.Store.Archive(mam.ArchiveName).Query(context.Background(), owner, storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

// stanzaIDs returns the by=id pairs of st's <stanza-id/> children.
func stanzaIDs(st *stanza.Element) []string {
	var out []string
	for _, c := range st.Elements() {
		if c.Name.Space == mam.NSStanzaID && c.Name.Local == "stanza-id" {
			out = append(out, c.Get("by")+"="+c.Get("id"))
		}
	}
	return out
}

func chat(from, to, body string) string {
	return `<message xmlns='jabber:client' type='chat' from='` + from + `' to='` + to + `' id='m'><body>` + body + `</body></message>`
}

func TestIncomingArchivedWithStanzaID(t *testing.T) {
	e := newEnv(t, nil)
	in := modtest.Parse(t, chat("bob@example.com/phone", "alice@example.com", "hi"))
	out, err := e.Registry.RunDeliver(context.Background(), in, mustJID(t, "bob@example.com/phone"), mustJID(t, "alice@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	items := e.items(t, "alice@example.com")
	if len(items) != 1 {
		t.Fatalf("archived %d items, want 1", len(items))
	}
	it := items[0]
	if it.With != "bob@example.com/phone" || !it.Time.Equal(t0) {
		t.Errorf("item With %q Time %v", it.With, it.Time)
	}
	modtest.Equal(t, modtest.Parse(t, string(it.Data)), chat("bob@example.com/phone", "alice@example.com", "hi"))
	if got, want := stanzaIDs(out), []string{"alice@example.com=" + it.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered stanza IDs %v, want %v", got, want)
	}
	if len(stanzaIDs(in)) != 0 {
		t.Errorf("the hook changed the original stanza: %s", in)
	}
	if n := len(e.items(t, "bob@example.com")); n != 0 {
		t.Errorf("sender's archive has %d items; only outgoing hooks archive for the sender", n)
	}
}

func TestSpoofedStanzaIDReplaced(t *testing.T) {
	e := newEnv(t, nil)
	out := e.deliver(t, `<message xmlns='jabber:client' type='chat' from='bob@example.com/phone' to='alice@example.com'>
		<body>trust me</body>
		<stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='fake1'/>
		<stanza-id xmlns='urn:xmpp:sid:0' by='ALICE@Example.COM' id='fake2'/>
		<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example.org' id='room-id'/>
	</message>`)
	items := e.items(t, "alice@example.com")
	if len(items) != 1 {
		t.Fatalf("archived %d items", len(items))
	}
	want := []string{"room@muc.example.org=room-id", "alice@example.com=" + items[0].ID}
	if got := stanzaIDs(out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stanza IDs %v, want %v", got, want)
	}
	if strings.Contains(string(items[0].Data), "fake") {
		t.Errorf("archived the spoofed IDs: %s", items[0].Data)
	}

	// Removed even when the message is not archived (XEP-0359 §3 rule 2).
	out = e.deliver(t, `<message xmlns='jabber:client' type='headline' from='bob@example.com/phone' to='alice@example.com'>
		<body>news</body><stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='fake3'/></message>`)
	if got := stanzaIDs(out); len(got) != 0 {
		t.Errorf("headline kept stanza IDs %v", got)
	}
}

func TestOutgoing(t *testing.T) {
	e := newEnv(t, nil)
	sent := e.send(t, `<message xmlns='jabber:client' type='chat' from='alice@example.com/laptop' to='bob@example.com'>
		<body>hello</body><stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='own-spoof'/></message>`)
	alice := e.items(t, "alice@example.com")
	if len(alice) != 1 || alice[0].With != "bob@example.com" {
		t.Fatalf("sender's archive: %+v", alice)
	}
	if strings.Contains(string(alice[0].Data), "own-spoof") {
		t.Errorf("archived a spoofed ID: %s", alice[0].Data)
	}
	// The copy passed on (to carbons) carries the sender's archive ID.
	if got, want := stanzaIDs(sent), []string{"alice@example.com=" + alice[0].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent copy stanza IDs %v, want %v", got, want)
	}
	// The contact's server removes it and adds the contact's own.
	recv, err := e.Registry.RunDeliver(context.Background(), sent, mustJID(t, "alice@example.com/laptop"), mustJID(t, "bob@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	bob := e.items(t, "bob@example.com")
	if len(bob) != 1 || bob[0].With != "alice@example.com/laptop" {
		t.Fatalf("recipient's archive: %+v", bob)
	}
	if got, want := stanzaIDs(recv), []string{"bob@example.com=" + bob[0].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered stanza IDs %v, want %v", got, want)
	}
	if strings.Contains(string(bob[0].Data), "stanza-id") {
		t.Errorf("recipient archived a stanza ID: %s", bob[0].Data)
	}
}

func TestOutgoingToMissingAccount(t *testing.T) {
	e := newEnv(t, nil)
	sent := e.send(t, chat("alice@example.com/laptop", "nobody@example.com", "hello?"))
	if n := len(e.items(t, "alice@example.com")); n != 0 || len(stanzaIDs(sent)) != 0 {
		t.Errorf("message to a missing account archived (%d items): %s", n, sent)
	}
	// Remote peers cannot be checked: archived.
	e.send(t, chat("alice@example.com/laptop", "carol@remote.example", "hello"))
	if n := len(e.items(t, "alice@example.com")); n != 1 {
		t.Errorf("message to a remote peer: %d items", n)
	}
}

func TestSelfMessageArchivedOnce(t *testing.T) {
	e := newEnv(t, nil)
	msg := chat("alice@example.com/laptop", "alice@example.com/phone", "note to self")
	sent := e.send(t, msg)
	if len(stanzaIDs(sent)) != 0 || len(e.items(t, "alice@example.com")) != 0 {
		t.Fatalf("outgoing self message archived: %s", sent)
	}
	out := e.deliver(t, sent.String())
	items := e.items(t, "alice@example.com")
	if len(items) != 1 || items[0].With != "alice@example.com/laptop" {
		t.Fatalf("archive %+v", items)
	}
	if len(stanzaIDs(out)) != 1 {
		t.Errorf("delivered %s", out)
	}
}

func TestWhatIsArchived(t *testing.T) {
	for _, c := range []struct {
		name    string
		typ     string
		payload string
		want    bool
	}{
		{"chat with body", "chat", "<body>x</body>", true},
		{"normal with body", "normal", "<body>x</body>", true},
		{"no type with body", "", "<body>x</body>", true},
		{"subject only", "normal", "<subject>x</subject>", true},
		{"groupchat", "groupchat", "<body>x</body>", false},
		{"headline", "headline", "<body>x</body>", false},
		{"error", "error", "<body>x</body>", false},
		{"chat state only", "chat", "<composing xmlns='http://jabber.org/protocol/chatstates'/>", false},
		{"receipt only", "chat", "<received xmlns='urn:xmpp:receipts' id='a'/>", false},
		{"displayed marker", "chat", "<displayed xmlns='urn:xmpp:chat-markers:0' id='a'/>", true},
		{"store hint", "chat", "<store xmlns='urn:xmpp:hints'/><composing xmlns='http://jabber.org/protocol/chatstates'/>", true},
		{"no-store hint", "chat", "<body>x</body><no-store xmlns='urn:xmpp:hints'/>", false},
		{"no-permanent-store hint", "chat", "<body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/>", false},
		{"store and no-store", "chat", "<store xmlns='urn:xmpp:hints'/><body>x</body><no-store xmlns='urn:xmpp:hints'/>", false},
		{"OMEMO message", "chat", "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/><payload>AA==</payload></encrypted>", true},
		{"OMEMO key transport", "chat", "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/></encrypted>", false},
		{"OpenPGP", "chat", "<openpgp xmlns='urn:xmpp:openpgp:0'>AA==</openpgp>", true},
		{"MUC invitation", "normal", "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='a@b'/></x>", true},
		{"Jingle message", "chat", "<propose xmlns='urn:xmpp:jingle-message:0' id='c'/>", true},
		{"reaction", "chat", "<reactions xmlns='urn:xmpp:reactions:0' id='a'><reaction>x</reaction></reactions>", true},
		{"carbon copy", "chat", "<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'/></received>", false},
		{"someone else's MAM result", "normal", "<result xmlns='urn:xmpp:mam:2' id='x'><forwarded xmlns='urn:xmpp:forward:0'/></result>", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			typ := ""
			if c.typ != "" {
				typ = ` type='` + c.typ + `'`
			}
			out := e.deliver(t, `<message xmlns='jabber:client'`+typ+` from='bob@example.com/phone' to='alice@example.com'>`+c.payload+`</message>`)
			got := len(e.items(t, "alice@example.com")) == 1
			if got != c.want {
				t.Errorf("archived: %v, want %v", got, c.want)
			}
			if got != (len(stanzaIDs(out)) == 1) {
				t.Errorf("stanza ID added: %v, archived %v", !got, got)
			}
		})
	}
}

// iq sends a MAM IQ of type typ with payload from alice's laptop to her
// account.
func (e *env) iq(t *testing.T, typ, payload string) modtest.Reply {
	t.Helper()
	return e.IQ(t, `<iq xmlns='jabber:client' type='`+typ+`' id='q1' from='alice@example.com/laptop' to='alice@example.com'>`+payload+`</iq>`)
}

func TestPrefs(t *testing.T) {
	e := newEnv(t, nil)
	e.iq(t, "get", `<prefs xmlns='urn:xmpp:mam:2'/>`).WantResult(t, `<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never/></prefs>`)
	e.iq(t, "set", `<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>Carol@Example.com</jid><jid>carol@example.com</jid></always><never><jid>bob@example.com/phone</jid></never></prefs>`).
		WantResult(t, `<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>carol@example.com</jid></always><never><jid>bob@example.com/phone</jid></never></prefs>`)
	e.iq(t, "get", `<prefs xmlns='urn:xmpp:mam:2'/>`).WantResult(t, `<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>carol@example.com</jid></always><never><jid>bob@example.com/phone</jid></never></prefs>`)
	e.iq(t, "set", `<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>`).WantError(t, stanza.Modify, "bad-request")
	e.iq(t, "set", `<prefs xmlns='urn:xmpp:mam:2' default='never'><always><jid>@@</jid></always></prefs>`).WantError(t, stanza.Modify, "jid-malformed")
	e.IQ(t, `<iq xmlns='jabber:client' type='get' id='q' from='bob@example.com/phone' to='alice@example.com'><prefs xmlns='urn:xmpp:mam:2'/></iq>`).
		WantError(t, stanza.Auth, "forbidden")

	// Bob is in Alice's roster; Dave is not.
	if _, err := roster.Update(context.Background(), e.Host("test"), mustJID(t, "alice@example.com"), mustJID(t, "bob@example.com"),
		func(it *roster.Item) bool { it.Subscription = roster.Both; return true }); err != nil {
		t.Fatal(err)
	}
	archived := func(from string) bool {
		t.Helper()
		n := len(e.items(t, "alice@example.com"))
		e.deliver(t, chat(from, "alice@example.com", "x"))
		return len(e.items(t, "alice@example.com")) > n
	}
	for _, c := range []struct {
		from string
		want bool
	}{
		{"bob@example.com/desk", true},       // in the roster
		{"bob@example.com/phone", false},     // never, by full JID
		{"dave@example.com/x", false},        // not in the roster
		{"carol@example.com/anything", true}, // always, by bare JID
	} {
		if got := archived(c.from); got != c.want {
			t.Errorf("message from %s archived: %v, want %v", c.from, got, c.want)
		}
	}
	// Outgoing messages match on 'to'.
	e.send(t, chat("alice@example.com/laptop", "bob@example.com/phone", "x"))
	e.send(t, chat("alice@example.com/laptop", "dave@example.com", "x"))
	e.send(t, chat("alice@example.com/laptop", "bob@example.com", "x"))
	items := e.items(t, "alice@example.com")
	if last := items[len(items)-1]; len(items) != 3 || last.With != "bob@example.com" {
		t.Errorf("outgoing archived: %d items, last with %q; want 3, bob@example.com", len(items), last.With)
	}

	e.iq(t, "set", `<prefs xmlns='urn:xmpp:mam:2' default='never'><always/><never/></prefs>`).
		WantResult(t, `<prefs xmlns='urn:xmpp:mam:2' default='never'><always/><never/></prefs>`)
	if archived("bob@example.com/desk") {
		t.Errorf("archived with default never")
	}
}

func TestPrefsLimit(t *testing.T) {
	e := newEnv(t, func(c *mam.Config) { c.MaxPrefsJIDs = 2 })
	e.iq(t, "set", `<prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid>a@x</jid><jid>b@x</jid></always><never><jid>c@x</jid></never></prefs>`).
		WantError(t, stanza.Modify, "policy-violation")
}

func TestDefaultPolicyConfig(t *testing.T) {
	e := newEnv(t, func(c *mam.Config) { c.Default = mam.PolicyNever })
	e.iq(t, "get", `<prefs xmlns='urn:xmpp:mam:2'/>`).WantResult(t, `<prefs xmlns='urn:xmpp:mam:2' default='never'><always/><never/></prefs>`)
	e.deliver(t, chat("bob@example.com/phone", "alice@example.com", "x"))
	if n := len(e.items(t, "alice@example.com")); n != 0 {
		t.Errorf("archived %d items with default never", n)
	}
}

func TestConfigValidation(t *testing.T) {
	for name, fn := range map[string]func(c *mam.Config){
		"default":          func(c *mam.Config) { c.Default = "sometimes" },
		"max_page":         func(c *mam.Config) { c.MaxPage = 0 },
		"default_page":     func(c *mam.Config) { c.DefaultPage = 300 },
		"max_page_bytes":   func(c *mam.Config) { c.MaxPageBytes = 0 },
		"retention_days":   func(c *mam.Config) { c.RetentionDays = -1 },
		"cleanup_interval": func(c *mam.Config) { c.CleanupInterval = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			e := modtest.New(t, domain, memstore.New())
			e.Start(t, roster.Module, nil)
			err := e.StartErr(mam.Module, func(c any) error { fn(c.(*mam.Config)); return nil })
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("got %v, want an error about %s", err, name)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 5 {
		e.deliver(t, chat("bob@example.com/phone", "alice@example.com", strconv.Itoa(i)))
	}
	// Items are at t0, t0+1s, ... t0+4s; 3 days later, with 3 days of
	// retention, the first two are gone.
	e.clock = t0.Add(3*24*time.Hour + 2*time.Second)
	mam.Clean(context.Background(), e.Host("mam"), mam.Config{RetentionDays: 3})
	items := e.items(t, "alice@example.com")
	if len(items) != 3 || !items[0].Time.Equal(t0.Add(2*time.Second)) {
		t.Errorf("after cleaning: %d items, first at %v", len(items), items[0].Time)
	}
}

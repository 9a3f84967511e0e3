package muc

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage/memstore"
)

// fakeRouter records what the service routes and, like the real router,
// bounces synchronously what goes to a JID in ghosts: the bounce reaches
// the service while the room is still routing.
type fakeRouter struct {
	svc    *service
	ghosts map[string]bool
	// before, when set, sees each stanza before it is recorded.
	before func(st *stanza.Element)

	mu     sync.Mutex
	routed []*stanza.Element
}

func (r *fakeRouter) Route(ctx context.Context, st *stanza.Element) error {
	if r.before != nil {
		r.before(st)
	}
	r.mu.Lock()
	r.routed = append(r.routed, st)
	r.mu.Unlock()
	if r.ghosts[st.Get("to")] && st.Get("type") != stanza.ErrorType {
		bounce := stanza.ErrorReply(st, stanza.NewError("service-unavailable"))
		r.svc.handle(ctx, bounce, jid.MustParse(bounce.Get("from")), jid.MustParse(bounce.Get("to")))
	}
	return nil
}

func (r *fakeRouter) take() []*stanza.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.routed
	r.routed = nil
	return out
}

func (r *fakeRouter) Sessions(jid.JID) []module.Session { return nil }
func (r *fakeRouter) Session(jid.JID) module.Session    { return nil }
func (r *fakeRouter) IsLocal(d string) bool             { return d == "localhost" }
func (r *fakeRouter) IsService(d string) bool           { return d == "muc.localhost" }
func (r *fakeRouter) SendIQ(context.Context, *stanza.Element) (*stanza.Element, error) {
	return nil, stanza.NewError("service-unavailable")
}

func newTestService(t *testing.T, cfg Config) (*service, *fakeRouter) {
	t.Helper()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	fr := &fakeRouter{ghosts: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	h := module.NewHost(ctx, "muc", module.NewRegistry("localhost"), fr, memstore.New(), slog.New(slog.DiscardHandler), wg)
	s := newService(h, cfg, jid.MustParse("muc.localhost"))
	fr.svc = s
	return s, fr
}

func defaults() Config {
	c, err := Module.DecodeConfig(nil)
	if err != nil {
		panic(err)
	}
	return *c.(*Config)
}

func parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := stanza.NewDecoder(strings.NewReader(s), stanza.Limits{}).Next()
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return el
}

// send hands the service a stanza (in jabber:client, with from and to).
func send(t *testing.T, s *service, xml string) {
	t.Helper()
	st := parse(t, "<wrap xmlns='jabber:client'>"+xml+"</wrap>").FirstElement()
	s.handle(context.Background(), st, jid.MustParse(st.Get("from")), jid.MustParse(st.Get("to")))
}

func find(out []*stanza.Element, match func(*stanza.Element) bool) *stanza.Element {
	for _, el := range out {
		if match(el) {
			return el
		}
	}
	return nil
}

func codes(el *stanza.Element) string {
	var cs []string
	if x := el.Child(NSUser, "x"); x != nil {
		for _, c := range x.Elements() {
			if c.Name.Local == "status" {
				cs = append(cs, c.Get("code"))
			}
		}
	}
	return strings.Join(cs, ",")
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"create", func(c *Config) { c.Create = "everyone" }},
		{"admins", func(c *Config) { c.Admins = []string{"a@b/c"} }},
		{"max_occupants", func(c *Config) { c.MaxOccupants = c.MaxOccupantsLimit + 1 }},
		{"history_default", func(c *Config) { c.HistoryDefault = c.HistoryMax + 1 }},
		{"queue_limit", func(c *Config) { c.QueueLimit = 0 }},
		{"default_page", func(c *Config) { c.DefaultPage = c.MaxPage + 1 }},
	} {
		c := defaults()
		tc.edit(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: got %v, want an error naming it", tc.name, err)
		}
	}
	if err := defaults().validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// TestBounceDuringFanOut checks that an error bouncing back to the room
// while it routes (a ghost occupant) neither deadlocks nor gets lost: it
// is processed after the current stanza and removes the ghost with 333.
func TestBounceDuringFanOut(t *testing.T) {
	s, fr := newTestService(t, defaults())
	send(t, s, "<presence from='alice@localhost/a' to='r@muc.localhost/Alice'/>") // no <x/>: instant room
	send(t, s, "<presence from='bob@localhost/b' to='r@muc.localhost/Bob'><x xmlns='"+NS+"'/></presence>")
	fr.ghosts["bob@localhost/b"] = true
	fr.take()
	done := make(chan struct{})
	go func() {
		send(t, s, "<message from='alice@localhost/a' to='r@muc.localhost' type='groupchat' id='m'><body>hi</body></message>")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the room deadlocked on a bounce")
	}
	out := fr.take()
	gone := find(out, func(el *stanza.Element) bool {
		return el.Get("to") == "alice@localhost/a" && el.Get("from") == "r@muc.localhost/Bob" && el.Get("type") == "unavailable"
	})
	if gone == nil || codes(gone) != "333" {
		t.Fatalf("ghost not removed with 333: %v", out)
	}
}

func TestHistorySelection(t *testing.T) {
	s, fr := newTestService(t, defaults())
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { now = f }(now)
	send(t, s, "<presence from='alice@localhost/a' to='h@muc.localhost/Alice'/>")
	for i, body := range []string{"one", "two", "three", "four"} {
		now = func() time.Time { return base.Add(time.Duration(i) * time.Minute) }
		send(t, s, "<message from='alice@localhost/a' to='h@muc.localhost' type='groupchat'><body>"+body+"</body></message>")
	}
	now = func() time.Time { return base.Add(4 * time.Minute) }
	for _, tc := range []struct {
		history string
		want    string
	}{
		{"", "one,two,three,four"},
		{"<history maxstanzas='2'/>", "three,four"},
		{"<history maxstanzas='0'/>", ""},
		{"<history maxchars='0'/>", ""},
		{"<history seconds='150'/>", "three,four"},
		{"<history since='2026-01-01T12:00:30Z'/>", "two,three,four"},
		{"<history since='2026-01-01T12:00:30Z' maxstanzas='1'/>", "four"},
	} {
		fr.take()
		send(t, s, "<presence from='bob@localhost/b' to='h@muc.localhost/Bob'><x xmlns='"+NS+"'>"+tc.history+"</x></presence>")
		var got []string
		for _, el := range fr.take() {
			if el.Name.Local == "message" && el.Get("to") == "bob@localhost/b" && el.Child(stanza.NSClient, "body") != nil {
				if el.Child(NSDelay, "delay") == nil {
					t.Errorf("history without delay: %s", el)
				}
				got = append(got, el.ChildText(stanza.NSClient, "body"))
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%q: got %v, want %s", tc.history, got, tc.want)
		}
		send(t, s, "<presence from='bob@localhost/b' to='h@muc.localhost/Bob' type='unavailable'/>")
	}
}

func TestQueueLimit(t *testing.T) {
	c := defaults()
	c.QueueLimit = 1
	s, fr := newTestService(t, c)
	send(t, s, "<presence from='alice@localhost/a' to='q@muc.localhost/Alice'/>")
	r := s.room(jid.MustParse("q@muc.localhost"))
	// Pretend another goroutine is processing the room with one stanza waiting.
	r.inMu.Lock()
	r.draining = true
	r.inbox = append(r.inbox, event{})
	r.inMu.Unlock()
	fr.take()
	send(t, s, "<message from='alice@localhost/a' to='q@muc.localhost' type='groupchat' id='x'><body>x</body></message>")
	out := fr.take()
	if len(out) != 1 || stanza.ParseError(out[0]) == nil || stanza.ParseError(out[0]).Condition != "resource-constraint" {
		t.Fatalf("full queue: %v", out)
	}
}

func TestMaxRoomsPerUser(t *testing.T) {
	c := defaults()
	c.MaxRoomsPerUser = 1
	s, fr := newTestService(t, c)
	send(t, s, "<presence from='alice@localhost/a' to='one@muc.localhost/Alice'/>")
	fr.take()
	send(t, s, "<presence from='alice@localhost/a' to='two@muc.localhost/Alice'/>")
	out := fr.take()
	if len(out) != 1 || stanza.ParseError(out[0]) == nil || stanza.ParseError(out[0]).Condition != "resource-constraint" {
		t.Fatalf("second room: %v", out)
	}
	// Remote users may not create rooms by default.
	send(t, s, "<presence from='eve@remote.example/x' to='three@muc.localhost/Eve'/>")
	out = fr.take()
	if len(out) != 1 || stanza.ParseError(out[0]) == nil || stanza.ParseError(out[0]).Condition != "not-allowed" {
		t.Fatalf("remote creator: %v", out)
	}
}

func TestApplyForm(t *testing.T) {
	s, _ := newTestService(t, defaults())
	r := newRoom(s, jid.MustParse("f@muc.localhost"), s.defaultConfig())
	for _, tc := range []struct {
		field, value, cond string
	}{
		{"muc#roomconfig_whois", "everyone", "not-acceptable"},
		{"muc#roomconfig_allowpm", "all", "not-acceptable"},
		{"muc#roomconfig_maxusers", "0", "not-acceptable"},
		{"muc#roomconfig_presencebroadcast", "king", "not-acceptable"},
		{"muc#roomconfig_roomowners", "@@", "jid-malformed"},
		{"muc#roomconfig_passwordprotectedroom", "1", "not-acceptable"}, // without a secret
	} {
		f := &stanza.Form{Type: stanza.FormSubmit, Fields: []stanza.Field{{Var: tc.field, Values: []string{tc.value}}}}
		_, _, err := r.applyForm(r.cfg, f)
		if err == nil || err.Condition != tc.cond {
			t.Errorf("%s=%s: got %v, want %s", tc.field, tc.value, err, tc.cond)
		}
	}
	f := &stanza.Form{Type: stanza.FormSubmit, Fields: []stanza.Field{
		{Var: "muc#roomconfig_passwordprotectedroom", Values: []string{"1"}},
		{Var: "muc#roomconfig_roomsecret", Values: []string{"pw"}},
		{Var: "muc#roomconfig_presencebroadcast", Values: []string{"moderator"}},
		{Var: "muc#roomconfig_roomowners", Values: []string{"a@localhost", "b@localhost/x"}},
	}}
	c, ch, err := r.applyForm(r.cfg, f)
	if err != nil || !c.PasswordProtected || c.Password != "pw" || len(c.PresenceBroadcast) != 1 || len(ch.owners) != 2 || ch.owners[1].String() != "b@localhost" {
		t.Fatalf("applyForm: %+v %+v %v", c, ch, err)
	}
}

// TestDrainHandOff checks that a sender's goroutine processes at most
// drainBatch stanzas of a busy room and the rest follow, in order, in a
// drain worker.
func TestDrainHandOff(t *testing.T) {
	s, fr := newTestService(t, defaults())
	send(t, s, "<presence from='alice@localhost/a' to='d@muc.localhost/Alice'/>")
	r := s.room(jid.MustParse("d@muc.localhost"))
	fr.take()
	const n = 3 * drainBatch
	r.inMu.Lock()
	r.draining = true
	for i := range n {
		st := parse(t, "<message xmlns='jabber:client' from='alice@localhost/a' to='d@muc.localhost' type='groupchat'><body>x</body></message>")
		st.Set("id", "m"+strconv.Itoa(i))
		r.inbox = append(r.inbox, event{st: st, from: jid.MustParse("alice@localhost/a"), to: jid.MustParse("d@muc.localhost")})
	}
	r.inMu.Unlock()
	// The goroutine that takes over waits at its first stanza until the
	// sender's part is counted.
	gate := make(chan struct{})
	first := "m" + strconv.Itoa(drainBatch)
	fr.before = func(st *stanza.Element) {
		if st.Get("id") == first {
			<-gate
		}
	}
	r.drain(context.Background(), drainBatch)
	got := len(fr.take())
	close(gate)
	if got != drainBatch {
		t.Fatalf("the sender's goroutine relayed %d messages, want %d", got, drainBatch)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.inMu.Lock()
		idle := !r.draining
		r.inMu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rest of the queue was not processed")
		}
		time.Sleep(time.Millisecond)
	}
	rest := fr.take()
	if len(rest) != n-drainBatch || rest[0].Get("id") != "m"+strconv.Itoa(drainBatch) || rest[len(rest)-1].Get("id") != "m"+strconv.Itoa(n-1) {
		t.Fatalf("rest of the queue: %d stanzas, first %s", len(rest), rest[0])
	}
}

// TestBadInput sends malformed or unexpected stanzas: each gets the error
// XEP-0045 or RFC 6120 gives, or nothing when it is itself an error.
func TestBadInput(t *testing.T) {
	s, fr := newTestService(t, defaults())
	send(t, s, "<presence from='alice@localhost/a' to='b@muc.localhost/Alice'/>")
	send(t, s, "<presence from='bob@localhost/b' to='b@muc.localhost/Bob'/>")
	fr.take()
	for _, tc := range []struct{ xml, cond string }{
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='get'><query xmlns='" + NSDiscoInfo + "'/></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='get' id='1'/>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='get' id='1'><a xmlns='x'/><b xmlns='x'/></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='bogus' id='1'><a xmlns='x'/></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='get' id='1'><a xmlns='x'/></iq>", "service-unavailable"},
		{"<iq from='alice@localhost/a' to='muc.localhost' type='set' id='1'><a xmlns='x'/></iq>", "service-unavailable"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSAdmin + "'/></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSAdmin + "'><item nick='Bob' role='king'/></query></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSAdmin + "'><item nick='Bob' role='none' affiliation='none'/></query></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSAdmin + "'><item nick='Nobody' role='none'/></query></iq>", "item-not-found"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSAdmin + "'><item jid='@@' affiliation='member'/></query></iq>", "jid-malformed"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='get' id='1'><query xmlns='" + NSAdmin + "'><item affiliation='none'/></query></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSOwner + "'/></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSOwner + "'><x xmlns='jabber:x:data' type='bogus'/></query></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSMAM + "'><x xmlns='jabber:x:data' type='submit'><field var='start'><value>yesterday</value></field></x></query></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSMAM + "'><set xmlns='" + NSRSM + "'><max>-1</max></set></query></iq>", "bad-request"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost' type='set' id='1'><query xmlns='" + NSMAM + "'><set xmlns='" + NSRSM + "'><after>unknown</after></set></query></iq>", "item-not-found"},
		{"<iq from='carol@localhost/c' to='b@muc.localhost/Alice' type='get' id='1'><ping xmlns='" + NSPing + "'/></iq>", "not-acceptable"},
		{"<iq from='alice@localhost/a' to='b@muc.localhost/Nobody' type='get' id='1'><ping xmlns='" + NSPing + "'/></iq>", "item-not-found"},
		{"<iq from='alice@localhost/a' to='none@muc.localhost' type='get' id='1'><query xmlns='" + NSDiscoInfo + "'/></iq>", "item-not-found"},
		{"<message from='alice@localhost/a' to='b@muc.localhost' type='chat' id='1'><body>x</body></message>", "bad-request"},
		{"<message from='alice@localhost/a' to='b@muc.localhost' id='1'><x xmlns='" + NSUser + "'><invite to='@@'/></x></message>", "jid-malformed"},
		{"<message from='alice@localhost/a' to='none@muc.localhost' type='groupchat' id='1'><body>x</body></message>", "item-not-found"},
		{"<message from='alice@localhost/a' to='muc.localhost' type='chat' id='1'><body>x</body></message>", "service-unavailable"},
		{"<presence from='alice@localhost/a' to='b@muc.localhost' type='subscribe'/>", "service-unavailable"},
		{"<presence from='carol@localhost/c' to='none@muc.localhost'/>", "jid-malformed"},
	} {
		send(t, s, tc.xml)
		out := fr.take()
		if len(out) != 1 || out[0].Get("type") != stanza.ErrorType {
			t.Errorf("%s: got %v, want one error", tc.xml, out)
			continue
		}
		if e := stanza.ParseError(out[0]); e.Condition != tc.cond {
			t.Errorf("%s: got %s, want %s", tc.xml, e.Condition, tc.cond)
		}
	}
	// Errors and results that answer nothing are dropped.
	for _, x := range []string{
		"<iq from='alice@localhost/a' to='b@muc.localhost/Bob' type='result' id='unknown'/>",
		"<message from='carol@localhost/c' to='b@muc.localhost' type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
		"<presence from='carol@localhost/c' to='none@muc.localhost/x' type='unavailable'/>",
	} {
		send(t, s, x)
		if out := fr.take(); len(out) != 0 {
			t.Errorf("%s: got %v, want nothing", x, out)
		}
	}
}

func TestHistoryBounds(t *testing.T) {
	c := defaults()
	c.HistoryMax = 3
	c.HistoryDefault = 3
	c.HistoryMaxBytes = 1000
	s, _ := newTestService(t, c)
	send(t, s, "<presence from='alice@localhost/a' to='hb@muc.localhost/Alice'/>")
	for range 5 {
		send(t, s, "<message from='alice@localhost/a' to='hb@muc.localhost' type='groupchat'><body>short</body></message>")
	}
	r := s.room(jid.MustParse("hb@muc.localhost"))
	if len(r.history) != 3 {
		t.Fatalf("history of %d messages, want history_max 3", len(r.history))
	}
	send(t, s, "<message from='alice@localhost/a' to='hb@muc.localhost' type='groupchat'><body>"+strings.Repeat("x", 700)+"</body></message>")
	if len(r.history) != 1 || r.historyBytes > c.HistoryMaxBytes {
		t.Fatalf("history of %d messages, %d bytes: want only the long one within %d bytes", len(r.history), r.historyBytes, c.HistoryMaxBytes)
	}
}

func TestForwardedIQLimit(t *testing.T) {
	c := defaults()
	c.MaxForwardedIQs = 1
	s, fr := newTestService(t, c)
	send(t, s, "<presence from='alice@localhost/a' to='f@muc.localhost/Alice'/>")
	send(t, s, "<presence from='bob@localhost/b' to='f@muc.localhost/Bob'/>")
	fr.take()
	send(t, s, "<iq from='bob@localhost/b' to='f@muc.localhost/Alice' type='get' id='1'><query xmlns='jabber:iq:version'/></iq>")
	out := fr.take()
	if len(out) != 1 || out[0].Get("to") != "alice@localhost/a" || out[0].Get("from") != "f@muc.localhost/Bob" {
		t.Fatalf("forwarded: %v", out)
	}
	fwdID := out[0].Get("id")
	send(t, s, "<iq from='bob@localhost/b' to='f@muc.localhost/Alice' type='get' id='2'><query xmlns='jabber:iq:version'/></iq>")
	if out := fr.take(); len(out) != 1 || stanza.ParseError(out[0]) == nil || stanza.ParseError(out[0]).Condition != "resource-constraint" {
		t.Fatalf("beyond the limit: %v", out)
	}
	// A reply from someone else than the target is not taken.
	send(t, s, "<iq from='carol@localhost/c' to='f@muc.localhost/Bob' type='result' id='"+fwdID+"'/>")
	if out := fr.take(); len(out) != 0 {
		t.Fatalf("spoofed reply relayed: %v", out)
	}
	send(t, s, "<iq from='alice@localhost/a' to='f@muc.localhost/Bob' type='result' id='"+fwdID+"'/>")
	if out := fr.take(); len(out) != 1 || out[0].Get("id") != "1" || out[0].Get("to") != "bob@localhost/b" || out[0].Get("from") != "f@muc.localhost/Alice" {
		t.Fatalf("reply: %v", out)
	}
}

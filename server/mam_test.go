package server_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/mod/mam"
	"hearth/stanza"
	"hearth/storage"
	"hearth/xmpptest"
)

// mamPage is what one MAM query returned over the wire.
type mamPage struct {
	results  []*stanza.Element // the forwarded messages, in the order received
	ids      []string          // their archive IDs
	fin      *stanza.Element
	complete bool
	first    string
	last     string
	count    string
}

// mamQuery sends a MAM query (payload: the children of <query/>) and
// collects the results and the <fin/>. It fails the test on an error reply.
func mamQuery(t testing.TB, c *xmpptest.Client, payload string) mamPage {
	t.Helper()
	p, errEl := mamQueryRaw(t, c, payload)
	if errEl != nil {
		t.Fatalf("query %s: %s", payload, errEl)
	}
	return p
}

// mamQueryRaw is mamQuery returning an error reply instead of failing.
func mamQueryRaw(t testing.TB, c *xmpptest.Client, payload string) (mamPage, *stanza.Element) {
	t.Helper()
	id := c.NextID()
	c.Send("<iq type='set' id='" + id + "'><query xmlns='urn:xmpp:mam:2' queryid='" + id + "'>" + payload + "</query></iq>")
	var p mamPage
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Get("id") == id {
			if el.Get("type") != "result" {
				return p, el
			}
			p.fin = el.Child(mam.NS, "fin")
			if p.fin == nil {
				t.Fatalf("no <fin/> in %s", el)
			}
			p.complete = p.fin.Get("complete") == "true"
			set := p.fin.Child(mam.NSRSM, "set")
			p.first, p.last, p.count = set.ChildText(mam.NSRSM, "first"), set.ChildText(mam.NSRSM, "last"), set.ChildText(mam.NSRSM, "count")
			return p, nil
		}
		res := el.Child(mam.NS, "result")
		if el.Name.Local != "message" || res == nil || res.Get("queryid") != id {
			continue // not ours: other traffic
		}
		if el.Get("from") != c.JID.Bare().String() {
			t.Fatalf("result from %q", el.Get("from"))
		}
		fwd := res.Child(mam.NSForward, "forwarded")
		msg := fwd.Child(stanza.NSClient, "message")
		if msg == nil || fwd.Child(mam.NSDelay, "delay") == nil {
			t.Fatalf("malformed result %s", el)
		}
		p.results = append(p.results, msg)
		p.ids = append(p.ids, res.Get("id"))
	}
}

func (p mamPage) bodies() string {
	var out []string
	for _, m := range p.results {
		out = append(out, m.ChildText(stanza.NSClient, "body"))
	}
	return strings.Join(out, ",")
}

func mamForm(fields ...string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>")
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("<field var='" + fields[i] + "'>")
		for _, v := range strings.Split(fields[i+1], ",") {
			b.WriteString("<value>" + v + "</value>")
		}
		b.WriteString("</field>")
	}
	return b.String() + "</x>"
}

func rsmSet(inner string) string {
	return "<set xmlns='http://jabber.org/protocol/rsm'>" + inner + "</set>"
}

// stanzaIDsOf returns the by=id pairs of the <stanza-id/> children of st.
func stanzaIDsOf(st *stanza.Element) []string {
	var out []string
	for _, c := range st.Elements() {
		if c.Name.Space == mam.NSStanzaID && c.Name.Local == "stanza-id" {
			out = append(out, c.Get("by")+"="+c.Get("id"))
		}
	}
	return out
}

func TestMAMArchivesBothSides(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	alicePhone := srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	if r := alicePhone.IQ("<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>"); r.Get("type") != "result" {
		t.Fatalf("enabling carbons: %s", r)
	}

	// A spoofed ID naming bob's archive is replaced; one naming alice's
	// (which alice may not set either) is removed.
	alice.Send(`<message to='bob@localhost' type='chat' id='a1'><body>hello bob</body>
		<stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='spoofed'/>
		<stanza-id xmlns='urn:xmpp:sid:0' by='alice@localhost' id='spoofed-too'/></message>`)
	got := bob.Expect("message", isMessage("hello bob"))
	bobIDs := stanzaIDsOf(got)
	if len(bobIDs) != 1 || !strings.HasPrefix(bobIDs[0], "bob@localhost=") || strings.Contains(bobIDs[0], "spoofed") {
		t.Fatalf("bob got stanza IDs %v: want exactly one, by bob@localhost, not spoofed", bobIDs)
	}
	bobID := strings.TrimPrefix(bobIDs[0], "bob@localhost=")

	// The sent carbon tells alice's other device her archive ID.
	carbon := alicePhone.Expect("sent carbon", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Child("urn:xmpp:carbons:2", "sent") != nil
	})
	inner := carbon.Child("urn:xmpp:carbons:2", "sent").Child(mam.NSForward, "forwarded").Child(stanza.NSClient, "message")
	// (The one naming bob's archive is alice's own doing and stays in her
	// copy: only bob's server removes it.)
	aliceIDs := slices.DeleteFunc(stanzaIDsOf(inner), func(s string) bool { return !strings.HasPrefix(s, "alice@localhost=") })
	if len(aliceIDs) != 1 || strings.Contains(aliceIDs[0], "spoofed") {
		t.Fatalf("sent carbon stanza IDs %v: want exactly one by alice@localhost", stanzaIDsOf(inner))
	}
	aliceID := strings.TrimPrefix(aliceIDs[0], "alice@localhost=")

	// Each side finds the message in its archive under the ID it saw.
	p := mamQuery(t, bob, "")
	if p.bodies() != "hello bob" || p.ids[0] != bobID || !p.complete || p.count != "1" {
		t.Errorf("bob's archive: %q ids %v complete %v count %s", p.bodies(), p.ids, p.complete, p.count)
	}
	if from := p.results[0].Get("from"); from != "alice@localhost/laptop" {
		t.Errorf("archived from %q", from)
	}
	p = mamQuery(t, alicePhone, "")
	if p.bodies() != "hello bob" || p.ids[0] != aliceID {
		t.Errorf("alice's archive: %q ids %v, want id %s", p.bodies(), p.ids, aliceID)
	}
	if ids := stanzaIDsOf(p.results[0]); slices.ContainsFunc(ids, func(s string) bool { return strings.HasPrefix(s, "alice@localhost=") }) {
		t.Errorf("archived copy carries alice's stanza IDs: %s", p.results[0])
	}

	// Bob's reply: archived on both sides too.
	bob.Send("<message to='alice@localhost/laptop' type='chat'><body>hi alice</body></message>")
	got = alice.Expect("reply", isMessage("hi alice"))
	if ids := stanzaIDsOf(got); len(ids) != 1 || !strings.HasPrefix(ids[0], "alice@localhost=") {
		t.Errorf("alice got stanza IDs %v", ids)
	}
	if p := mamQuery(t, alice, ""); p.bodies() != "hello bob,hi alice" {
		t.Errorf("alice's archive %q", p.bodies())
	}
	if p := mamQuery(t, bob, ""); p.bodies() != "hello bob,hi alice" {
		t.Errorf("bob's archive %q", p.bodies())
	}

	// Chat states alone are not archived, and get no stanza ID.
	alice.Send("<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	got = bob.Expect("chat state", func(el *stanza.Element) bool { return el.Child("", "composing") != nil })
	if ids := stanzaIDsOf(got); len(ids) != 0 {
		t.Errorf("chat state got stanza IDs %v", ids)
	}
	if p := mamQuery(t, bob, ""); p.count != "2" {
		t.Errorf("bob's archive has %s items after a chat state, want 2", p.count)
	}

	// Disco advertises the features on the account.
	info := alice.IQ("<iq type='get' id='d1' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	var features []string
	for _, f := range info.Child("", "query").Elements() {
		features = append(features, f.Get("var"))
	}
	for _, want := range []string{mam.NS, mam.NSExtended, mam.NSStanzaID} {
		if !slices.Contains(features, want) {
			t.Errorf("account disco lacks %s: %v", want, features)
		}
	}

	// Another account's archive is off limits.
	r := bob.IQ("<iq type='set' id='x1' to='alice@localhost'><query xmlns='urn:xmpp:mam:2'/></iq>")
	if errorCondition(r) != "forbidden" {
		t.Errorf("query of another archive: %s", r)
	}
}

func TestMAMQueryFilters(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	srv.AddUser(t, "carol", "pw-carol-12")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bobPhone := srv.LoginAvailable(t, "bob", "pw-bob-123", "phone")
	bobDesk := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-12", "pc")

	// m0 bob/phone -> alice, m1 alice -> bob, m2 carol -> alice,
	// m3 bob/desk -> alice, then the clock moves on, m4 alice -> carol.
	send := func(from *xmpptest.Client, to, body string) {
		t.Helper()
		from.Send("<message to='" + to + "' type='chat'><body>" + body + "</body></message>")
	}
	send(bobPhone, "alice@localhost", "m0")
	alice.Expect("m0", isMessage("m0"))
	send(alice, "bob@localhost", "m1")
	bobPhone.Expect("m1", isMessage("m1"))
	send(carol, "alice@localhost", "m2")
	alice.Expect("m2", isMessage("m2"))
	send(bobDesk, "alice@localhost", "m3")
	alice.Expect("m3", isMessage("m3"))
	all := mamQuery(t, alice, "")
	if all.bodies() != "m0,m1,m2,m3" {
		t.Fatalf("archive %q", all.bodies())
	}
	time.Sleep(20 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	send(alice, "carol@localhost", "m4")
	carol.Expect("m4", isMessage("m4"))

	for _, c := range []struct{ name, payload, want string }{
		{"all", "", "m0,m1,m2,m3,m4"},
		{"with bare", mamForm("with", "bob@localhost"), "m0,m1,m3"},
		{"with full", mamForm("with", "bob@localhost/phone"), "m0"},
		{"with carol", mamForm("with", "carol@localhost"), "m2,m4"},
		{"start", mamForm("start", mid.Format(time.RFC3339Nano)), "m4"},
		{"end", mamForm("end", mid.Format(time.RFC3339Nano)), "m0,m1,m2,m3"},
		{"ids", mamForm("ids", all.ids[3]+","+all.ids[1]), "m1,m3"},
		{"after-id", mamForm("after-id", all.ids[1]), "m2,m3,m4"},
		{"before-id and with", mamForm("before-id", all.ids[3], "with", "bob@localhost"), "m0,m1"},
		{"last page", rsmSet("<max>2</max><before/>"), "m3,m4"},
		{"flipped last page", rsmSet("<max>2</max><before/>") + "<flip-page/>", "m4,m3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := mamQuery(t, alice, c.payload).bodies(); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}

	for _, c := range []struct{ name, payload, cond string }{
		{"unknown after", rsmSet("<after>nope</after>"), "item-not-found"},
		{"unknown before", rsmSet("<before>nope</before>"), "item-not-found"},
		{"unknown ids", mamForm("ids", "nope"), "item-not-found"},
		{"unknown field", mamForm("{urn:example}x", "y"), "feature-not-implemented"},
		{"malformed start", mamForm("start", "noon"), "bad-request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, errEl := mamQueryRaw(t, alice, c.payload); errEl == nil || errorCondition(errEl) != c.cond {
				t.Errorf("got %v, want %s", errEl, c.cond)
			}
		})
	}

	meta := alice.IQ("<iq type='get' id='md'><metadata xmlns='urn:xmpp:mam:2'/></iq>")
	md := meta.Child(mam.NS, "metadata")
	if md == nil || md.Child(mam.NS, "start").Get("id") != all.ids[0] || md.Child(mam.NS, "end").Get("id") == "" {
		t.Errorf("metadata %s", meta)
	}
}

// archiveMessages appends n chat messages to owner's archive directly in
// storage, as the module stores them (Item.Data is the stanza as
// stanza.Element.String encodes it), one a millisecond from start, with
// peer(i) as the other party. Message i has body "m<i>"; even ones are
// incoming, odd ones outgoing.
func archiveMessages(tb testing.TB, srv *xmpptest.Server, owner string, n int, start time.Time, peer func(i int) string) []string {
	tb.Helper()
	arch := srv.Store().Archive(mam.ArchiveName)
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		from, to := peer(i), owner
		if i%2 == 1 {
			from, to = owner+"/laptop", peer(i)
		}
		msg := stanza.New(stanza.NSClient, "message", "type", "chat", "from", from, "to", to, "id", "x"+strconv.Itoa(i)).
			Append(stanza.New(stanza.NSClient, "body").AppendText("m" + strconv.Itoa(i)))
		it, err := arch.Append(ctx, owner, storage.Item{
			Time: start.Add(time.Duration(i) * time.Millisecond),
			With: peer(i),
			Data: []byte(msg.String()),
		})
		if err != nil {
			tb.Fatalf("append: %v", err)
		}
		ids[i] = it.ID
	}
	return ids
}

// TestMAMPagingWalk pages through 10 000 messages forwards and backwards,
// with and without flipped pages, and checks that every message comes
// exactly once, in order, and that only the last page is complete.
func TestMAMPagingWalk(t *testing.T) {
	t.Parallel()
	const total = 10_000
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	ids := archiveMessages(t, srv, "alice@localhost", total, time.Now().Add(-time.Hour),
		func(i int) string { return fmt.Sprintf("peer%d@localhost/r%d", i%7, i%2) })
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")

	walk := func(t *testing.T, backward, flip bool) {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > total/250+2 {
				t.Fatalf("walk does not end")
			}
			set := "<max>250</max>"
			switch {
			case backward:
				set += "<before>" + cursor + "</before>"
			case cursor != "":
				set += "<after>" + cursor + "</after>"
			}
			payload := rsmSet(set)
			if flip {
				payload += "<flip-page/>"
			}
			p := mamQuery(t, alice, payload)
			if p.count != strconv.Itoa(total) {
				t.Fatalf("count %s", p.count)
			}
			pageIDs := slices.Clone(p.ids)
			if flip {
				slices.Reverse(pageIDs)
			}
			if len(pageIDs) > 0 && (p.first != pageIDs[0] || p.last != pageIDs[len(pageIDs)-1]) {
				t.Fatalf("rsm first/last %s/%s do not match the page", p.first, p.last)
			}
			if backward {
				got = append(pageIDs, got...)
				cursor = p.first
			} else {
				got = append(got, pageIDs...)
				cursor = p.last
			}
			if p.complete {
				if len(got) != total {
					t.Fatalf("complete after %d items", len(got))
				}
				break
			}
			if len(p.ids) != 250 {
				t.Fatalf("incomplete page of %d items", len(p.ids))
			}
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("walk returned %d ids, not the archive in order", len(got))
		}
	}
	t.Run("forwards", func(t *testing.T) { walk(t, false, false) })
	t.Run("backwards", func(t *testing.T) { walk(t, true, false) })
	t.Run("backwards flipped", func(t *testing.T) { walk(t, true, true) })
	t.Run("with filter backwards", func(t *testing.T) {
		var got []string
		cursor := ""
		for {
			p := mamQuery(t, alice, mamForm("with", "peer3@localhost")+rsmSet("<max>100</max><before>"+cursor+"</before>"))
			got = append(slices.Clone(p.ids), got...)
			cursor = p.first
			if p.complete {
				break
			}
		}
		var want []string
		for i, id := range ids {
			if i%7 == 3 {
				want = append(want, id)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("filtered walk returned %d ids, want %d in order", len(got), len(want))
		}
	})
}

func TestMAMPrefs(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	srv.AddUser(t, "carol", "pw-carol-12")
	alice := srv.LoginAvailable(t, "alice", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	carol := srv.LoginAvailable(t, "carol", "pw-carol-12", "pc")

	setPrefs := func(prefs string) {
		t.Helper()
		if r := alice.IQ("<iq type='set' id='" + alice.NextID() + "'>" + prefs + "</iq>"); r.Get("type") != "result" {
			t.Fatalf("prefs set: %s", r)
		}
	}
	exchange := func(from *xmpptest.Client, body string) (stanzaIDs int) {
		t.Helper()
		from.Send("<message to='alice@localhost' type='chat'><body>" + body + "</body></message>")
		return len(stanzaIDsOf(alice.Expect(body, isMessage(body))))
	}

	setPrefs("<prefs xmlns='urn:xmpp:mam:2' default='never'/>")
	if n := exchange(bob, "never1"); n != 0 {
		t.Errorf("default never: %d stanza IDs", n)
	}
	setPrefs("<prefs xmlns='urn:xmpp:mam:2' default='never'><always><jid>carol@localhost</jid></always></prefs>")
	exchange(bob, "never2")
	exchange(carol, "always1")

	// bob joins alice's roster.
	if r := alice.IQ("<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>"); r.Get("type") != "result" {
		t.Fatalf("roster set: %s", r)
	}
	setPrefs("<prefs xmlns='urn:xmpp:mam:2' default='roster'/>")
	exchange(bob, "roster1")
	exchange(carol, "not-in-roster")
	setPrefs("<prefs xmlns='urn:xmpp:mam:2' default='always'><never><jid>bob@localhost</jid></never></prefs>")
	exchange(bob, "never3")
	exchange(carol, "always2")

	if got := mamQuery(t, alice, "").bodies(); got != "always1,roster1,always2" {
		t.Errorf("archive %q, want always1,roster1,always2", got)
	}
	r := alice.IQ("<iq type='get' id='pg'><prefs xmlns='urn:xmpp:mam:2'/></iq>")
	p := r.Child(mam.NS, "prefs")
	if p == nil || p.Get("default") != "always" || p.Child(mam.NS, "never").ChildText(mam.NS, "jid") != "bob@localhost" {
		t.Errorf("prefs get: %s", r)
	}
}

func TestMAMRetention(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "[mam]\nretention_days = 2\ncleanup_interval = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	old := archiveMessages(t, srv, "alice@localhost", 10, time.Now().Add(-72*time.Hour), func(int) string { return "bob@localhost" })
	recent := archiveMessages(t, srv, "alice@localhost", 5, time.Now().Add(-24*time.Hour), func(int) string { return "bob@localhost" })
	arch := srv.Store().Archive(mam.ArchiveName)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := arch.Count(context.Background(), "alice@localhost")
		if err != nil {
			t.Fatal(err)
		}
		if n == len(recent) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d items left after 5s, want %d", n, len(recent))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := arch.Get(context.Background(), "alice@localhost", old[9]); err == nil {
		t.Errorf("expired item still there")
	}
	if _, err := arch.Get(context.Background(), "alice@localhost", recent[0]); err != nil {
		t.Errorf("recent item gone: %v", err)
	}
}

// BenchmarkMAMQuery measures what a client opening a conversation does:
// the last page (50 items) of one contact's messages, from a large
// archive, over a real stream (TLS, encoding and decoding included). The
// archive holds 100 000 messages with 10 contacts (so the filter matches
// 10 000), or 1 000 000 with HEARTH_BENCH_1M=1.
func BenchmarkMAMQuery(b *testing.B) {
	total := 100_000
	if os.Getenv("HEARTH_BENCH_1M") == "1" {
		total = 1_000_000
	}
	const peers = 10
	srv := xmpptest.NewServer(b, "")
	srv.AddUser(b, "alice", "pw-alice-1")
	t0 := time.Now()
	archiveMessages(b, srv, "alice@localhost", total, time.Now().Add(-time.Duration(total)*time.Millisecond),
		func(i int) string { return fmt.Sprintf("peer%d@localhost/r%d", i%peers, i%3) })
	b.Logf("archived %d messages in %v", total, time.Since(t0))
	alice := srv.LoginAvailable(b, "alice", "pw-alice-1", "laptop")
	for _, c := range []struct{ name, payload string }{
		{"LastPageWith", mamForm("with", "peer3@localhost") + rsmSet("<max>50</max><before/>")},
		{"LastPage", rsmSet("<max>50</max><before/>")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := mamQuery(b, alice, c.payload); len(p.results) != 50 {
					b.Fatalf("%d results", len(p.results))
				}
			}
		})
	}
}

package server_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/xmpptest"
)

// Tests that cut a phone's TCP connection (no stream close) at many points
// of a conversation — during negotiation, right after <enable/>, in the
// middle of a stanza, between a message and its acknowledgement, with an
// acknowledgement in flight — and check that every message reaches the
// phone's user exactly once, after a resumption (XEP-0198) or after a
// fresh login once the session timed out (offline storage, MAM).

// phone is a client with stream management that counts what it handles
// the way XEP-0198 asks (every stanza, h) and keeps what its user saw.
type phone struct {
	t        *testing.T
	srv      *xmpptest.Server
	user, pw string
	resource string
	c        *xmpptest.Conn
	smID     string

	h         uint32 // stanzas handled since <enable/>
	confirmed uint32 // the last h the server is known to have processed
	// seen counts each message body the user saw; dups are the bodies
	// the server sent again (recognised by their archive ID, as clients
	// do) and the phone dropped.
	seen    map[string]int
	order   []string
	ids     map[string]string // stanza-id -> body
	handled map[string]uint32 // body -> h when handled
	dups    []string
}

func newPhone(t *testing.T, srv *xmpptest.Server, user, pw, resource string) *phone {
	return &phone{t: t, srv: srv, user: user, pw: pw, resource: resource,
		seen: map[string]int{}, ids: map[string]string{}, handled: map[string]uint32{}}
}

// connect opens an authenticated stream, ready for bind or resume. With
// cut, the connection is cut just before the stream is reopened after
// authentication (negotiation interrupted) and connect returns false.
func (p *phone) connect(cut bool) bool {
	p.t.Helper()
	c := xmpptest.Dial(p.t, p.srv.C2S, p.srv.Domain, false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("SCRAM-SHA-256", p.user, p.pw); f != nil {
		p.t.Fatalf("auth: %s", f)
	}
	if cut {
		c.NetConn().Close()
		return false
	}
	c.OpenStream()
	p.c = c
	return true
}

// login binds, enables resumable stream management, sends initial
// presence and handles its reflection; with mam, it first queries the
// archive once (the client reads the archive).
func (p *phone) login(mam bool) {
	p.t.Helper()
	p.loginNoPresence(mam)
	p.c.Send("<presence/>")
	full := p.user + "@" + p.srv.Domain + "/" + p.resource
	p.readUntil(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == full
	}, true)
}

// loginNoPresence is login up to initial presence, not included.
func (p *phone) loginNoPresence(mam bool) {
	p.t.Helper()
	p.connect(false)
	p.c.Bind(p.resource)
	p.h, p.confirmed = 0, 0
	p.c.Send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	en := p.c.Expect("<enabled/>", isSM("enabled"))
	p.smID = en.Get("id")
	if mam {
		id := p.c.NextID()
		p.c.Send("<iq type='set' id='" + id + "'><query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set></query></iq>")
		p.readUntil(func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.Get("id") == id }, true)
	}
}

// resume resumes the session on a new connection, reporting what the
// phone handled; it fails the test unless the server resumes.
func (p *phone) resume() {
	p.t.Helper()
	p.connect(false)
	p.c.Send(fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='%d'/>", p.smID, p.h))
	el := p.c.Next()
	if el.Name.Space != nsSM || el.Name.Local != "resumed" {
		p.t.Fatalf("resume: %s", el)
	}
	// The server handled every stanza the phone sent before.
	p.confirmed = p.h
}

// resumeAndCut resumes and cuts the connection as soon as <resumed/>
// arrives, before reading the replay, which is lost with the connection.
func (p *phone) resumeAndCut() {
	p.t.Helper()
	p.resume()
	p.cut()
}

// handle processes one element from the server.
func (p *phone) handle(el *stanza.Element, answer bool) {
	switch {
	case el.Name.Space == nsSM && el.Name.Local == "r":
		if answer {
			p.ack()
		}
		return
	case el.Name.Space == nsSM:
		return
	case el.Name.Space == stanza.NSStream:
		p.t.Fatalf("stream error: %s", el)
	}
	p.h++
	p.see(el, false)
}

// see shows the user a message (from the stream or, fromArchive, from a
// MAM query), unless its archive ID says the user saw it already.
func (p *phone) see(el *stanza.Element, fromArchive bool) {
	if el.Name.Local != "message" {
		return
	}
	body := strings.TrimRight(el.ChildText("", "body"), ".") // large ones are padded
	if body == "" {
		return
	}
	if sid := stanzaIDBy(el, p.user+"@"+p.srv.Domain); sid != "" {
		if _, dup := p.ids[sid]; dup {
			if !fromArchive {
				p.dups = append(p.dups, body)
			}
			return
		}
		p.ids[sid] = body
	}
	p.seen[body]++
	p.order = append(p.order, body)
	p.handled[body] = p.h
}

// ack sends <a h/>.
func (p *phone) ack() {
	p.c.Send(fmt.Sprintf("<a xmlns='urn:xmpp:sm:3' h='%d'/>", p.h))
}

// ackConfirmed acknowledges everything handled and waits until the server
// processed the acknowledgement (it answers a later <r/> in order).
func (p *phone) ackConfirmed() {
	p.t.Helper()
	h := p.h
	p.ack()
	p.c.Send("<r xmlns='urn:xmpp:sm:3'/>")
	p.readUntil(isSM("a"), true)
	p.confirmed = h
}

// read handles elements until n message bodies were seen in total or
// nothing arrives for idle; it returns the read error, if any.
func (p *phone) read(n int, idle time.Duration, answer bool) error {
	for len(p.seen) < n {
		el, err := p.c.ReadElement(idle)
		if err != nil {
			return err
		}
		p.handle(el, answer)
	}
	return nil
}

// readUntil handles elements until one satisfies stop.
func (p *phone) readUntil(stop func(*stanza.Element) bool, answer bool) *stanza.Element {
	p.t.Helper()
	deadline := time.Now().Add(xmpptest.Timeout)
	for {
		el, err := p.c.ReadElement(time.Until(deadline))
		if err != nil {
			p.t.Fatalf("reading: %v", err)
		}
		if stop(el) {
			if el.Name.Space != nsSM {
				p.h++ // a stanza: handled
			}
			return el
		}
		p.handle(el, answer)
	}
}

// readStanzas handles k stanzas (not answering <r/>), or fewer when
// nothing comes for idle.
func (p *phone) readStanzas(k int, idle time.Duration) {
	for start := p.h; p.h-start < uint32(k); {
		el, err := p.c.ReadElement(idle)
		if err != nil {
			return
		}
		p.handle(el, false)
	}
}

// cut drops the connection without closing the stream.
func (p *phone) cut() { p.c.NetConn().Close() }

func stanzaIDBy(el *stanza.Element, by string) string {
	for _, c := range el.Elements() {
		if c.Name.Space == "urn:xmpp:sid:0" && c.Name.Local == "stanza-id" && c.Get("by") == by {
			return c.Get("id")
		}
	}
	return ""
}

// checkExactlyOnce fails the test unless the phone's user saw each of
// want exactly once, in order, and nothing else.
func (p *phone) checkExactlyOnce(want []string) {
	p.t.Helper()
	for _, b := range want {
		if p.seen[b] != 1 {
			p.t.Errorf("message %q seen %d times", b, p.seen[b])
		}
	}
	if len(p.seen) != len(want) {
		p.t.Errorf("saw %d distinct messages, want %d", len(p.seen), len(want))
	}
	if strings.Join(p.order, ",") != strings.Join(want, ",") {
		p.t.Errorf("order:\n got %v\nwant %v", p.order, want)
	}
}

// waitSession polls until the session full is in the state want
// ("hibernating", "gone").
func waitSession(t *testing.T, srv *xmpptest.Server, full, want string) {
	t.Helper()
	j := jid.MustParse(full)
	deadline := time.Now().Add(xmpptest.Timeout)
	for time.Now().Before(deadline) {
		s := srv.Router().Session(j)
		switch want {
		case "gone":
			if s == nil {
				return
			}
		case "hibernating":
			if h, ok := s.(module.Hibernating); ok && h.Hibernating() {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("session %s never %s", full, want)
}

// sender sends numbered chat messages to alice's bare JID from a
// goroutine, writing raw XML to bob's connection.
func startSender(bob *xmpptest.Client, first, n int, pause func() time.Duration) <-chan error {
	done := make(chan error, 1)
	nc := bob.NetConn()
	go func() {
		for i := first; i < first+n; i++ {
			msg := fmt.Sprintf("<message to='alice@localhost' type='chat' id='b%d'><body>%s</body></message>", i, body(i))
			nc.SetWriteDeadline(time.Now().Add(xmpptest.Timeout))
			if _, err := nc.Write([]byte(msg)); err != nil {
				done <- err
				return
			}
			if d := pause(); d > 0 {
				time.Sleep(d)
			}
		}
		done <- nil
	}()
	return done
}

func body(i int) string { return fmt.Sprintf("m%04d", i) }

func bodiesRange(first, n int) []string {
	var out []string
	for i := first; i < first+n; i++ {
		out = append(out, body(i))
	}
	return out
}

// TestSMCutResumeChaos cuts the phone's connection again and again while
// bob keeps sending, each time at another point, and resumes: every
// message is seen exactly once and in order, none comes twice over the
// wire (the phone reports what it handled), and bob gets no error.
func TestSMCutResumeChaos(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
	p.login(false)

	const total = 400
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	done := startSender(bob, 0, total, func() time.Duration {
		return time.Duration(rand.IntN(2000)) * time.Microsecond
	})

	modes := []string{"now", "after-reads", "before-ack", "ack-in-flight", "cut-in-negotiation", "cut-in-replay", "after-confirmed-ack"}
	sending := true
	for round := 0; sending || round < 2*len(modes); round++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("bob: %v", err)
			}
			sending = false
		default:
		}
		mode := modes[round%len(modes)]
		switch mode {
		case "now":
			p.cut()
		case "after-reads":
			p.readStanzas(1+rng.IntN(20), 50*time.Millisecond)
			p.cut()
		case "before-ack":
			// Read until the server asks for an ack, and go away instead.
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				el, err := p.c.ReadElement(time.Until(deadline))
				if err != nil {
					break
				}
				if el.Name.Space == nsSM && el.Name.Local == "r" {
					break
				}
				p.handle(el, false)
			}
			p.cut()
		case "ack-in-flight":
			p.readStanzas(1+rng.IntN(10), 50*time.Millisecond)
			p.ack()
			p.cut()
		case "cut-in-negotiation":
			p.cut()
			p.connect(true) // the new connection breaks before <resume/>
		case "cut-in-replay":
			p.cut()
			p.resumeAndCut()
		case "after-confirmed-ack":
			p.readStanzas(1+rng.IntN(10), 50*time.Millisecond)
			p.ackConfirmed()
			p.cut()
		}
		p.resume()
	}
	if err := p.read(total, xmpptest.Timeout, true); err != nil {
		t.Fatalf("after the last resume, saw %d of %d messages: %v", len(p.seen), total, err)
	}
	p.c.ExpectNone("a message sent twice", isAnyMessage, 300*time.Millisecond)
	p.checkExactlyOnce(bodiesRange(0, total))
	if len(p.dups) > 0 {
		t.Errorf("resumption sent again what the phone reported handled: %v", p.dups)
	}
	bob.ExpectNone("an error", func(el *stanza.Element) bool { return el.Get("type") == "error" }, 200*time.Millisecond)
}

// TestSMCutTimeout cuts the phone's connection at one point per subtest
// and lets the session time out; the phone logs in afresh. Messages given
// to the dead session and not acknowledged, and those sent meanwhile,
// come from offline storage — or, for a client that reads the archive
// (XEP-0313), from the archive only: offline storage gives such a client
// none of what it was already sent. Either way the user sees each message
// once, and a message comes twice over the wire only if the phone had
// handled it without the server knowing (client-side dedupe by stanza-id
// then drops it, as Conversations does).
func TestSMCutTimeout(t *testing.T) {
	t.Parallel()
	for _, mam := range []bool{false, true} {
		for _, mode := range []string{"after-enable", "mid-stanza", "before-ack", "ack-in-flight", "resume-negotiation", "after-confirmed-ack"} {
			name := mode
			if mam {
				name = "mam/" + mode
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testSMCutTimeout(t, mode, mam)
			})
		}
	}
}

func testSMCutTimeout(t *testing.T, mode string, mam bool) {
	srv := xmpptest.NewServer(t, "[stream_management]\nresume_timeout = 1\n")
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	bob := srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	p := newPhone(t, srv, "alice", "pw-alice-1", "phone")
	if mode == "after-enable" {
		p.loginNoPresence(mam)
	} else {
		p.login(mam)
	}
	const full = "alice@localhost/phone"

	send := func(first, n int, big bool) {
		for i := first; i < first+n; i++ {
			b := body(i)
			if big {
				b += strings.Repeat(".", 60<<10) // several TCP segments
			}
			bob.Send(fmt.Sprintf("<message to='alice@localhost' type='chat' id='b%d'><body>%s</body></message>", i, b))
		}
		offlineSync(t, bob)
	}
	// Phase 1: ten messages reach the live session; the phone handles
	// some of them and the connection is cut at the mode's point.
	switch mode {
	case "after-enable":
		// Before initial presence: the session gets no messages to the
		// bare JID; they are stored at once.
		p.cut()
		waitSession(t, srv, full, "hibernating")
		send(0, 10, false)
	case "mid-stanza":
		send(0, 10, true)
		p.readStanzas(3, time.Second)
		p.cut()
	case "before-ack":
		send(0, 10, false)
		p.readUntil(isSM("r"), false)
		p.cut()
	case "ack-in-flight":
		send(0, 10, false)
		p.readStanzas(7, time.Second)
		p.ack()
		p.cut()
	case "resume-negotiation":
		send(0, 10, false)
		p.readStanzas(4, time.Second)
		p.cut()
		p.connect(true)
		p.resumeAndCut()
	case "after-confirmed-ack":
		send(0, 10, false)
		p.readStanzas(6, time.Second)
		p.ackConfirmed()
		p.cut()
	}
	// Phase 2: ten more while the session hibernates.
	waitSession(t, srv, full, "hibernating")
	send(10, 10, false)
	// Phase 3: the session times out; ten more go to offline storage.
	waitSession(t, srv, full, "gone")
	send(20, 10, false)

	// Fresh login: offline messages come at initial presence.
	before := len(p.order)
	confirmedAtCut := p.confirmed
	given := map[string]bool{} // bodies the dead session was given
	for b := range p.seen {
		given[b] = true
	}
	p.login(mam)
	if mam {
		p.read(30, 500*time.Millisecond, true) // only phase 3 is expected
	} else {
		if err := p.read(30, xmpptest.Timeout, true); err != nil {
			t.Errorf("offline delivery: saw %d of 30: %v", len(p.seen), err)
		}
	}
	p.ackConfirmed()
	if mam {
		// What the dead session was sent but did not acknowledge (phases
		// 1 and 2) is in the archive and must not come from offline
		// storage too; phase 3 is offline storage's.
		for _, b := range p.order[before:] {
			if n, _ := strconv.Atoi(b[1:5]); n < 20 && mode != "after-enable" {
				t.Errorf("offline storage gave %q, which the archive holds for this MAM client", b[:5])
			}
		}
		// The client pages through the archive for what it missed.
		for _, m := range mamAll(t, p) {
			p.see(m, true)
		}
	}
	want := bodiesRange(0, 30)
	var got []string
	for _, b := range want {
		if p.seen[b] != 1 {
			t.Errorf("message %s seen %d times", b[:5], p.seen[b])
		}
	}
	for b := range p.seen {
		got = append(got, b)
	}
	if len(got) != len(want) {
		t.Errorf("saw %d distinct messages, want %d", len(got), len(want))
	}
	// A message sent twice must be one the phone handled after the last
	// acknowledgement the server is known to have processed.
	for _, d := range p.dups {
		if !given[d] {
			t.Errorf("%s sent twice though the dead session never handled it", d[:5])
		} else if p.handled[d] <= confirmedAtCut {
			t.Errorf("%s sent again though its acknowledgement was processed (h %d <= %d)", d[:5], p.handled[d], confirmedAtCut)
		}
	}
	t.Logf("%s: handled before the cut %d, duplicates dropped by stanza-id %d", mode, len(given), len(p.dups))
}

// mamAll returns every archived message from bob, through the phone's
// current connection, page by page.
func mamAll(t *testing.T, p *phone) []*stanza.Element {
	t.Helper()
	var out []*stanza.Element
	after := ""
	for {
		id := p.c.NextID()
		set := "<max>50</max>"
		if after != "" {
			set += "<after>" + after + "</after>"
		}
		p.c.Send("<iq type='set' id='" + id + "'><query xmlns='urn:xmpp:mam:2' queryid='" + id + "'>" +
			mamForm("with", "bob@localhost") + rsmSet(set) + "</query></iq>")
		var fin *stanza.Element
		for fin == nil {
			el, err := p.c.ReadElement(xmpptest.Timeout)
			if err != nil {
				t.Fatalf("mam: %v", err)
			}
			if el.Name.Space != nsSM {
				p.h++
			} else if el.Name.Local == "r" {
				p.ack()
				continue
			}
			if el.Name.Local == "iq" && el.Get("id") == id {
				fin = el.Child("urn:xmpp:mam:2", "fin")
				if fin == nil {
					t.Fatalf("mam query: %s", el)
				}
				continue
			}
			res := el.Child("urn:xmpp:mam:2", "result")
			if res == nil {
				continue
			}
			msg := res.Child("urn:xmpp:forward:0", "forwarded").Child(stanza.NSClient, "message")
			// As a client does: the result's archive ID is the message's.
			msg = msg.Copy().Append(stanza.New("urn:xmpp:sid:0", "stanza-id", "by", "alice@localhost", "id", res.Get("id")))
			out = append(out, msg)
			after = res.Get("id")
		}
		if fin.Get("complete") == "true" {
			return out
		}
	}
}

package mam_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/mod/internal/modtest"
	"hearth/mod/mam"
	"hearth/stanza"
)

// fill archives n messages in alice's archive, one a second from t0:
// message i is from bob/phone when i%3 == 0, to bob (bare) when i%3 == 1
// and from carol/pc otherwise, with body "m<i>". It returns the archive IDs.
func (e *env) fill(t *testing.T, n int) []string {
	t.Helper()
	for i := range n {
		body := "m" + strconv.Itoa(i)
		switch i % 3 {
		case 0:
			e.deliver(t, chat("bob@example.com/phone", "alice@example.com", body))
		case 1:
			e.send(t, chat("alice@example.com/laptop", "bob@example.com", body))
		default:
			e.deliver(t, chat("carol@example.com/pc", "alice@example.com/laptop", body))
		}
	}
	items := e.items(t, "alice@example.com")
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	if len(ids) != n {
		t.Fatalf("archived %d of %d", len(ids), n)
	}
	return ids
}

// page is the outcome of one query.
type page struct {
	bodies       []string // of the results, in the order sent
	ids          []string // of the results, in the order sent
	fin          *stanza.Element
	first, last  string
	index, count string // "" when absent
	complete     bool
}

// queryPage binds a session for alice (once), sends the query payload and
// collects the results sent to the session and the <fin/>.
func (e *env) query(t *testing.T, payload string) page {
	t.Helper()
	s := e.Router.Session(mustJID(t, "alice@example.com/laptop"))
	if s == nil {
		e.Router.Bind(t, "alice@example.com/laptop")
		s = e.Router.Session(mustJID(t, "alice@example.com/laptop"))
	}
	sess := s.(*modtest.Session)
	before := len(sess.Sent())
	r := e.iq(t, "set", payload)
	if r.Err != nil {
		t.Fatalf("query %s: %v", payload, r.Err)
	}
	var p page
	for _, m := range sess.Sent()[before:] {
		if m.Get("to") != "alice@example.com/laptop" || m.Get("from") != "alice@example.com" {
			t.Errorf("result addressed %s -> %s", m.Get("from"), m.Get("to"))
		}
		res := m.Child(mam.NS, "result")
		fwd := res.Child(mam.NSForward, "forwarded")
		if fwd.Child(mam.NSDelay, "delay").Get("stamp") == "" {
			t.Errorf("no delay stamp in %s", m)
		}
		msg := fwd.Child(stanza.NSClient, "message")
		if msg == nil {
			t.Errorf("no forwarded message in %s", m)
			continue
		}
		p.bodies = append(p.bodies, msg.ChildText(stanza.NSClient, "body"))
		p.ids = append(p.ids, res.Get("id"))
	}
	p.fin = r.Payload
	if p.fin == nil || p.fin.Name.Local != "fin" || p.fin.Name.Space != mam.NS {
		t.Fatalf("result payload %v", p.fin)
	}
	set := p.fin.Child(mam.NSRSM, "set")
	p.first = set.ChildText(mam.NSRSM, "first")
	p.last = set.ChildText(mam.NSRSM, "last")
	p.count = set.ChildText(mam.NSRSM, "count")
	if f := set.Child(mam.NSRSM, "first"); f != nil {
		p.index = f.Get("index")
	}
	p.complete = p.fin.Get("complete") == "true"
	return p
}

func form(fields ...string) string {
	var b strings.Builder
	b.WriteString(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>`)
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString(`<field var='` + fields[i] + `'>`)
		for _, v := range strings.Split(fields[i+1], ",") {
			b.WriteString(`<value>` + v + `</value>`)
		}
		b.WriteString(`</field>`)
	}
	b.WriteString(`</x>`)
	return b.String()
}

func rsm(inner string) string {
	return `<set xmlns='http://jabber.org/protocol/rsm'>` + inner + `</set>`
}

func q(inner string) string {
	return `<query xmlns='urn:xmpp:mam:2' queryid='f27'>` + inner + `</query>`
}

func bodies(from, to int) string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, "m"+strconv.Itoa(i))
	}
	return strings.Join(out, ",")
}

func bodiesOf(list ...int) string {
	var out []string
	for _, i := range list {
		out = append(out, "m"+strconv.Itoa(i))
	}
	return strings.Join(out, ",")
}

func (p page) want(t *testing.T, wantBodies string, complete bool, count string) {
	t.Helper()
	if got := strings.Join(p.bodies, ","); got != wantBodies {
		t.Errorf("results %s\nwant    %s", got, wantBodies)
	}
	if p.complete != complete {
		t.Errorf("complete %v, want %v", p.complete, complete)
	}
	if p.count != count {
		t.Errorf("count %q, want %q", p.count, count)
	}
}

func TestQueryFilters(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.fill(t, 12)

	p := e.query(t, q(""))
	p.want(t, bodies(0, 12), true, "12")
	if p.first != ids[0] || p.last != ids[11] || p.index != "0" {
		t.Errorf("rsm first %s last %s index %s", p.first, p.last, p.index)
	}

	t.Run("with bare JID matches every resource and bare", func(t *testing.T) {
		e.query(t, q(form("with", "bob@example.com"))).want(t, bodiesOf(0, 1, 3, 4, 6, 7, 9, 10), true, "8")
	})
	t.Run("with full JID matches that resource only", func(t *testing.T) {
		e.query(t, q(form("with", "bob@example.com/phone"))).want(t, bodiesOf(0, 3, 6, 9), true, "4")
		e.query(t, q(form("with", "carol@example.com/other"))).want(t, "", true, "0")
	})
	t.Run("with own JID returns only messages to oneself", func(t *testing.T) {
		e.query(t, q(form("with", "alice@example.com"))).want(t, "", true, "0")
	})
	t.Run("start and end are inclusive", func(t *testing.T) {
		start := t0.Add(2 * time.Second).Format(time.RFC3339)
		end := t0.Add(5*time.Second).Format("2006-01-02T15:04:05") + ".000+00:00"
		e.query(t, q(form("start", start, "end", end))).want(t, bodies(2, 6), true, "4")
		e.query(t, q(form("start", start, "with", "carol@example.com"))).want(t, bodiesOf(2, 5, 8, 11), true, "4")
		e.query(t, q(form("start", end, "end", start))).want(t, "", true, "0")
	})
	t.Run("ids", func(t *testing.T) {
		e.query(t, q(form("ids", ids[7]+","+ids[2]+","+ids[7]))).want(t, bodiesOf(2, 7), true, "2")
	})
	t.Run("after-id and before-id", func(t *testing.T) {
		p := e.query(t, q(form("after-id", ids[2], "before-id", ids[9])))
		p.want(t, bodies(3, 9), true, "")
		if p.index != "" {
			t.Errorf("index %q: storage cannot count within ID bounds", p.index)
		}
		// before-id does not page backwards (XEP-0313 §9).
		e.query(t, q(form("before-id", ids[9])+rsm("<max>2</max>"))).want(t, bodies(0, 2), false, "")
	})
	t.Run("empty values are absent fields", func(t *testing.T) {
		e.query(t, q(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='with'/><field var='start'><value></value></field></x>`)).
			want(t, bodies(0, 12), true, "12")
	})
	t.Run("include-groupchat is understood", func(t *testing.T) {
		e.query(t, q(form("include-groupchat", "false"))).want(t, bodies(0, 12), true, "12")
	})
}

func TestQueryPaging(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.fill(t, 12)

	p := e.query(t, q(rsm("<max>5</max>")))
	p.want(t, bodies(0, 5), false, "12")
	p = e.query(t, q(rsm("<max>5</max><after>"+p.last+"</after>")))
	p.want(t, bodies(5, 10), false, "12")
	if p.index != "" {
		t.Errorf("index %q after a bound", p.index)
	}
	p = e.query(t, q(rsm("<max>5</max><after>"+p.last+"</after>")))
	p.want(t, bodies(10, 12), true, "12")

	// Backwards from the end: the last page, then before its first.
	p = e.query(t, q(rsm("<max>5</max><before/>")))
	p.want(t, bodies(7, 12), false, "12")
	if p.index != "7" {
		t.Errorf("last page index %q, want 7", p.index)
	}
	p = e.query(t, q(rsm("<max>5</max><before>"+p.first+"</before>")))
	p.want(t, bodies(2, 7), false, "12")
	p = e.query(t, q(rsm("<max>5</max><before>"+p.first+"</before>")))
	p.want(t, bodies(0, 2), true, "12")

	t.Run("flip-page reverses the order only", func(t *testing.T) {
		p := e.query(t, q(rsm("<max>3</max><before/>")+"<flip-page/>"))
		p.want(t, bodiesOf(11, 10, 9), false, "12")
		if p.first != ids[9] || p.last != ids[11] {
			t.Errorf("flipped page first %s last %s; want the chronological ones", p.first, p.last)
		}
	})
	t.Run("form bounds and RSM combine", func(t *testing.T) {
		e.query(t, q(form("after-id", ids[5])+rsm("<max>3</max><after>"+ids[2]+"</after>"))).want(t, bodies(6, 9), false, "")
		e.query(t, q(form("after-id", ids[5])+rsm("<max>3</max><after>"+ids[8]+"</after>"))).want(t, bodies(9, 12), true, "")
		e.query(t, q(form("after-id", ids[5], "with", "bob@example.com")+rsm("<max>10</max><before/>"))).want(t, bodiesOf(6, 7, 9, 10), true, "")
		e.query(t, q(form("before-id", ids[5])+rsm("<max>2</max><before>"+ids[8]+"</before>"))).want(t, bodies(3, 5), false, "")
	})
	t.Run("max 0 counts", func(t *testing.T) {
		p := e.query(t, q(form("with", "carol@example.com")+rsm("<max>0</max>")))
		p.want(t, "", false, "4")
		if p.first != "" {
			t.Errorf("first %q in an empty page", p.first)
		}
	})
	t.Run("default page size", func(t *testing.T) {
		e := newEnv(t, func(c *mam.Config) { c.DefaultPage = 4; c.MaxPage = 6 })
		e.fill(t, 8)
		e.query(t, q("")).want(t, bodies(0, 4), false, "8")
		e.query(t, q(rsm("<max>100</max>"))).want(t, bodies(0, 6), false, "8")
	})
	t.Run("page cut to the byte budget", func(t *testing.T) {
		e := newEnv(t, func(c *mam.Config) { c.MaxPageBytes = 300 })
		e.fill(t, 6)
		p := e.query(t, q(rsm("<max>6</max>")))
		if len(p.bodies) == 0 || len(p.bodies) >= 6 || p.complete {
			t.Fatalf("forward page not cut: %v complete %v", p.bodies, p.complete)
		}
		p.want(t, bodies(0, len(p.bodies)), false, "6")
		p = e.query(t, q(rsm("<max>6</max><before/>")))
		if len(p.bodies) == 0 || len(p.bodies) >= 6 || p.complete {
			t.Fatalf("backward page not cut: %v complete %v", p.bodies, p.complete)
		}
		p.want(t, bodies(6-len(p.bodies), 6), false, "6")
		if p.index != strconv.Itoa(6-len(p.bodies)) {
			t.Errorf("index %s", p.index)
		}
	})
}

func TestQueryErrors(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.fill(t, 3)
	e.Router.Bind(t, "alice@example.com/laptop")
	for _, c := range []struct {
		name, payload, typ, cond string
	}{
		{"unknown after", q(rsm("<after>nope</after>")), stanza.Cancel, "item-not-found"},
		{"unknown before", q(rsm("<before>nope</before>")), stanza.Cancel, "item-not-found"},
		{"unknown after-id", q(form("after-id", "nope")), stanza.Cancel, "item-not-found"},
		{"unknown before-id", q(form("before-id", "nope")), stanza.Cancel, "item-not-found"},
		{"unknown before-id with RSM before", q(form("before-id", "nope") + rsm("<before>"+ids[1]+"</before>")), stanza.Cancel, "item-not-found"},
		{"one unknown id", q(form("ids", ids[0]+",nope")), stanza.Cancel, "item-not-found"},
		{"unknown field", q(form("{urn:example}full-text", "x")), stanza.Cancel, "feature-not-implemented"},
		{"index", q(rsm("<index>3</index>")), stanza.Cancel, "feature-not-implemented"},
		{"bad max", q(rsm("<max>-1</max>")), stanza.Modify, "bad-request"},
		{"bad start", q(form("start", "yesterday")), stanza.Modify, "bad-request"},
		{"bad with", q(form("with", "@bad@")), stanza.Modify, "bad-request"},
		{"form type", q(`<x xmlns='jabber:x:data' type='form'/>`), stanza.Modify, "bad-request"},
		{"FORM_TYPE", q(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>`), stanza.Modify, "bad-request"},
		{"several values", q(form("with", "a@b,c@d")), stanza.Modify, "bad-request"},
		{"node", `<query xmlns='urn:xmpp:mam:2' node='x'/>`, stanza.Cancel, "item-not-found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.iq(t, "set", c.payload).WantError(t, c.typ, c.cond)
		})
	}
	t.Run("too many ids", func(t *testing.T) {
		e := newEnv(t, func(c *mam.Config) { c.MaxPage = 2; c.DefaultPage = 2 })
		e.Router.Bind(t, "alice@example.com/laptop")
		e.iq(t, "set", q(form("ids", "a,b,c"))).WantError(t, stanza.Modify, "policy-violation")
	})
	t.Run("another account", func(t *testing.T) {
		e.Router.Bind(t, "bob@example.com/phone")
		e.IQ(t, `<iq xmlns='jabber:client' type='set' id='q' from='bob@example.com/phone' to='alice@example.com'><query xmlns='urn:xmpp:mam:2'/></iq>`).
			WantError(t, stanza.Auth, "forbidden")
	})
}

func TestQueryForm(t *testing.T) {
	e := newEnv(t, nil)
	e.iq(t, "get", `<query xmlns='urn:xmpp:mam:2'/>`).WantResult(t, `<query xmlns='urn:xmpp:mam:2'>
		<x xmlns='jabber:x:data' type='form'>
			<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>
			<field var='with' type='jid-single'/>
			<field var='start' type='text-single'/>
			<field var='end' type='text-single'/>
			<field var='before-id' type='text-single'/>
			<field var='after-id' type='text-single'/>
			<field var='ids' type='list-multi'><validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:string'><open/></validate></field>
			<field var='include-groupchat' type='boolean'/>
		</x></query>`)
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, nil)
	e.iq(t, "get", `<metadata xmlns='urn:xmpp:mam:2'/>`).WantResult(t, `<metadata xmlns='urn:xmpp:mam:2'/>`)
	ids := e.fill(t, 3)
	e.iq(t, "get", `<metadata xmlns='urn:xmpp:mam:2'/>`).WantResult(t, `<metadata xmlns='urn:xmpp:mam:2'>
		<start id='`+ids[0]+`' timestamp='2026-03-04T05:06:07.000000Z'/>
		<end id='`+ids[2]+`' timestamp='2026-03-04T05:06:09.000000Z'/></metadata>`)
}

func TestResultShape(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.fill(t, 1)
	s := e.Router.Bind(t, "alice@example.com/laptop")
	e.iq(t, "set", q("")).WantResult(t, `<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'>
		<first index='0'>`+ids[0]+`</first><last>`+ids[0]+`</last><count>1</count></set></fin>`)
	sent := s.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d stanzas", len(sent))
	}
	modtest.Equal(t, sent[0], `<message xmlns='jabber:client' to='alice@example.com/laptop' from='alice@example.com'>
		<result xmlns='urn:xmpp:mam:2' queryid='f27' id='`+ids[0]+`'>
			<forwarded xmlns='urn:xmpp:forward:0'>
				<delay xmlns='urn:xmpp:delay' stamp='2026-03-04T05:06:07.000000Z'/>
				<message xmlns='jabber:client' type='chat' from='bob@example.com/phone' to='alice@example.com' id='m'><body>m0</body></message>
			</forwarded>
		</result></message>`)
}

// TestQueryCountBound: above [mam] max_count the result has no <count/>
// and no index, and paging still works.
func TestQueryCountBound(t *testing.T) {
	e := newEnv(t, func(c *mam.Config) { c.MaxCount = 10 })
	e.fill(t, 12)
	p := e.query(t, q(rsm("<max>5</max><before/>")))
	p.want(t, bodies(7, 12), false, "")
	if p.index != "" {
		t.Errorf("index %q without a count", p.index)
	}
	p = e.query(t, q(rsm("<max>5</max><before>"+p.first+"</before>")))
	p.want(t, bodies(2, 7), false, "")
	// A filtered set within the bound is still counted.
	e.query(t, q(form("with", "bob@example.com"))).want(t, bodiesOf(0, 1, 3, 4, 6, 7, 9, 10), true, "8")
}

package server_test

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"hearth/stanza"
	"hearth/xmpptest"
)

// Two virtual hosts of one server: every stanza of these tests crosses
// from one to the other inside the server.
const twoHosts = `hosts = ["a.example", "b.example"]`

// barrier sends a ping from c to its server and returns every element c
// received before the pong, consuming them. A client's stanzas are
// processed one after the other on its stream and a stream's output is
// first in, first out, so barrier(sender) returns once everything the
// sender sent before has been routed, and barrier(recipient) then returns
// everything routed to the recipient meanwhile: "nothing arrived" is
// checked without sleeping.
func barrier(t *testing.T, c *xmpptest.Client) []*stanza.Element {
	t.Helper()
	id := "barrier-" + c.NextID()
	c.Send("<iq type='get' id='" + id + "' to='" + c.JID.Domain() + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	var got []*stanza.Element
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Get("id") == id {
			if el.Get("type") != "result" {
				t.Fatalf("%s: barrier ping failed: %s", c.JID, el)
			}
			return got
		}
		got = append(got, el)
	}
}

// loginPriority logs user in as resource and sends initial presence with
// priority prio, consuming its reflection.
func loginPriority(t *testing.T, srv *xmpptest.Server, user, password, resource string, prio int) *xmpptest.Client {
	t.Helper()
	c := srv.Login(t, user, password, resource)
	c.Send(fmt.Sprintf("<presence><priority>%d</priority></presence>", prio))
	c.Expect("own initial presence", func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == c.JID.String()
	})
	return c
}

func parseXML(t *testing.T, xml string) *stanza.Element {
	t.Helper()
	el, err := stanza.NewDecoder(strings.NewReader(xml), stanza.Limits{}).Next()
	if err != nil {
		t.Fatalf("bad XML %q: %v", xml, err)
	}
	return el
}

// routingRows returns the rows of the decision table in docs/routing.md,
// each as its cells joined by " | ".
func routingRows(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/routing.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "stanza" || strings.HasPrefix(cells[0], "---") {
			continue // header and separator
		}
		rows = append(rows, strings.Join(cells, " | "))
	}
	return rows
}

// routeCase is one row of docs/routing.md: stanzas the sender sends, and
// who must see them. In send, {id} becomes a unique stanza id.
type routeCase struct {
	row  string
	from string   // sender; "alice/laptop" when empty
	send []string // each is checked on its own
	// deliver are the clients that must receive the stanza itself (same
	// id, same type), from the sender's full JID, exactly once each.
	deliver []string
	// wantTo, when set, is the 'to' the delivered stanza must carry.
	wantTo string
	// reply, when set, is what the sender's resources in replyTo (the
	// sender when empty) must receive instead: the stanza's reply with the
	// same id.
	reply   *wantReply
	replyTo []string
}

type wantReply struct {
	name, typ, condition, from string
	noFrom                     bool // the reply must carry no 'from'
}

// TestRoutingTable sends, over real sockets, one stanza per variant of
// each row of docs/routing.md and checks who receives it, what comes back
// to the sender, and that every other session receives nothing. The
// sender is on a.example and the addressees on b.example: two virtual
// hosts of one server route to each other internally. The test fails if
// the table and the cases below do not match row by row.
func TestRoutingTable(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	srv.AddUser(t, "dave@b.example", "pw-dave-12") // exists, never online
	clients := map[string]*xmpptest.Client{
		"alice/laptop": srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop"),
		"alice/phone":  srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "phone"),
		"bob/phone":    loginPriority(t, srv, "bob@b.example", "pw-bob-123", "phone", 5),
		"bob/desk":     loginPriority(t, srv, "bob@b.example", "pw-bob-123", "desk", 0),
		"bob/neg":      loginPriority(t, srv, "bob@b.example", "pw-bob-123", "neg", -1),
		// Bound, never sent initial presence: a connected, not available, resource.
		"bob/bound": srv.Login(t, "bob@b.example", "pw-bob-123", "bound"),
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range clients {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		barrier(t, clients[n]) // the logins' presence exchanges
	}

	const bobs = "bob/phone bob/desk" // bob's resources with priority >= 0
	// With offline storage the undelivered hook takes what would bounce.
	var undelivered *wantReply
	if !storesOffline(t, clients["alice/laptop"], "b.example") {
		undelivered = &wantReply{typ: "error", condition: "service-unavailable", from: "dave@b.example"}
	}
	serviceUnavailable := func(from string) *wantReply {
		return &wantReply{typ: "error", condition: "service-unavailable", from: from}
	}
	cases := []routeCase{{
		row:   "any | remote domain | federation off (no `[listen] s2s`), or the domain unreachable (server/s2s_test.go) | error `remote-server-not-found`",
		send:  []string{"<message to='x@remote.example' type='chat' id='{id}'><body>x</body></message>", "<iq to='remote.example' type='get' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>", "<presence to='x@remote.example/r' id='{id}'/>"},
		reply: &wantReply{typ: "error", condition: "remote-server-not-found"},
	}, {
		row:     "any | no `to` | from a client | treated as addressed to the sender's bare JID",
		send:    []string{"<message type='chat' id='{id}'><body>to myself</body></message>"},
		deliver: []string{"alice/laptop", "alice/phone"},
		wantTo:  "alice@a.example",
	}, {
		row:   "iq get/set | domain | handler for (server, type, payload) | handler's reply",
		send:  []string{"<iq to='b.example' type='get' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>"},
		reply: &wantReply{name: "iq", typ: "result", from: "b.example"},
	}, {
		row:   "iq get/set | domain | no handler | error `service-unavailable`",
		send:  []string{"<iq to='b.example' type='get' id='{id}'><query xmlns='urn:example:none'/></iq>", "<iq to='b.example' type='set' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>"},
		reply: serviceUnavailable("b.example"),
	}, {
		row:   "iq get/set | bare JID | account missing | error `service-unavailable`",
		send:  []string{"<iq to='nobody@b.example' type='get' id='{id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"},
		reply: serviceUnavailable("nobody@b.example"),
	}, {
		row:   "iq get/set | bare JID | handler for (account, type, payload) | handler's reply",
		send:  []string{"<iq to='bob@b.example' type='get' id='{id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", "<iq to='dave@b.example' type='get' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>"},
		reply: &wantReply{name: "iq", typ: "result"},
	}, {
		row:   "iq get/set | bare JID | no handler | error `service-unavailable`",
		send:  []string{"<iq to='bob@b.example' type='get' id='{id}'><query xmlns='urn:example:none'/></iq>"},
		reply: serviceUnavailable("bob@b.example"),
	}, {
		row:     "iq get/set | full JID | session bound | delivered",
		send:    []string{"<iq to='bob@b.example/bound' type='get' id='{id}'><query xmlns='urn:example:custom'/></iq>", "<iq to='bob@b.example/bound' type='set' id='{id}'><query xmlns='urn:example:custom'/></iq>"},
		deliver: []string{"bob/bound"},
	}, {
		row:   "iq get/set | full JID | no such session | error `service-unavailable`",
		send:  []string{"<iq to='bob@b.example/gone' type='get' id='{id}'><query xmlns='urn:example:custom'/></iq>"},
		reply: serviceUnavailable("bob@b.example/gone"),
	}, {
		row: "iq get/set | any | no id, bad type, not exactly one child | error `bad-request`",
		send: []string{
			"<iq to='b.example' type='fetch' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>",
			"<iq to='bob@b.example' type='get' id='{id}'/>",
			"<iq to='bob@b.example/phone' type='get' id='{id}'><a xmlns='urn:example:a'/><b xmlns='urn:example:b'/></iq>",
			"<iq to='bob@b.example/phone' type='set' id='{id}'/>",
		},
		reply: &wantReply{typ: "error", condition: "bad-request"},
	}, {
		row:     "iq result/error | full JID | session bound | delivered",
		send:    []string{"<iq to='bob@b.example/phone' type='result' id='{id}'/>", "<iq to='bob@b.example/phone' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
		deliver: []string{"bob/phone"},
	}, {
		row:  "iq result/error | full JID | no such session | handed to a SendIQ waiting for the id; otherwise dropped",
		send: []string{"<iq to='bob@b.example/gone' type='result' id='{id}'/>", "<iq to='bob@b.example/gone' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
	}, {
		row:  "iq result/error | domain/bare | a SendIQ waits for the id | handed to it; otherwise dropped",
		send: []string{"<iq to='bob@b.example' type='result' id='{id}'/>", "<iq to='b.example' type='result' id='{id}'/>", "<iq to='bob@b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
	}, {
		row:   "message | domain | chat/normal | error `service-unavailable`",
		send:  []string{"<message to='b.example' type='chat' id='{id}'><body>x</body></message>", "<message to='b.example' id='{id}'><body>x</body></message>"},
		reply: serviceUnavailable("b.example"),
	}, {
		row:  "message | domain | groupchat/headline/error | dropped",
		send: []string{"<message to='b.example' type='groupchat' id='{id}'><body>x</body></message>", "<message to='b.example' type='headline' id='{id}'><body>x</body></message>", "<message to='b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
	}, {
		row: "message | full JID | session bound | delivered",
		send: []string{
			"<message to='bob@b.example/neg' type='chat' id='{id}'><body>x</body></message>",
			"<message to='bob@b.example/neg' id='{id}'><body>x</body></message>",
			"<message to='bob@b.example/neg' type='headline' id='{id}'><body>x</body></message>",
			"<message to='bob@b.example/neg' type='groupchat' id='{id}'><body>x</body></message>",
			"<message to='bob@b.example/neg' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
		},
		deliver: []string{"bob/neg"},
	}, {
		row:     "message | full JID | no session; chat | as to the bare JID",
		send:    []string{"<message to='bob@b.example/gone' type='chat' id='{id}'><body>x</body></message>"},
		deliver: strings.Fields(bobs),
		wantTo:  "bob@b.example/gone",
	}, {
		row:   "message | full JID | no session; normal/groupchat | error `service-unavailable` (§8.5.3.2.1)",
		send:  []string{"<message to='bob@b.example/gone' id='{id}'><body>x</body></message>", "<message to='bob@b.example/gone' type='normal' id='{id}'><body>x</body></message>", "<message to='bob@b.example/gone' type='groupchat' id='{id}'><body>x</body></message>"},
		reply: serviceUnavailable("bob@b.example/gone"),
	}, {
		row:  "message | full JID | no session; headline/error | dropped (§8.5.3.2.1)",
		send: []string{"<message to='bob@b.example/gone' type='headline' id='{id}'><body>x</body></message>", "<message to='bob@b.example/gone' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
	}, {
		row:  "message | bare JID | error | dropped (§8.5.2.1.1)",
		send: []string{"<message to='bob@b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", "<message to='dave@b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
	}, {
		row:   "message | bare JID | groupchat | error `service-unavailable`",
		send:  []string{"<message to='bob@b.example' type='groupchat' id='{id}'><body>x</body></message>", "<message to='dave@b.example' type='groupchat' id='{id}'><body>x</body></message>"},
		reply: &wantReply{typ: "error", condition: "service-unavailable"},
	}, {
		row: "message | bare JID | available sessions with priority ≥ 0 | delivered to each",
		send: []string{
			"<message to='bob@b.example' type='chat' id='{id}'><body>x</body></message>",
			"<message to='bob@b.example' id='{id}'><body>x</body></message>",
			"<message to='bob@b.example' type='headline' id='{id}'><body>x</body></message>",
		},
		deliver: strings.Fields(bobs),
		wantTo:  "bob@b.example",
	}, {
		row:   "message | bare JID | none; account missing; not headline | error `service-unavailable`",
		send:  []string{"<message to='nobody@b.example' type='chat' id='{id}'><body>x</body></message>", "<message to='nobody@b.example' id='{id}'><body>x</body></message>"},
		reply: serviceUnavailable("nobody@b.example"),
	}, {
		row:  "message | bare JID | none; headline | dropped",
		send: []string{"<message to='dave@b.example' type='headline' id='{id}'><body>x</body></message>", "<message to='nobody@b.example' type='headline' id='{id}'><body>x</body></message>"},
	}, {
		row:   "message | bare JID | none; chat/normal | undelivered hooks (offline storage); if none takes it, error `service-unavailable`",
		send:  []string{"<message to='dave@b.example' type='chat' id='{id}'><body>x</body></message>", "<message to='dave@b.example' id='{id}'><body>x</body></message>"},
		reply: undelivered,
	}, {
		row:  "presence | domain | — | ignored",
		send: []string{"<presence to='b.example' id='{id}'/>", "<presence to='b.example' type='subscribe' id='{id}'/>", "<presence to='b.example' type='probe' id='{id}'/>"},
	}, {
		// The probe case is in TestProbeOfLostSubscription: unsubscribed
		// reaches clients only when it ends a subscription.
		row:     "presence | bare/full JID | account missing; subscribe/probe | `unsubscribed` sent back (§3.1.3, §4.3.2)",
		send:    []string{"<presence to='nobody@b.example' type='subscribe' id='{id}'/>", "<presence to='nobody@b.example/x' type='subscribe' id='{id}'/>"},
		reply:   &wantReply{name: "presence", typ: "unsubscribed", from: "nobody@b.example"},
		replyTo: []string{"alice/laptop", "alice/phone"}, // to the sender's bare JID
	}, {
		row:  "presence | bare/full JID | account missing; other | ignored",
		send: []string{"<presence to='nobody@b.example' id='{id}'/>", "<presence to='nobody@b.example/x' type='unavailable' id='{id}'/>", "<presence to='nobody@b.example' type='unsubscribe' id='{id}'/>", "<presence to='nobody@b.example' type='subscribed' id='{id}'/>"},
	}, {
		row:     "presence | bare/full JID | account exists | mod/presence inbound handler",
		send:    []string{"<presence to='bob@b.example/bound' id='{id}'><status>directed</status></presence>"},
		deliver: []string{"bob/bound"},
	}}

	// The cases mirror the table row by row.
	var caseRows []string
	for _, tc := range cases {
		caseRows = append(caseRows, tc.row)
	}
	if rows := routingRows(t); !slices.Equal(rows, caseRows) {
		t.Errorf("docs/routing.md and the cases differ:\ntable:\n  %s\ncases:\n  %s", strings.Join(rows, "\n  "), strings.Join(caseRows, "\n  "))
	}

	n := 0
	for _, tc := range cases {
		t.Run(tc.row, func(t *testing.T) {
			fromName := tc.from
			if fromName == "" {
				fromName = "alice/laptop"
			}
			sender := clients[fromName]
			for _, tmpl := range tc.send {
				n++
				id := fmt.Sprintf("rt%d", n)
				xml := strings.ReplaceAll(tmpl, "{id}", id)
				sent := parseXML(t, xml)
				sender.Send(xml)
				got := map[string][]*stanza.Element{}
				// The sender's barrier first: then everything it sent is routed.
				senderGot := barrier(t, sender)
				for _, name := range names {
					els := senderGot
					if name != fromName {
						els = barrier(t, clients[name])
					}
					for _, el := range els {
						if el.Get("id") == id {
							got[name] = append(got[name], el)
						}
					}
				}
				checkRoute(t, tc, xml, sent, fromName, got, sender.JID.String())
			}
		})
	}
}

// checkRoute checks what each client got (elements carrying the sent
// stanza's id) against tc.
func checkRoute(t *testing.T, tc routeCase, xml string, sent *stanza.Element, fromName string, got map[string][]*stanza.Element, senderJID string) {
	t.Helper()
	deliver := tc.deliver
	replyTo := tc.replyTo
	if tc.reply != nil && len(replyTo) == 0 {
		replyTo = []string{fromName}
	}
	for name, els := range got {
		switch {
		case slices.Contains(deliver, name):
			if len(els) != 1 {
				t.Errorf("%s: %s got %d copies: %v", xml, name, len(els), els)
				continue
			}
			el := els[0]
			if el.Name.Local != sent.Name.Local || el.Get("type") != sent.Get("type") || el.Get("from") != senderJID {
				t.Errorf("%s: %s got %s", xml, name, el)
			}
			if want := tc.wantTo; want != "" && el.Get("to") != want {
				t.Errorf("%s: %s got 'to' %q, want %q", xml, name, el.Get("to"), want)
			}
		case slices.Contains(replyTo, name):
			if len(els) != 1 {
				t.Errorf("%s: %s got %d replies: %v", xml, name, len(els), els)
				continue
			}
			checkReply(t, xml, sent, tc.reply, els[0])
		default:
			t.Errorf("%s: %s must receive nothing, got %v", xml, name, els)
		}
	}
	for _, name := range deliver {
		if len(got[name]) == 0 {
			t.Errorf("%s: not delivered to %s", xml, name)
		}
	}
	for _, name := range replyTo {
		if len(got[name]) == 0 {
			t.Errorf("%s: no reply to %s", xml, name)
		}
	}
}

func checkReply(t *testing.T, xml string, sent *stanza.Element, want *wantReply, el *stanza.Element) {
	t.Helper()
	name := want.name
	if name == "" {
		name = sent.Name.Local
	}
	from := want.from
	if from == "" && !want.noFrom {
		from = sent.Get("to") // the addressee answers
		if want.name == "presence" {
			from = strings.Split(from, "/")[0]
		}
	}
	if el.Name.Local != name || el.Get("type") != want.typ || el.Get("from") != from {
		t.Errorf("%s: reply %s, want <%s type=%q from=%q>", xml, el, name, want.typ, from)
	}
	if want.condition != "" && errorCondition(el) != want.condition {
		t.Errorf("%s: reply %s, want condition %s", xml, el, want.condition)
	}
}

// storesOffline reports whether domain advertises offline message storage
// (XEP-0160 "msgoffline"), which takes the messages the routing table
// would otherwise bounce for lack of an available session.
func storesOffline(t *testing.T, c *xmpptest.Client, domain string) bool {
	t.Helper()
	res := c.IQ("<iq type='get' id='" + c.NextID() + "' to='" + domain + "'><query xmlns='" + nsDiscoInfo + "'/></iq>")
	q := res.Child(nsDiscoInfo, "query")
	if q == nil {
		t.Fatalf("disco#info of %s: %s", domain, res)
	}
	for _, f := range q.Elements() {
		if f.Name.Local == "feature" && f.Get("var") == "msgoffline" {
			return true
		}
	}
	return false
}

// TestMessageDelivery checks RFC 6121 §8.5 details the table summarises:
// priorities over several resources, connected-but-not-available
// resources, message types at bare and full JIDs, messages to one's own
// bare JID, and that IQ results and errors never bounce.
func TestMessageDelivery(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	srv.AddUser(t, "carol@b.example", "pw-carol-1")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	high := loginPriority(t, srv, "bob@b.example", "pw-bob-123", "high", 10)
	low := loginPriority(t, srv, "bob@b.example", "pw-bob-123", "low", 1)
	neg := loginPriority(t, srv, "bob@b.example", "pw-bob-123", "neg", -5)
	bound := srv.Login(t, "bob@b.example", "pw-bob-123", "bound")
	carolNeg := loginPriority(t, srv, "carol@b.example", "pw-carol-1", "neg", -1)
	carolBound := srv.Login(t, "carol@b.example", "pw-carol-1", "bound")
	all := []*xmpptest.Client{alice, high, low, neg, bound, carolNeg, carolBound}
	for _, c := range all {
		barrier(t, c)
	}
	// What no available resource takes bounces, unless stored offline.
	undelivered := "service-unavailable"
	if storesOffline(t, alice, "b.example") {
		undelivered = ""
	}

	// received sends xml from 'from' and returns, for each client, the
	// elements with the given id it received.
	received := func(t *testing.T, from *xmpptest.Client, xml, id string) map[*xmpptest.Client][]*stanza.Element {
		t.Helper()
		from.Send(xml)
		out := map[*xmpptest.Client][]*stanza.Element{}
		fromGot := barrier(t, from)
		for _, c := range all {
			els := fromGot
			if c != from {
				els = barrier(t, c)
			}
			for _, el := range els {
				if el.Get("id") == id {
					out[c] = append(out[c], el)
				}
			}
		}
		return out
	}
	type check struct {
		name     string
		from     *xmpptest.Client
		xml      string
		receive  []*xmpptest.Client // get the stanza itself
		errCond  string             // the sender gets this error
		errorsTo *xmpptest.Client   // who gets the error (default: from)
	}
	checks := []check{
		{"bare JID: every non-negative resource, never negative or unavailable ones", alice, "<message to='bob@b.example' type='chat' id='{id}'><body>x</body></message>", []*xmpptest.Client{high, low}, "", nil},
		{"bare JID with only a negative resource: not delivered", alice, "<message to='carol@b.example' type='chat' id='{id}'><body>x</body></message>", nil, undelivered, nil},
		{"bare JID with only a negative resource: headline dropped", alice, "<message to='carol@b.example' type='headline' id='{id}'><body>x</body></message>", nil, "", nil},
		{"full JID of a negative resource: delivered", alice, "<message to='carol@b.example/neg' type='chat' id='{id}'><body>x</body></message>", []*xmpptest.Client{carolNeg}, "", nil},
		{"full JID of a bound, unavailable resource: delivered", alice, "<message to='carol@b.example/bound' type='chat' id='{id}'><body>x</body></message>", []*xmpptest.Client{carolBound}, "", nil},
		{"full JID of a bound resource: headline delivered", alice, "<message to='bob@b.example/bound' type='headline' id='{id}'><body>x</body></message>", []*xmpptest.Client{bound}, "", nil},
		{"full JID: error delivered", alice, "<message to='bob@b.example/low' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", []*xmpptest.Client{low}, "", nil},
		{"bare JID: headline to every non-negative resource", alice, "<message to='bob@b.example' type='headline' id='{id}'><body>x</body></message>", []*xmpptest.Client{high, low}, "", nil},
		{"bare JID: error dropped", alice, "<message to='bob@b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", nil, "", nil},
		{"own bare JID from another own resource", low, "<message to='bob@b.example' type='chat' id='{id}'><body>x</body></message>", []*xmpptest.Client{high, low}, "", nil},
		{"own full JID from another own resource", low, "<message to='bob@b.example/bound' type='chat' id='{id}'><body>x</body></message>", []*xmpptest.Client{bound}, "", nil},
		{"iq result to a bare JID: not delivered", high, "<iq to='alice@a.example' type='result' id='{id}'/>", nil, "", nil},
		{"iq error to a bare JID: not delivered, not answered", high, "<iq to='alice@a.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", nil, "", nil},
		{"iq result to a full JID: delivered", high, "<iq to='alice@a.example/laptop' type='result' id='{id}'/>", []*xmpptest.Client{alice}, "", nil},
		// Errors are never answered with errors (RFC 6120 §8.3.1).
		{"error message to a missing account", alice, "<message to='nobody@b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", nil, "", nil},
		{"error message to a remote domain", alice, "<message to='x@remote.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", nil, "", nil},
		{"error iq to a missing session", alice, "<iq to='bob@b.example/gone' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", nil, "", nil},
		{"error iq to a missing account", alice, "<iq to='nobody@b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", nil, "", nil},
		{"error iq to a remote domain", alice, "<iq to='remote.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", nil, "", nil},
		{"error presence to a missing account", alice, "<presence to='nobody@b.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>", nil, "", nil},
		{"error presence to a remote domain", alice, "<presence to='x@remote.example' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>", nil, "", nil},
		{"error with a malformed to", alice, "<message to='a@b@c' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", nil, "", nil},
	}
	for i, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("md%d", i)
			xml := strings.ReplaceAll(tc.xml, "{id}", id)
			sent := parseXML(t, xml)
			got := received(t, tc.from, xml, id)
			errorsTo := tc.errorsTo
			if errorsTo == nil {
				errorsTo = tc.from
			}
			for _, c := range all {
				els := got[c]
				switch {
				case slices.Contains(tc.receive, c):
					if len(els) != 1 || els[0].Get("type") != sent.Get("type") || els[0].Get("from") != tc.from.JID.String() {
						t.Errorf("%s got %v, want the stanza once", c.JID, els)
					}
				case tc.errCond != "" && c == errorsTo:
					if len(els) != 1 || els[0].Get("type") != "error" || errorCondition(els[0]) != tc.errCond {
						t.Errorf("%s got %v, want one %s error", c.JID, els, tc.errCond)
					}
				case len(els) > 0:
					t.Errorf("%s must receive nothing, got %v", c.JID, els)
				}
			}
		})
	}

	t.Run("priority changes take effect at once", func(t *testing.T) {
		high.Send("<presence><priority>-1</priority></presence>")
		barrier(t, high)
		got := received(t, alice, "<message to='bob@b.example' type='chat' id='pc1'><body>x</body></message>", "pc1")
		if len(got[high]) != 0 || len(got[low]) != 1 {
			t.Errorf("after high went negative: high got %v, low got %v", got[high], got[low])
		}
		low.Send("<presence type='unavailable'/>")
		barrier(t, low)
		got = received(t, alice, "<message to='bob@b.example' type='chat' id='pc2'><body>x</body></message>", "pc2")
		bounced := len(got[alice]) == 1 && errorCondition(got[alice][0]) == undelivered
		if len(got[high])+len(got[low]) != 0 || (undelivered == "") != (len(got[alice]) == 0) || (undelivered != "" && !bounced) {
			t.Errorf("with no non-negative resource: high %v, low %v, sender %v", got[high], got[low], got[alice])
		}
		got = received(t, alice, "<message to='bob@b.example/low' type='chat' id='pc3'><body>x</body></message>", "pc3")
		if len(got[low]) != 1 {
			t.Errorf("full JID of a resource that went unavailable: %v", got[low])
		}
		high.Send("<presence><priority>3</priority></presence>")
		barrier(t, high)
		got = received(t, alice, "<message to='bob@b.example' type='chat' id='pc4'><body>x</body></message>", "pc4")
		if len(got[high]) != 1 || len(got[low]) != 0 {
			t.Errorf("after high came back: high got %v, low got %v", got[high], got[low])
		}
	})

	t.Run("iq without to: answered by the account, reply without from", func(t *testing.T) {
		res := alice.IQ("<iq type='get' id='noto1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		if res.Get("type") != "result" || res.Get("from") != "" || res.Child(nsDiscoInfo, "query") == nil {
			t.Errorf("got %s", res)
		}
	})
}

// TestMultiHostPresence checks that two virtual hosts of one server
// exchange subscriptions, presence and messages internally.
func TestMultiHostPresence(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts)
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	alice := srv.LoginAvailable(t, "alice@a.example", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(t, "bob@b.example", "pw-bob-123", "desk")
	if alice.JID.String() != "alice@a.example/laptop" || bob.JID.String() != "bob@b.example/desk" {
		t.Fatalf("bound %s and %s", alice.JID, bob.JID)
	}
	subscribeBoth(t, alice, bob)

	bob.Send("<presence><show>dnd</show></presence>")
	p := alice.Expect("bob's update", isPresence("bob@b.example/desk", ""))
	if p.ChildText("", "show") != "dnd" {
		t.Errorf("update %s", p)
	}
	alice.Send("<message to='bob@b.example' type='chat' id='mh1'><body>across hosts</body></message>")
	m := bob.Expect("message", isMessage("across hosts"))
	if m.Get("from") != "alice@a.example/laptop" {
		t.Errorf("message %s", m)
	}
	alice.Close()
	bob.Expect("alice unavailable", isPresence("alice@a.example/laptop", "unavailable"))
}

const nsDiscoInfo = "http://jabber.org/protocol/disco#info"

// capsVer computes the XEP-0115 §5.1 verification string of a disco#info
// <query/>, independently of the server's code.
func capsVer(t *testing.T, q *stanza.Element) string {
	t.Helper()
	var ids, features []string
	type form struct {
		formType string
		fields   []string // "var<value<value<" each
	}
	var forms []form
	for _, el := range q.Elements() {
		switch {
		case el.Name.Local == "identity":
			lang := ""
			for _, a := range el.Attr {
				if a.Name.Local == "lang" {
					lang = a.Value
				}
			}
			ids = append(ids, el.Get("category")+"/"+el.Get("type")+"/"+lang+"/"+el.Get("name")+"<")
		case el.Name.Local == "feature":
			features = append(features, el.Get("var")+"<")
		case el.Name.Space == stanza.NSData && el.Name.Local == "x":
			var f form
			for _, field := range el.Elements() {
				if field.Name.Local != "field" {
					continue
				}
				var vals []string
				for _, v := range field.Elements() {
					if v.Name.Local == "value" {
						vals = append(vals, v.Text()+"<")
					}
				}
				if field.Get("var") == "FORM_TYPE" {
					if len(vals) != 1 || field.Get("type") != "hidden" {
						t.Fatalf("bad FORM_TYPE in %s", el)
					}
					f.formType = vals[0]
					continue
				}
				sort.Strings(vals)
				f.fields = append(f.fields, field.Get("var")+"<"+strings.Join(vals, ""))
			}
			sort.Strings(f.fields)
			forms = append(forms, f)
		}
	}
	sort.Strings(ids)
	sort.Strings(features)
	sort.Slice(forms, func(i, j int) bool { return forms[i].formType < forms[j].formType })
	s := strings.Join(ids, "") + strings.Join(features, "")
	for _, f := range forms {
		s += f.formType + strings.Join(f.fields, "")
	}
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestDisco(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, twoHosts+"\n[contact]\nadmin = [\"xmpp:admin@a.example\", \"mailto:admin@a.example\"]\nsupport = [\"https://a.example/help\"]\n")
	srv.AddUser(t, "alice@a.example", "pw-alice-1")
	srv.AddUser(t, "bob@b.example", "pw-bob-123")
	alice := srv.Login(t, "alice@a.example", "pw-alice-1", "laptop")

	c := alice.Features.Child("http://jabber.org/protocol/caps", "c")
	if c == nil || c.Get("hash") != "sha-1" || c.Get("node") == "" || c.Get("ver") == "" {
		t.Fatalf("no XEP-0115 <c/> in stream features: %s", alice.Features)
	}
	node, ver := c.Get("node"), c.Get("ver")

	info := func(t *testing.T, to, node string) *stanza.Element {
		t.Helper()
		iq := "<iq type='get' id='" + alice.NextID() + "' to='" + to + "'><query xmlns='" + nsDiscoInfo + "'"
		if node != "" {
			iq += " node='" + node + "'"
		}
		return alice.IQ(iq + "/></iq>")
	}
	t.Run("server disco#info matches the caps ver", func(t *testing.T) {
		res := info(t, "a.example", "")
		q := res.Child(nsDiscoInfo, "query")
		if res.Get("type") != "result" || q == nil {
			t.Fatalf("got %s", res)
		}
		if got := capsVer(t, q); got != ver {
			t.Errorf("ver computed from disco#info %q, stream features say %q\n%s", got, ver, q)
		}
	})
	t.Run("disco#info on node#ver", func(t *testing.T) {
		res := info(t, "a.example", node+"#"+ver)
		q := res.Child(nsDiscoInfo, "query")
		if res.Get("type") != "result" || q == nil || q.Get("node") != node+"#"+ver {
			t.Fatalf("got %s", res)
		}
		if got := capsVer(t, q); got != ver {
			t.Errorf("ver computed from disco#info on the node %q, want %q", got, ver)
		}
	})
	t.Run("disco#info on another node", func(t *testing.T) {
		if res := info(t, "a.example", node+"#bogus"); errorCondition(res) != "item-not-found" {
			t.Errorf("got %s", res)
		}
	})
	t.Run("the other host has its own consistent caps", func(t *testing.T) {
		res := info(t, "b.example", "")
		q := res.Child(nsDiscoInfo, "query")
		if res.Get("type") != "result" || q == nil || res.Get("from") != "b.example" {
			t.Fatalf("got %s", res)
		}
		res = info(t, "b.example", node+"#"+capsVer(t, q))
		if res.Get("type") != "result" {
			t.Errorf("b.example does not answer its own node#ver: %s", res)
		}
	})
	for _, tc := range []struct{ name, to string }{
		{"account disco#info, same host", "alice@a.example"},
		{"account disco#info, other host", "bob@b.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := info(t, tc.to, "")
			q := res.Child(nsDiscoInfo, "query")
			if res.Get("type") != "result" || q == nil || res.Get("from") != tc.to {
				t.Fatalf("got %s", res)
			}
			var account bool
			features := map[string]bool{}
			for _, el := range q.Elements() {
				if el.Name.Local == "identity" && el.Get("category") == "account" && el.Get("type") == "registered" {
					account = true
				}
				if el.Name.Local == "identity" && el.Get("category") == "server" {
					t.Errorf("account answers with the server's identity: %s", el)
				}
				features[el.Get("var")] = true
			}
			if !account || !features[nsDiscoInfo] {
				t.Errorf("account disco#info %s", q)
			}
		})
	}
	t.Run("account disco#info of a missing account", func(t *testing.T) {
		if res := info(t, "nobody@b.example", ""); errorCondition(res) != "service-unavailable" {
			t.Errorf("got %s", res)
		}
	})
}

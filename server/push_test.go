package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// Tests of XEP-0357 push notifications (mod/push) over real sockets. The
// app server (XMPP Push Service) is a client of a second local host,
// app@push.example/svc, which receives the publish IQs and answers them.

const (
	nsPush   = "urn:xmpp:push:0"
	nsPubSub = "http://jabber.org/protocol/pubsub"
	pushApp  = "app@push.example/svc"
)

type pushEnv struct {
	srv             *xmpptest.Server
	app, alice, bob *xmpptest.Client
}

// newPushEnv starts a server with the hosts localhost and push.example
// (plus extra configuration), the users alice and bob, and the app server
// logged in. alice is logged in, not available, and has not enabled push.
func newPushEnv(t *testing.T, extra string) *pushEnv {
	t.Helper()
	srv := xmpptest.NewServer(t, "hosts = [\"localhost\", \"push.example\"]\n"+extra)
	srv.AddUser(t, "alice", "pw-alice-1")
	srv.AddUser(t, "bob", "pw-bob-123")
	srv.AddUser(t, "app@push.example", "pw-app-123")
	e := &pushEnv{srv: srv}
	e.app = srv.Login(t, "app@push.example", "pw-app-123", "svc")
	e.bob = srv.LoginAvailable(t, "bob", "pw-bob-123", "desk")
	e.alice = srv.Login(t, "alice", "pw-alice-1", "phone")
	return e
}

// enable enables push for c's account at the app server's node.
func pushEnable(t *testing.T, c *xmpptest.Client, node string) {
	t.Helper()
	res := c.IQ(fmt.Sprintf(`<iq type='set' id='%s'><enable xmlns='urn:xmpp:push:0' jid='%s' node='%s'>
		<x xmlns='jabber:x:data' type='submit'>
			<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>
			<field var='secret'><value>s3cr3t</value></field>
		</x></enable></iq>`, c.NextID(), pushApp, node))
	if res.Get("type") != "result" {
		t.Fatalf("enable: %s", res)
	}
}

func isPublish(el *stanza.Element) bool {
	return el.Name.Local == "iq" && el.Get("type") == "set" && el.Child(nsPubSub, "pubsub") != nil
}

// expectPublish waits for a publish at the app server, checks its shape
// and answers it with reply ("" for a result); it returns the summary form.
func (e *pushEnv) expectPublish(t *testing.T, node, reply string) *stanza.Form {
	t.Helper()
	iq := e.app.Expect("a push publish", isPublish)
	if iq.Get("from") != "alice@localhost" {
		t.Errorf("publish from %q, want the account's bare JID", iq.Get("from"))
	}
	pubsub := iq.Child(nsPubSub, "pubsub")
	pub := pubsub.Child(nsPubSub, "publish")
	if pub == nil || pub.Get("node") != node {
		t.Fatalf("publish: %s", iq)
	}
	opts, err := stanza.ParseForm(pubsub.Child(nsPubSub, "publish-options").Child(stanza.NSData, "x"))
	if err != nil || opts.Value("secret") != "s3cr3t" {
		t.Errorf("publish options (%v): %s", err, iq)
	}
	summary, err := stanza.ParseForm(pub.Child(nsPubSub, "item").Child(nsPush, "notification").Child(stanza.NSData, "x"))
	if err != nil || summary.FormType() != "urn:xmpp:push:summary" {
		t.Fatalf("summary (%v): %s", err, iq)
	}
	if reply == "" {
		reply = fmt.Sprintf("<iq type='result' id='%s' to='%s'/>", iq.Get("id"), iq.Get("from"))
	} else {
		reply = fmt.Sprintf(reply, iq.Get("id"), iq.Get("from"))
	}
	e.app.Send(reply)
	return summary
}

func (e *pushEnv) expectNoPublish(t *testing.T) {
	t.Helper()
	e.app.ExpectNone("a push publish", isPublish, 300*time.Millisecond)
}

func (e *pushEnv) bobSays(body string) {
	e.bob.Send(fmt.Sprintf("<message to='alice@localhost' type='chat'><body>%s</body></message>", body))
}

func TestPushFeature(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "")
	res := e.alice.IQ("<iq type='get' id='d1' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	found := false
	for _, f := range res.Child("http://jabber.org/protocol/disco#info", "query").Elements() {
		found = found || f.Get("var") == nsPush
	}
	if !found {
		t.Errorf("account disco#info lacks %s: %s", nsPush, res)
	}
}

func TestPushOffline(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "")
	pushEnable(t, e.alice, "n1")
	e.alice.Close()
	time.Sleep(100 * time.Millisecond)

	e.bobSays("first")
	s := e.expectPublish(t, "n1", "")
	if s.Value("message-count") != "1" || s.Value("last-message-sender") != "bob@localhost/desk" || s.Value("last-message-body") != "" {
		t.Errorf("summary %+v: want count 1, sender bob, no body", s.Fields)
	}
	e.bobSays("second")
	if s := e.expectPublish(t, "n1", ""); s.Value("message-count") != "2" {
		t.Errorf("second summary %+v", s.Fields)
	}
	// Chat states alone do not notify.
	e.bob.Send("<message to='alice@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	e.expectNoPublish(t)

	// The messages were stored all the same: push never takes them.
	alice := e.srv.LoginAvailable(t, "alice", "pw-alice-1", "phone")
	got := offlineSync(t, alice)
	n := 0
	for _, el := range got {
		if el.Name.Local == "message" && el.ChildText("", "body") != "" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d stored messages delivered, want 2: %v", n, got)
	}
}

func TestPushHibernating(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "")
	enableSM(t, e.alice)
	e.alice.Send("<presence/>")
	e.alice.Expect("own presence", isPresence("alice@localhost/phone", ""))
	pushEnable(t, e.alice, "n1")

	// Live: no notification.
	e.bobSays("live")
	e.alice.Expect("the live message", isMessage("live"))
	e.expectNoPublish(t)

	// The connection drops without a close: the session hibernates.
	e.alice.NetConn().Close()
	time.Sleep(200 * time.Millisecond)
	e.bobSays("while asleep")
	if s := e.expectPublish(t, "n1", ""); s.Value("message-count") != "1" {
		t.Errorf("summary %+v", s.Fields)
	}
	e.bob.ExpectNone("an error for a message to a hibernating session", func(el *stanza.Element) bool {
		return el.Get("type") == "error"
	}, 100*time.Millisecond)
}

func TestPushActiveSessionNoNotification(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "")
	pushEnable(t, e.alice, "n1")
	e.alice.Send("<presence/>")
	e.alice.Expect("own presence", isPresence("alice@localhost/phone", ""))
	e.bobSays("hello")
	e.alice.Expect("the message", isMessage("hello"))
	e.expectNoPublish(t)
}

func TestPushDisable(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "")
	pushEnable(t, e.alice, "n1")
	// Someone else may not disable alice's notifications.
	res := e.bob.IQ(fmt.Sprintf("<iq type='set' id='x1' to='alice@localhost'><disable xmlns='urn:xmpp:push:0' jid='%s'/></iq>", pushApp))
	if res.Get("type") != "error" || res.Child(stanza.NSClient, "error").Child(stanza.NSStanzas, "forbidden") == nil {
		t.Errorf("disable by another user: %s", res)
	}
	res = e.alice.IQ(fmt.Sprintf("<iq type='set' id='x2'><disable xmlns='urn:xmpp:push:0' jid='%s' node='n1'/></iq>", pushApp))
	if res.Get("type") != "result" {
		t.Fatalf("disable: %s", res)
	}
	e.bobSays("after disable")
	e.expectNoPublish(t)
}

func TestPushErrorDisables(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "")
	pushEnable(t, e.alice, "gone")
	e.bobSays("one")
	e.expectPublish(t, "gone", "<iq type='error' id='%s' to='%s'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	deadline := time.Now().Add(5 * time.Second)
	for {
		all, err := e.srv.Store().Map("push").All(context.Background(), "alice@localhost")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registration kept after item-not-found: %v", all)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.bobSays("two")
	e.expectNoPublish(t)
}

func TestPushIncludeBody(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "[push]\ninclude_body = true\ninclude_sender = false\n")
	pushEnable(t, e.alice, "n1")
	e.bobSays("Wherefore art thou")
	s := e.expectPublish(t, "n1", "")
	if s.Value("last-message-body") != "Wherefore art thou" || s.Value("last-message-sender") != "" {
		t.Errorf("summary %+v: want the body and no sender", s.Fields)
	}
}

// TestPushInactive: with [push] notify_inactive, a message worth a
// notification that reaches a session whose client said <inactive/>
// (XEP-0352) is published too; the client still gets the message at once
// (it is urgent). Without the option, or once active, nothing is published.
func TestPushInactive(t *testing.T) {
	t.Parallel()
	for _, configured := range []bool{true, false} {
		t.Run(fmt.Sprintf("notify_inactive=%v", configured), func(t *testing.T) {
			t.Parallel()
			e := newPushEnv(t, fmt.Sprintf("[push]\nnotify_inactive = %v\n", configured))
			e.alice.Send("<presence/>")
			e.alice.Expect("own presence", isPresence("alice@localhost/phone", ""))
			pushEnable(t, e.alice, "n1")
			e.alice.Send("<inactive xmlns='urn:xmpp:csi:0'/>")
			e.alice.IQ("<iq type='get' id='sync' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")

			e.bobSays("while inactive")
			e.alice.Expect("the message, at once", isMessage("while inactive"))
			if configured {
				if s := e.expectPublish(t, "n1", ""); s.Value("message-count") != "1" {
					t.Errorf("summary %+v", s.Fields)
				}
			} else {
				e.expectNoPublish(t)
			}
			// Chat states do not notify, inactive or not.
			e.bob.Send("<message to='alice@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
			e.expectNoPublish(t)

			e.alice.Send("<active xmlns='urn:xmpp:csi:0'/>")
			e.alice.IQ("<iq type='get' id='sync2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
			e.bobSays("active again")
			e.alice.Expect("the message", isMessage("active again"))
			e.expectNoPublish(t)
		})
	}
}

// TestPushHibernatedThenTimeout: a message that reached a hibernating
// session is notified once; when the session times out and the message
// goes to offline storage, it is not notified again. A message sent
// after that (no session at all) is.
func TestPushHibernatedThenTimeout(t *testing.T) {
	t.Parallel()
	e := newPushEnv(t, "[stream_management]\nresume_timeout = 1\n")
	enableSM(t, e.alice)
	e.alice.Send("<presence/>")
	e.alice.Expect("own presence", isPresence("alice@localhost/phone", ""))
	pushEnable(t, e.alice, "n1")
	e.alice.NetConn().Close()
	waitSession(t, e.srv, "alice@localhost/phone", "hibernating")

	e.bobSays("while asleep")
	if s := e.expectPublish(t, "n1", ""); s.Value("message-count") != "1" {
		t.Errorf("summary %+v", s.Fields)
	}
	waitSession(t, e.srv, "alice@localhost/phone", "gone")
	e.expectNoPublish(t)
	waitStoredOffline(t, e.srv, "alice@localhost", 1)

	e.bobSays("after the timeout")
	if s := e.expectPublish(t, "n1", ""); s.Value("message-count") != "2" {
		t.Errorf("summary %+v", s.Fields)
	}
}

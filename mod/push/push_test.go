package push_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/mod/push"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage/memstore"
)

const (
	alice  = "alice@example.com"
	bob    = "bob@example.com/desk"
	appJID = "push.example.net"
)

// env is a host running push, with a fake app server that answers every
// publish with the reply of answer (nil: an empty result).
type env struct {
	*modtest.Env
	published chan *stanza.Element
	answer    func(iq *stanza.Element) error
}

func newEnv(t *testing.T, configure func(cfg *push.Config)) *env {
	t.Helper()
	e := &env{Env: modtest.New(t, "example.com", memstore.New()), published: make(chan *stanza.Element, 16)}
	var conf func(any) error
	if configure != nil {
		conf = func(cfg any) error { configure(cfg.(*push.Config)); return nil }
	}
	e.Start(t, push.Module, conf)
	e.Freeze(t)
	e.Router.HandleSendIQ(func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
		e.published <- iq
		if e.answer != nil {
			if err := e.answer(iq); err != nil {
				return nil, err
			}
		}
		return stanza.ResultReply(iq, nil), nil
	})
	return e
}

func (e *env) enable(t *testing.T, from, attrs, form string) modtest.Reply {
	t.Helper()
	return e.IQ(t, fmt.Sprintf(`<iq type='set' id='e' from='%s'><enable xmlns='urn:xmpp:push:0' %s>%s</enable></iq>`, from, attrs, form))
}

func (e *env) disable(t *testing.T, from, attrs string) modtest.Reply {
	t.Helper()
	return e.IQ(t, fmt.Sprintf(`<iq type='set' id='d' from='%s'><disable xmlns='urn:xmpp:push:0' %s/></iq>`, from, attrs))
}

func (e *env) keys(t *testing.T, owner string) []string {
	t.Helper()
	all, err := e.Store.Map(push.MapName).All(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range all {
		out = append(out, strings.ReplaceAll(x.Key, "\n", "|"))
	}
	return out
}

// expectPublish waits for the next publish.
func (e *env) expectPublish(t *testing.T) *stanza.Element {
	t.Helper()
	select {
	case iq := <-e.published:
		return iq
	case <-time.After(5 * time.Second):
		t.Fatal("no publish")
		return nil
	}
}

func (e *env) expectNoPublish(t *testing.T) {
	t.Helper()
	select {
	case iq := <-e.published:
		t.Fatalf("unexpected publish %s", iq)
	case <-time.After(100 * time.Millisecond):
	}
}

func msg(t *testing.T, body string) *stanza.Element {
	t.Helper()
	return modtest.Parse(t, fmt.Sprintf(`<message from='%s' to='%s' type='chat'><body>%s</body></message>`, bob, alice, body))
}

var aliceJID = jid.MustParse(alice)

const secretForm = `<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s3cr3t</value></field></x>`

func TestFeature(t *testing.T) {
	e := newEnv(t, nil)
	if !slices.Contains(e.Registry.Features(module.AccountTarget), push.NS) {
		t.Errorf("account features %v lack %s", e.Registry.Features(module.AccountTarget), push.NS)
	}
	if slices.Contains(e.Registry.Features(module.ServerTarget), push.NS) {
		t.Errorf("%s advertised on the server, XEP-0357 §4.1 says the account", push.NS)
	}
}

func TestEnableDisable(t *testing.T) {
	e := newEnv(t, nil)
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n1'", "").WantResult(t, "")
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n2'", secretForm).WantResult(t, "")
	e.enable(t, alice+"/phone", "jid='other.example' node='n1'", "").WantResult(t, "")
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n1'", secretForm).WantResult(t, "") // replaces
	if got := fmt.Sprint(e.keys(t, alice)); got != "[other.example|n1 push.example.net|n1 push.example.net|n2]" {
		t.Fatalf("registrations %s", got)
	}
	e.disable(t, alice+"/tablet", "jid='"+appJID+"' node='n1'").WantResult(t, "")
	if got := fmt.Sprint(e.keys(t, alice)); got != "[other.example|n1 push.example.net|n2]" {
		t.Fatalf("after disabling one node: %s", got)
	}
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n3'", "").WantResult(t, "")
	e.disable(t, alice+"/phone", "jid='"+appJID+"'").WantResult(t, "")
	if got := fmt.Sprint(e.keys(t, alice)); got != "[other.example|n1]" {
		t.Fatalf("after disabling the service: %s", got)
	}
	e.disable(t, alice+"/phone", "jid='nothing.example'").WantResult(t, "") // not enabled: fine
}

func TestEnableErrors(t *testing.T) {
	e := newEnv(t, nil)
	other := fmt.Sprintf(`<iq type='set' id='e' from='%s' to='%s'><enable xmlns='urn:xmpp:push:0' jid='%s' node='n'/></iq>`, bob, alice, appJID)
	e.IQ(t, other).WantError(t, stanza.Auth, "forbidden")
	other = fmt.Sprintf(`<iq type='set' id='e' from='%s' to='%s'><disable xmlns='urn:xmpp:push:0' jid='%s'/></iq>`, bob, alice, appJID)
	e.IQ(t, other).WantError(t, stanza.Auth, "forbidden")
	e.enable(t, alice+"/phone", "node='n'", "").WantError(t, stanza.Modify, "bad-request")
	e.disable(t, alice+"/phone", "").WantError(t, stanza.Modify, "bad-request")
	e.enable(t, alice+"/phone", "jid='a@@b' node='n'", "").WantError(t, stanza.Modify, "jid-malformed")
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n'",
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x>`).WantError(t, stanza.Modify, "bad-request")
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='"+strings.Repeat("n", 2000)+"'", "").WantError(t, stanza.Modify, "not-acceptable")
	if got := e.keys(t, alice); len(got) != 0 {
		t.Errorf("registrations after errors: %v", got)
	}
}

func TestPublishOffline(t *testing.T) {
	e := newEnv(t, nil)
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n1'", secretForm).WantResult(t, "")
	if e.Registry.RunUndelivered(context.Background(), msg(t, "secret words"), aliceJID) {
		t.Fatal("push took the undelivered message; offline storage must get it")
	}
	iq := e.expectPublish(t)
	if iq.Get("id") != "" {
		iq = iq.Copy().Set("id", "")
	}
	modtest.Equal(t, iq, `<iq xmlns='jabber:client' type='set' from='alice@example.com' to='push.example.net'>
		<pubsub xmlns='http://jabber.org/protocol/pubsub'>
			<publish node='n1'><item><notification xmlns='urn:xmpp:push:0'>
				<x xmlns='jabber:x:data' type='submit'>
					<field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field>
					<field var='message-count'><value>1</value></field>
					<field var='last-message-sender'><value>bob@example.com/desk</value></field>
				</x>
			</notification></item></publish>
			<publish-options><x xmlns='jabber:x:data' type='submit'>
				<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>
				<field var='secret'><value>s3cr3t</value></field>
			</x></publish-options>
		</pubsub></iq>`)

	// The count grows until the user is back.
	e.Registry.RunUndelivered(context.Background(), msg(t, "two"), aliceJID)
	if got := summaryField(t, e.expectPublish(t), "message-count"); got != "2" {
		t.Errorf("message-count = %s, want 2", got)
	}
	s := e.Router.Bind(t, alice+"/phone")
	e.Registry.RunSessionAvailable(context.Background(), s)
	e.Router.Unbind(s)
	e.Registry.RunUndelivered(context.Background(), msg(t, "three"), aliceJID)
	if got := summaryField(t, e.expectPublish(t), "message-count"); got != "1" {
		t.Errorf("message-count after the user came back = %s, want 1", got)
	}
}

func summaryField(t *testing.T, iq *stanza.Element, name string) string {
	t.Helper()
	x := iq.Child(push.NSPubSub, "pubsub").Child(push.NSPubSub, "publish").Child(push.NSPubSub, "item").
		Child(push.NS, "notification").Child(stanza.NSData, "x")
	f, err := stanza.ParseForm(x)
	if err != nil {
		t.Fatalf("summary form: %v", err)
	}
	return f.Value(name)
}

func TestConfigFields(t *testing.T) {
	e := newEnv(t, func(c *push.Config) { c.IncludeBody, c.IncludeSender = true, false })
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n1'", "").WantResult(t, "")
	e.Registry.RunUndelivered(context.Background(), msg(t, "hello"), aliceJID)
	iq := e.expectPublish(t)
	if got := summaryField(t, iq, "last-message-body"); got != "hello" {
		t.Errorf("body = %q, want hello", got)
	}
	if got := summaryField(t, iq, "last-message-sender"); got != "" {
		t.Errorf("sender = %q with include_sender = false", got)
	}
}

func TestNotWorth(t *testing.T) {
	e := newEnv(t, nil)
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='n1'", "").WantResult(t, "")
	for _, m := range []string{
		`<message from='bob@example.com/desk' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		`<message from='bob@example.com/desk' type='chat'><received xmlns='urn:xmpp:receipts' id='x'/></message>`,
		`<message from='bob@example.com/desk' type='headline'><body>news</body></message>`,
		`<message from='bob@example.com/desk' type='error'><body>x</body></message>`,
	} {
		e.Registry.RunUndelivered(context.Background(), modtest.Parse(t, m), aliceJID)
	}
	e.expectNoPublish(t)
	for _, m := range []string{
		`<message from='bob@example.com/desk' type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>`,
		`<message from='bob@example.com/desk' type='chat'><encrypted xmlns='urn:xmpp:omemo:2'/></message>`,
	} {
		e.Registry.RunUndelivered(context.Background(), modtest.Parse(t, m), aliceJID)
		e.expectPublish(t)
	}
}

// sleeper is a session that may be hibernating (XEP-0198).
type sleeper struct {
	*modtest.Session
	asleep bool
}

func (s sleeper) Hibernating() bool { return s.asleep }

func TestDelivered(t *testing.T) {
	e := newEnv(t, nil)
	phone := sleeper{Session: e.Router.Bind(t, alice+"/phone")}
	desk := sleeper{Session: e.Router.Bind(t, alice+"/desk")}
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='phone'", "").WantResult(t, "")
	e.enable(t, alice+"/desk", "jid='"+appJID+"' node='desk'", "").WantResult(t, "")
	ctx := context.Background()

	// Live: nothing.
	e.Registry.RunDelivered(ctx, msg(t, "1"), aliceJID, []module.Session{phone, desk})
	e.Registry.RunDelivered(ctx, msg(t, "1"), aliceJID, []module.Session{desk.Session}) // no Hibernating at all
	e.expectNoPublish(t)

	// Only hibernating sessions got it: every registration.
	phone.asleep, desk.asleep = true, true
	e.Registry.RunDelivered(ctx, msg(t, "2"), aliceJID, []module.Session{phone, desk})
	nodes := []string{publishNode(e.expectPublish(t)), publishNode(e.expectPublish(t))}
	slices.Sort(nodes)
	if fmt.Sprint(nodes) != "[desk phone]" {
		t.Errorf("published to %v", nodes)
	}

	// The desk is live, the phone asleep: only the phone's registration.
	desk.asleep = false
	e.Registry.RunDelivered(ctx, msg(t, "3"), aliceJID, []module.Session{phone, desk})
	if n := publishNode(e.expectPublish(t)); n != "phone" {
		t.Errorf("published to %s, want phone", n)
	}
	e.expectNoPublish(t)
}

func publishNode(iq *stanza.Element) string {
	return iq.Child(push.NSPubSub, "pubsub").Child(push.NSPubSub, "publish").Get("node")
}

func TestPublishErrorDisables(t *testing.T) {
	e := newEnv(t, nil)
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='gone'", "").WantResult(t, "")
	e.enable(t, alice+"/phone", "jid='"+appJID+"' node='busy'", "").WantResult(t, "")
	e.enable(t, alice+"/phone", "jid='far.example' node='n'", "").WantResult(t, "")
	e.answer = func(iq *stanza.Element) error {
		switch {
		case iq.Get("to") == "far.example":
			return stanza.NewError("remote-server-not-found")
		case publishNode(iq) == "gone":
			return stanza.NewError("item-not-found")
		default:
			return stanza.NewError("resource-constraint") // wait: transient
		}
	}
	e.Registry.RunUndelivered(context.Background(), msg(t, "x"), aliceJID)
	for range 3 {
		e.expectPublish(t)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := fmt.Sprint(e.keys(t, alice))
		if got == "[far.example|n push.example.net|busy]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registrations %s, want the item-not-found one removed only", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

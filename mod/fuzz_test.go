package mod_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod"
	"hearth/mod/extdisco"
	"hearth/mod/internal/modtest"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage/memstore"
)

const fuzzDomain = "example.test"

// fuzzEnv starts every module of mod.All on a fresh host with the
// accounts alice and bob, and binds alice/phone.
func fuzzEnv(t *testing.T) *modtest.Env {
	t.Helper()
	e := modtest.New(t, fuzzDomain, memstore.New())
	for _, def := range mod.All() {
		var configure func(any) error
		if def == extdisco.Module {
			// Without a service extdisco registers nothing to fuzz.
			configure = func(cfg any) error {
				cfg.(*extdisco.Config).Services = []extdisco.Service{{Type: "turn", Host: "turn." + fuzzDomain, Secret: "fuzz-secret"}}
				return nil
			}
		}
		e.Start(t, def, configure)
	}
	e.Freeze(t)
	e.AddAccount(t, "alice")
	e.AddAccount(t, "bob")
	e.Router.Bind(t, "alice@"+fuzzDomain+"/phone")
	return e
}

// accountTargets are the addressees of fuzzed IQs to an account: the
// sender's own (no 'to'), another one, and one that does not exist.
var accountTargets = []string{"", "bob@" + fuzzDomain, "nobody@" + fuzzDomain}

// FuzzIQHandlers sends an IQ with an arbitrary payload to every IQ handler
// the modules register (and to the pre-authentication ones), picked by
// key: the payload element has the handler's name and namespace, and the
// fuzzer chooses its attributes and content. A handler must not panic or
// hang, and must answer exactly once: with a result payload or a
// *stanza.Error, or by sending the reply itself and closing the session
// (account removal), never both.
func FuzzIQHandlers(f *testing.F) {
	seeds := []struct {
		key          uint8
		target       uint8
		attrs, inner string
	}{
		{0, 0, "", ""},
		{1, 1, ` node='x'`, `<item jid='bob@example.test' name='B'><group>g</group></item>`},
		{2, 3, ` ver='1'`, `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>bob@example.test</value></field><field var='start'><value>2020-01-01T00:00:00Z</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>10</max><before/></set>`},
		{3, 0, ` queryid='q'`, `<item jid='@@bad'/><item jid='bob@example.test' subscription='remove'/>`},
		{4, 2, ` jid='push.example.test' node='n'`, `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field></x>`},
		{5, 4, ` default='roster'`, `<always><jid>bob@example.test</jid></always><never/>`},
		{6, 0, "", `<username>alice</username><password>new</password><remove/>`},
		{7, 3, ` xmlns:p='urn:p' p:a='1'`, `<item jid='a@b'/><item jid='a@b'/><item jid=''/>`},
		{8, 0, "", strings.Repeat("<a>", 10) + strings.Repeat("</a>", 10)},
		{9, 1, "", `<filter xmlns='urn:x'/>text&amp;`},
		{255, 0, "", `<item node='n' jid='example.test'/>`},
	}
	for _, s := range seeds {
		f.Add(s.key, s.target, s.attrs, s.inner)
	}
	f.Fuzz(func(t *testing.T, key, target uint8, attrs, inner string) {
		e := fuzzEnv(t)
		keys := allKeys(e)
		k := keys[int(key)%len(keys)]
		to := accountTargets[int(target)%len(accountTargets)]
		switch {
		case k.preAuth:
			to = ""
		case k.target == module.ServerTarget:
			to = fuzzDomain
		}
		toAttr := ""
		if to != "" {
			toAttr = fmt.Sprintf(" to='%s'", to)
		}
		xmlText := fmt.Sprintf("<iq xmlns='jabber:client' type='%s' id='fuzz' from='alice@%s/phone'%s><%s xmlns='%s'%s>%s</%s></iq>",
			k.Type, fuzzDomain, toAttr, k.Payload.Local, k.Payload.Space, attrs, inner, k.Payload.Local)
		iq, err := stanza.NewDecoder(strings.NewReader(xmlText), stanza.Limits{MaxStanzaBytes: 16 << 10, MaxDepth: 16, MaxAttrs: 32}).Next()
		if err != nil {
			return // not a well-formed IQ: the stream would have ended
		}
		payload := iq.FirstElement()
		if payload == nil || payload.Name != k.Payload {
			return // the fuzzer closed the payload and opened another
		}
		before := len(e.Router.Session(mustJID(t, "alice@"+fuzzDomain+"/phone")).(*modtest.Session).Sent())
		res, err := callIQ(t, e, k, iq, payload, to)
		if err != nil {
			var se *stanza.Error
			if !errors.As(err, &se) {
				t.Fatalf("%s: error %v (%T) is not a *stanza.Error\n%s", k, err, err, xmlText)
			}
		}
		if res != nil && err != nil {
			t.Fatalf("%s: both a result and an error\n%s", k, xmlText)
		}
		// The router sends the handler's answer, unless the handler closed
		// the session (account removal replies itself, then closes).
		session := e.Router.Session(mustJID(t, "alice@"+fuzzDomain+"/phone")).(*modtest.Session)
		replies := 1
		if closed, _ := session.Closed(); closed {
			replies = 0
		}
		for _, st := range append(session.Sent()[before:], e.Router.Routed()...) {
			if st.Name.Local == "iq" && st.Get("id") == "fuzz" && (st.Get("type") == "result" || st.Get("type") == "error") {
				replies++
			}
		}
		if replies != 1 && !k.preAuth {
			t.Fatalf("%s: %d replies\n%s", k, replies, xmlText)
		}
	})
}

// fuzzKey is a registered IQ handler.
type fuzzKey struct {
	module.IQKey
	target  module.Target
	preAuth bool
}

func (k fuzzKey) String() string {
	return fmt.Sprintf("%s {%s}%s (target %v, pre-auth %v)", k.Type, k.Payload.Space, k.Payload.Local, k.target, k.preAuth)
}

// allKeys lists every IQ handler of e in a stable order.
func allKeys(e *modtest.Env) []fuzzKey {
	var keys []fuzzKey
	for _, t := range []module.Target{module.AccountTarget, module.ServerTarget} {
		for _, k := range e.Registry.IQKeys(t) {
			keys = append(keys, fuzzKey{IQKey: k, target: t})
		}
	}
	// The registry does not list its pre-authentication handlers; these
	// are the ones in-band registration registers.
	for _, typ := range []string{stanza.Get, stanza.Set} {
		k := module.IQKey{Type: typ, Payload: xmlName("jabber:iq:register", "query")}
		if _, ok := e.Registry.PreAuthIQ(k); ok {
			keys = append(keys, fuzzKey{IQKey: k, preAuth: true})
		}
	}
	return keys
}

// callIQ runs the handler of k on iq and fails t when it does not return
// within a few seconds.
func callIQ(t *testing.T, e *modtest.Env, k fuzzKey, iq, payload *stanza.Element, to string) (*stanza.Element, error) {
	t.Helper()
	type reply struct {
		res *stanza.Element
		err error
	}
	ch := make(chan reply, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var r reply
		if k.preAuth {
			fn, _ := e.Registry.PreAuthIQ(k.IQKey)
			r.res, r.err = fn(ctx, module.PreAuthRequest{Stanza: iq, Payload: payload, Domain: fuzzDomain, RemoteAddr: "192.0.2.1", Secure: true})
		} else {
			from := mustJID(t, iq.Get("from"))
			toJID := from.Bare()
			if to != "" {
				toJID = mustJID(t, to).Bare()
			}
			fn, _ := e.Registry.IQ(k.target, k.IQKey)
			req := module.IQRequest{Stanza: iq, Payload: payload, From: from, To: toJID, Session: e.Router.Session(from)}
			r.res, r.err = fn(ctx, req)
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		return r.res, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer within 10s", k)
		return nil, nil
	}
}

func mustJID(t *testing.T, s string) jid.JID {
	t.Helper()
	j, err := jid.Parse(s)
	if err != nil {
		t.Fatalf("jid %q: %v", s, err)
	}
	return j
}

func xmlName(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }

package disco_test

import (
	"context"
	"strings"
	"testing"

	"hearth/jid"
	"hearth/mod/disco"
	"hearth/mod/internal/modtest"
	"hearth/mod/ping"
	"hearth/mod/version"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage/memstore"
)

// newEnv starts ping and version (for their features), then disco with
// the given contact configuration (nil: none).
func newEnv(t *testing.T, contact *disco.Config) *modtest.Env {
	t.Helper()
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, ping.Module, nil)
	env.Start(t, version.Module, nil)
	var configure func(any) error
	if contact != nil {
		configure = func(cfg any) error { *cfg.(*disco.Config) = *contact; return nil }
	}
	env.Start(t, disco.Module, configure)
	env.Freeze(t)
	return env
}

func iq(to, payload string) string {
	return `<iq xmlns='jabber:client' type='get' id='d1' from='alice@example.com/a' to='` + to + `'>` + payload + `</iq>`
}

const serverInfo = `<identity category='server' type='im' name='hearth'/>` +
	`<feature var='http://jabber.org/protocol/disco#info'/>` +
	`<feature var='http://jabber.org/protocol/disco#items'/>` +
	`<feature var='jabber:iq:version'/>` +
	`<feature var='urn:xmpp:ping'/>`

func TestServerInfo(t *testing.T) {
	env := newEnv(t, nil)
	capsNode := disco.CapsNode + "#" + env.Registry.CapsVer()
	for _, tc := range []struct {
		name, payload string
		want          string // "" when an error is wanted
		condition     string
	}{
		{"no node", `<query xmlns='http://jabber.org/protocol/disco#info'/>`,
			`<query xmlns='http://jabber.org/protocol/disco#info'>` + serverInfo + `</query>`, ""},
		{"caps node", `<query xmlns='http://jabber.org/protocol/disco#info' node='` + capsNode + `'/>`,
			`<query xmlns='http://jabber.org/protocol/disco#info' node='` + capsNode + `'>` + serverInfo + `</query>`, ""},
		{"stale caps node", `<query xmlns='http://jabber.org/protocol/disco#info' node='` + disco.CapsNode + `#AAAA'/>`, "", "item-not-found"},
		{"unknown node", `<query xmlns='http://jabber.org/protocol/disco#info' node='foo'/>`, "", "item-not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.IQ(t, iq("example.com", tc.payload))
			if tc.condition != "" {
				r.WantError(t, "cancel", tc.condition)
				return
			}
			r.WantResult(t, tc.want)
		})
	}
}

func TestItems(t *testing.T) {
	env := newEnv(t, nil)
	for _, tc := range []struct {
		name, to, payload string
		condition         string
	}{
		{"server", "example.com", `<query xmlns='http://jabber.org/protocol/disco#items'/>`, ""},
		{"server node", "example.com", `<query xmlns='http://jabber.org/protocol/disco#items' node='x'/>`, "item-not-found"},
		{"account", "bob@example.com", `<query xmlns='http://jabber.org/protocol/disco#items'/>`, ""},
		{"account node", "bob@example.com", `<query xmlns='http://jabber.org/protocol/disco#items' node='x'/>`, "item-not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.IQ(t, iq(tc.to, tc.payload))
			if tc.condition != "" {
				r.WantError(t, "cancel", tc.condition)
				return
			}
			r.WantResult(t, `<query xmlns='http://jabber.org/protocol/disco#items'/>`)
		})
	}
}

func TestAccountInfo(t *testing.T) {
	env := newEnv(t, nil)
	want := `<query xmlns='http://jabber.org/protocol/disco#info'>` +
		`<identity category='account' type='registered'/>` +
		`<feature var='http://jabber.org/protocol/disco#info'/>` +
		`<feature var='http://jabber.org/protocol/disco#items'/>` +
		`<feature var='urn:xmpp:ping'/>` +
		`</query>`
	env.IQ(t, iq("bob@example.com", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)).WantResult(t, want)
	env.IQ(t, iq("bob@example.com", `<query xmlns='http://jabber.org/protocol/disco#info' node='x'/>`)).WantError(t, "cancel", "item-not-found")
}

func TestContactAddresses(t *testing.T) {
	plain := newEnv(t, nil)
	env := newEnv(t, &disco.Config{
		Admin: []string{"xmpp:admin@example.com", "mailto:admin@example.com"},
		Abuse: []string{"https://example.com/abuse"},
	})
	want := `<query xmlns='http://jabber.org/protocol/disco#info'>` + serverInfo +
		`<x xmlns='jabber:x:data' type='result'>` +
		`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field>` +
		`<field var='abuse-addresses' type='list-multi'><value>https://example.com/abuse</value></field>` +
		`<field var='admin-addresses' type='list-multi'><value>xmpp:admin@example.com</value><value>mailto:admin@example.com</value></field>` +
		`</x></query>`
	env.IQ(t, iq("example.com", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)).WantResult(t, want)
	if env.Registry.CapsVer() == plain.Registry.CapsVer() {
		t.Errorf("caps ver %s does not change with the contact form", env.Registry.CapsVer())
	}
	// The account's info does not carry the server's form.
	r := env.IQ(t, iq("bob@example.com", `<query xmlns='http://jabber.org/protocol/disco#info'/>`))
	r.WantResult(t, `<query xmlns='http://jabber.org/protocol/disco#info'>`+
		`<identity category='account' type='registered'/>`+
		`<feature var='http://jabber.org/protocol/disco#info'/>`+
		`<feature var='http://jabber.org/protocol/disco#items'/>`+
		`<feature var='urn:xmpp:ping'/></query>`)
}

func TestContactConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     disco.Config
		wantErr string // "" for success
	}{
		{"empty", disco.Config{}, ""},
		{"all keys", disco.Config{
			Admin: []string{"xmpp:a@example.com"}, Abuse: []string{"mailto:b@example.com"},
			Feedback: []string{"https://example.com/f"}, Sales: []string{"xmpp:s@example.com"},
			Security: []string{"mailto:sec@example.com"}, Support: []string{"xmpp:support@conference.example.com?join"},
		}, ""},
		{"no scheme", disco.Config{Security: []string{"security@example.com"}}, "security"},
		{"unparsable", disco.Config{Support: []string{"http://[::1"}}, "support"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := modtest.New(t, "example.com", memstore.New())
			err := env.StartErr(disco.Module, func(cfg any) error { *cfg.(*disco.Config) = tc.cfg; return nil })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("start: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("start error = %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

// TestOtherModules checks that disco answers with what modules started
// after it register (it reads the registry per request) and with other
// modules' identities and forms.
func TestOtherModules(t *testing.T) {
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, disco.Module, nil)
	env.Start(t, module.New("extra", struct{}{}, func(h *module.Host, _ struct{}) error {
		h.AddIdentity(module.Identity{Category: "store", Type: "file", Name: "Dateien", Lang: "de"})
		h.AddFeature(module.ServerTarget, "urn:example:server")
		h.AddFeature(module.AccountTarget, "urn:example:account")
		h.AddInfoForm(&stanza.Form{Type: stanza.FormResult, Fields: []stanza.Field{
			{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{"urn:example:info"}},
			{Var: "max-size", Values: []string{"1024"}},
		}})
		return nil
	}), nil)
	env.Freeze(t)
	env.IQ(t, iq("example.com", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)).WantResult(t,
		`<query xmlns='http://jabber.org/protocol/disco#info'>`+
			`<identity category='server' type='im' name='hearth'/>`+
			`<identity category='store' type='file' name='Dateien' xml:lang='de'/>`+
			`<feature var='http://jabber.org/protocol/disco#info'/>`+
			`<feature var='http://jabber.org/protocol/disco#items'/>`+
			`<feature var='urn:example:server'/>`+
			`<x xmlns='jabber:x:data' type='result'>`+
			`<field var='FORM_TYPE' type='hidden'><value>urn:example:info</value></field>`+
			`<field var='max-size'><value>1024</value></field></x>`+
			`</query>`)
	env.IQ(t, iq("bob@example.com", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)).WantResult(t,
		`<query xmlns='http://jabber.org/protocol/disco#info'>`+
			`<identity category='account' type='registered'/>`+
			`<feature var='http://jabber.org/protocol/disco#info'/>`+
			`<feature var='http://jabber.org/protocol/disco#items'/>`+
			`<feature var='urn:example:account'/>`+
			`</query>`)
}

// fakeNodes serves one node, "n", readable by alice only.
type fakeNodes struct{}

func (fakeNodes) Items(_ context.Context, account, from jid.JID, node string) ([]*stanza.Element, error) {
	if from.Bare().String() != "alice@example.com" || node != "" && node != "n" {
		return nil, stanza.NewError("item-not-found")
	}
	if node == "n" {
		return []*stanza.Element{stanza.New(disco.NSItems, "item", "jid", account.String(), "name", "i1")}, nil
	}
	return []*stanza.Element{stanza.New(disco.NSItems, "item", "jid", account.String(), "node", "n")}, nil
}

func (fakeNodes) NodeInfo(_ context.Context, _, from jid.JID, node string) ([]*stanza.Element, error) {
	if from.Bare().String() != "alice@example.com" || node != "n" {
		return nil, stanza.NewError("item-not-found")
	}
	return []*stanza.Element{stanza.New(disco.NSInfo, "identity", "category", "pubsub", "type", "leaf")}, nil
}

// TestAccountNodes checks that disco asks the module serving account
// nodes (PEP) for the account's items and node info, and shows its identity.
func TestAccountNodes(t *testing.T) {
	env := modtest.New(t, "example.com", memstore.New())
	nodes := module.New("pep", struct{}{}, func(h *module.Host, _ struct{}) error {
		h.SetAccountNodes(fakeNodes{}, module.Identity{Category: "pubsub", Type: "pep"})
		return nil
	})
	env.Start(t, nodes, nil)
	env.Start(t, disco.Module, nil)
	env.Freeze(t)
	env.IQ(t, iq("alice@example.com", `<query xmlns='http://jabber.org/protocol/disco#items'/>`)).WantResult(t,
		`<query xmlns='http://jabber.org/protocol/disco#items'><item jid='alice@example.com' node='n'/></query>`)
	env.IQ(t, iq("alice@example.com", `<query xmlns='http://jabber.org/protocol/disco#items' node='n'/>`)).WantResult(t,
		`<query xmlns='http://jabber.org/protocol/disco#items' node='n'><item jid='alice@example.com' name='i1'/></query>`)
	env.IQ(t, iq("alice@example.com", `<query xmlns='http://jabber.org/protocol/disco#info' node='n'/>`)).WantResult(t,
		`<query xmlns='http://jabber.org/protocol/disco#info' node='n'><identity category='pubsub' type='leaf'/></query>`)
	env.IQ(t, iq("alice@example.com", `<query xmlns='http://jabber.org/protocol/disco#info' node='x'/>`)).WantError(t, "cancel", "item-not-found")
	env.IQ(t, iq("alice@example.com", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)).WantResult(t,
		`<query xmlns='http://jabber.org/protocol/disco#info'>`+
			`<identity category='account' type='registered'/><identity category='pubsub' type='pep'/>`+
			`<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/></query>`)
}

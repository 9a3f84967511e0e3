package dump

import (
	"strings"
	"testing"
)

// testdata/prosody.sqlite was written by Prosody 0.12 (Debian) with
// storage = "sql", driver SQLite3: prosodyctl register of alice
// (s3cret-pass) and bob (pw2), then, through its admin shell, a roster
// with a pending request, an offline message, a MAM item, a vCard and a
// private XML element for alice. Prosody's own sqlite file
// is checked in rather than produced by running Prosody in the test.
func TestReadProsodySQL(t *testing.T) {
	var users []User
	err := ReadProsodySQL(t.Context(), "testdata/prosody.sqlite", "", func(u User) error {
		users = append(users, u)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
		t.Fatalf("users %+v", users)
	}
	st := openSQLite(t)
	im := &Importer{Store: st, Sections: Sections()}
	for _, u := range users {
		if _, err := im.Import(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	got := string(export(t, st))
	for _, want := range []string{
		`<item jid="romeo@montague.net" name="Romeo" subscription="both"><group>Friends</group></item>`,
		`<item jid="nurse@capulet.lit" subscription="none" ask="subscribe"/>`,
		`<presence xmlns="jabber:client" type="subscribe" from="mercutio@montague.net" to="alice@example.org"/>`,
		`<vCard xmlns="vcard-temp"><FN>Alice</FN></vCard>`,
		`<query xmlns="jabber:iq:private"><prefs xmlns="urn:example:prefs"><theme>dark</theme></prefs></query>`,
		`<body>hello</body><delay xmlns="urn:xmpp:delay" from="example.org" stamp=`,
		`<result xmlns="urn:xmpp:mam:2" id="f3ff4cfb-dacd-48bd-84c5-b6365f0e862c"><forwarded xmlns="urn:xmpp:forward:0"><delay xmlns="urn:xmpp:delay" stamp="2023-11-14T22:13:20.250000Z"/>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("export lacks %s:\n%s", want, got)
		}
	}
	// The SCRAM-SHA-1 keys Prosody derived from the passwords log in.
	for user, pw := range map[string]string{"alice": "s3cret-pass", "bob": "pw2"} {
		a, err := st.Accounts().Get(t.Context(), "example.org", user)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Credentials.Verify(pw) {
			t.Errorf("%s: stored key does not match the password", user)
		}
	}
}

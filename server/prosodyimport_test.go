package server_test

import (
	"strings"
	"testing"

	"hearth/dump"
	"hearth/stanza"
	"hearth/xmpptest"
)

// TestProsodySQLImportLogin imports the SQLite database written by a real
// Prosody 0.12 (dump/testdata/prosody.sqlite, SQL storage) and logs in as
// its user with the password given to prosodyctl register: Prosody's
// SCRAM-SHA-1 keys authenticate, the roster is there and the offline
// message is delivered at initial presence.
func TestProsodySQLImportLogin(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `hosts = ["example.org"]`)
	im := &dump.Importer{Store: srv.Store(), Sections: dump.Sections()}
	err := dump.ReadProsodySQL(t.Context(), "../dump/testdata/prosody.sqlite", "", func(u dump.User) error {
		_, err := im.Import(t.Context(), u)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	c := xmpptest.Dial(t, srv.C2S, "example.org", false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("SCRAM-SHA-1", "alice", "wrong-pass"); f == nil {
		t.Fatal("a wrong password logged in")
	}
	c = xmpptest.Dial(t, srv.C2S, "example.org", false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("SCRAM-SHA-1", "alice", "s3cret-pass"); f != nil {
		t.Fatalf("login with the Prosody password failed: %s", f)
	}
	c.OpenStream()
	c.Bind("phone")
	roster := c.IQ("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	if !strings.Contains(roster.String(), "romeo@montague.net") || !strings.Contains(roster.String(), "nurse@capulet.lit") {
		t.Errorf("roster: %s", roster)
	}
	// Prosody's archive item keeps its key as stanza-id and its time.
	c.Send("<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2' queryid='x'/></iq>")
	c.Expect("the archived message from Prosody", func(el *stanza.Element) bool {
		s := el.String()
		return el.Name.Local == "message" && strings.Contains(s, "id=\"f3ff4cfb-dacd-48bd-84c5-b6365f0e862c\"") &&
			strings.Contains(s, "stamp=\"2023-11-14T22:13:20.250000Z\"") && strings.Contains(s, "<body>archived</body>")
	})
	c.Expect("the end of the MAM query", func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.Get("id") == "q1" })
	c.Send("<presence/>")
	c.Expect("the offline message from Prosody", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.ChildText(stanza.NSClient, "body") == "hello"
	})
}

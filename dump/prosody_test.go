package dump

import (
	"slices"
	"strings"
	"testing"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/storage/memstore"
)

// testdata/prosody is a data directory written by Prosody 0.12.3 (Debian
// 12): accounts by "prosodyctl register" on a host with internal_hashed
// authentication (example.org) and one with internal_plain
// (old-host.example.net), rosters by Prosody's util.datamanager.

func TestReadProsody(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	im := &Importer{Store: st, Sections: Sections()}
	var got []string
	err := ReadProsody("testdata/prosody", "", func(u User) error {
		r, err := im.Import(ctx, u)
		got = append(got, r.JID.String()+" "+r.Outcome.String()+" "+strings.Join(r.Warnings, "; "))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"alice@example.org created SCRAM-SHA-1 credentials only: SCRAM-SHA-256 logins fail until the password is set again",
		"j.doe@example.org created SCRAM-SHA-1 credentials only: SCRAM-SHA-256 logins fail until the password is set again",
		"bob@old-host.example.net created ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("imported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The passwords given to prosodyctl verify against the imported keys.
	for _, c := range []struct{ host, user, password string }{
		{"example.org", "alice", "alice-pass"},
		{"example.org", "j.doe", "pässwörd ✓"},
		{"old-host.example.net", "bob", `bob "quoted" \ pass`},
	} {
		a, err := st.Accounts().Get(ctx, c.host, c.user)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Credentials.Verify(c.password) || a.Credentials.Verify(c.password+"x") {
			t.Errorf("%s@%s: password does not verify against %+v", c.user, c.host, a.Credentials)
		}
	}
	items, err := roster.Items(ctx, offlineHost(st, "example.org"), jid.MustParse("alice@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	var view []string
	for _, it := range items {
		s := it.Element().String()
		if it.Hidden {
			s = "hidden " + it.JID.String()
		}
		if it.PendingIn != nil {
			s += " pending-in"
		}
		view = append(view, s)
	}
	wantView := []string{
		`<item xmlns="jabber:iq:roster" jid="friar@example.org" name="Friar" subscription="none" approved="true"/>`,
		"hidden mercutio@montague.net pending-in",
		`<item xmlns="jabber:iq:roster" jid="nurse@capulet.lit" subscription="to" ask="subscribe"/>`,
		`<item xmlns="jabber:iq:roster" jid="romeo@montague.net" name="Romeo" subscription="both"><group>Friends</group><group>Lovers &amp; "others"` + "\n" + `</group></item>`,
		`<item xmlns="jabber:iq:roster" jid="tybalt@capulet.lit" subscription="from"><group>Enemies</group></item>`,
	}
	if !slices.Equal(view, wantView) {
		t.Errorf("alice's roster:\n%s\nwant:\n%s", strings.Join(view, "\n"), strings.Join(wantView, "\n"))
	}

	// --host selects one host.
	var users []string
	if err := ReadProsody("testdata/prosody", "old-host.example.net", func(u User) error {
		users = append(users, u.Name+"@"+u.Host)
		return nil
	}); err != nil || !slices.Equal(users, []string{"bob@old-host.example.net"}) {
		t.Errorf("--host old-host.example.net: %v, %v", users, err)
	}
	if err := ReadProsody("testdata/prosody", "nowhere.example", func(User) error { return nil }); err == nil {
		t.Errorf("reading a host that is not there succeeded")
	}
}

func TestProsodyDecode(t *testing.T) {
	for in, want := range map[string]string{"example%2eorg": "example.org", "j%2edoe": "j.doe", "plain": "plain", "%c3%a9": "é"} {
		if got, err := prosodyDecode(in); err != nil || got != want {
			t.Errorf("prosodyDecode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"%", "%2", "a%zz", "%2g"} {
		if got, err := prosodyDecode(in); err == nil {
			t.Errorf("prosodyDecode(%q) = %q, want an error", in, got)
		}
	}
}

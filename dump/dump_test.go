package dump

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/pep"
	"hearth/mod/presence"
	"hearth/mod/private"
	"hearth/mod/roster"
	"hearth/mod/vcard"
	"hearth/stanza"
	"hearth/storage"
	"hearth/storage/memstore"
	"hearth/storage/sqlstore"
)

// importFile imports the dump at path into st and returns the results.
func importFile(t *testing.T, st storage.Store, path string, replace bool) []Result {
	t.Helper()
	im := &Importer{Store: st, Sections: Sections(), Replace: replace}
	var results []Result
	err := ReadFile(path, func(u User) error {
		r, err := im.Import(t.Context(), u)
		results = append(results, r)
		return err
	})
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return results
}

// export returns the dump of every host of st.
func export(t *testing.T, st storage.Store) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Export(t.Context(), st, &b, nil, Sections()); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b.Bytes()
}

// writeTemp writes data to a file in a new temporary directory.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func openSQLite(t *testing.T) storage.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "hearth.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestImportSample(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	results := importFile(t, st, "testdata/sample.xml", false)
	var got []string
	for _, r := range results {
		got = append(got, r.JID.String()+" "+r.Outcome.String()+" "+strings.Join(r.Warnings, "; "))
	}
	want := []string{
		"alice@example.org created ignored SCRAM-SHA-512 credentials: hearth stores SCRAM-SHA-1 and SCRAM-SHA-256 only",
		"bob@example.org created ",
		"carol@example.org created no password or usable SCRAM credentials: set one with hearth passwd",
		"zed@example.net created SCRAM-SHA-1 credentials only: SCRAM-SHA-256 logins fail until the password is set again",
	}
	if !slices.Equal(got, want) {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	alice, err := st.Accounts().Get(ctx, "example.org", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if alice.Credentials.SHA1.Iterations != 4096 || alice.Credentials.SHA256.Iterations != 10000 ||
		len(alice.Credentials.SHA1.StoredKey) != 20 || len(alice.Credentials.SHA256.ServerKey) != 32 {
		t.Errorf("alice's credentials: %+v", alice.Credentials)
	}
	bob, err := st.Accounts().Get(ctx, "example.org", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !bob.Credentials.Verify("s3cret-pass") || bob.Credentials.Verify("wrong") || len(bob.Credentials.SHA1.StoredKey) == 0 {
		t.Errorf("bob's password was not turned into both SCRAM keys: %+v", bob.Credentials)
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
			s += " pending-in from=" + it.PendingIn.Get("from") + " id=" + it.PendingIn.Get("id")
		}
		view = append(view, s)
	}
	wantView := []string{
		`<item xmlns="jabber:iq:roster" jid="friar@example.org" name="Friar &quot;Laurence&quot;" subscription="none" approved="true"/>`,
		"hidden mercutio@montague.net pending-in from=mercutio@montague.net id=xk3h1v69",
		`<item xmlns="jabber:iq:roster" jid="nurse@capulet.lit" subscription="to" ask="subscribe"/>`,
		`<item xmlns="jabber:iq:roster" jid="romeo@montague.net" name="Romeo" subscription="both"><group>Friends</group><group>Lovers &amp; others</group></item> pending-in from=romeo@montague.net id=`,
	}
	if !slices.Equal(view, wantView) {
		t.Errorf("alice's roster:\n%s\nwant:\n%s", strings.Join(view, "\n"), strings.Join(wantView, "\n"))
	}
	if v, err := st.Map("last").Get(ctx, "alice@example.org", "logout"); err != nil || string(v) != "1700000000" {
		t.Errorf("hearth map entry: %q, %v", v, err)
	}

	// A second import skips every account; --replace replaces them.
	for _, r := range importFile(t, st, "testdata/sample.xml", false) {
		if r.Outcome != Skipped {
			t.Errorf("second import: %s %v", r.JID, r.Outcome)
		}
	}
	must(t, st.Map("last").Set(ctx, "alice@example.org", "extra", []byte("x")))
	for _, r := range importFile(t, st, "testdata/sample.xml", true) {
		if r.Outcome != Replaced {
			t.Errorf("import with replace: %s %v", r.JID, r.Outcome)
		}
	}
	if _, err := st.Map("last").Get(ctx, "alice@example.org", "extra"); err == nil {
		t.Errorf("replace kept data the dump does not have")
	}
}

// The map names of MapSection are the modules' own.
func TestSectionMapNames(t *testing.T) {
	var names []string
	for _, s := range Sections() {
		names = append(names, s.Name)
	}
	if !slices.Contains(names, presence.MapName) || !slices.Contains(names, roster.MapName) {
		t.Errorf("sections %v miss the presence or roster map", names)
	}
}

// TestRoundTripSQLite exports, imports into a fresh store and exports
// again: the two exports are the same bytes.
func TestRoundTripSQLite(t *testing.T) {
	a := openSQLite(t)
	importFile(t, a, "testdata/sample.xml", false)
	first := export(t, a)
	b := openSQLite(t)
	importFile(t, b, writeTemp(t, "first.xml", first), false)
	if second := export(t, b); !bytes.Equal(first, second) {
		t.Errorf("export after import differs:\n--- first\n%s\n--- second\n%s", first, second)
	}

	// Bob's salts, derived from his password on import, are random.
	must(t, a.Accounts().Delete(t.Context(), "example.org", "bob"))
	golden(t, "testdata/sample.export.xml", export(t, a))
}

// golden compares got with the file at path, or rewrites the file when
// HEARTH_UPDATE_GOLDEN is set.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv("HEARTH_UPDATE_GOLDEN") != "" {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (set HEARTH_UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}

func TestExportHostFilter(t *testing.T) {
	st := memstore.New()
	importFile(t, st, "testdata/sample.xml", false)
	var b bytes.Buffer
	if err := Export(context.Background(), st, &b, []string{"example.net"}, Sections()); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); strings.Contains(s, "example.org") || !strings.Contains(s, "<user name='zed'>") {
		t.Errorf("export of example.net:\n%s", s)
	}
	b.Reset()
	if err := Export(context.Background(), memstore.New(), &b, nil, Sections()); err != nil {
		t.Fatal(err)
	}
	if want := "<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='urn:xmpp:pie:0'>\n</server-data>\n"; b.String() != want {
		t.Errorf("empty export = %q, want %q", b.String(), want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestImportPEPPrivateVCard checks the sections of mod/vcard, mod/private
// and mod/pep: the vCard, private XML, XEP-0048 bookmarks from private XML
// turned into the XEP-0402 node (the broken room dropped), and PEP nodes
// with their configuration (a node with items only gets the default one).
func TestImportPEPPrivateVCard(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	importFile(t, st, "testdata/sample.xml", false)
	alice := jid.MustParse("alice@example.org")
	els, err := pep.Export(ctx, st, alice)
	if err != nil || len(els) != 2 {
		t.Fatalf("PEP export: %v, %v", els, err)
	}
	var nodes, access []string
	for _, c := range els[0].Elements() {
		f, err := stanza.ParseForm(c.FirstElement())
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, c.Get("node"))
		access = append(access, f.Value("pubsub#access_model"))
	}
	wantNodes := []string{"eu.siacs.conversations.axolotl.devicelist", "urn:example:friends", "urn:xmpp:avatar:metadata", "urn:xmpp:bookmarks:1"}
	if !slices.Equal(nodes, wantNodes) || !slices.Equal(access, []string{"open", "roster", "presence", "whitelist"}) {
		t.Errorf("nodes %v with access %v", nodes, access)
	}
	var items []string
	for _, n := range els[1].Elements() {
		for _, it := range n.Elements() {
			items = append(items, n.Get("node")+"/"+it.Get("id"))
		}
	}
	if !slices.Equal(items, []string{"eu.siacs.conversations.axolotl.devicelist/current", "urn:xmpp:avatar:metadata/abc", "urn:xmpp:bookmarks:1/council@conference.example.org"}) {
		t.Errorf("items %v", items)
	}
	priv, err := private.Export(ctx, st, alice)
	if err != nil || len(priv) != 1 || len(priv[0].Elements()) != 1 || priv[0].FirstElement().Name.Local != "prefs" {
		t.Errorf("private export: %v, %v", priv, err)
	}
	card, err := vcard.Export(ctx, st, alice)
	if err != nil || len(card) != 1 || card[0].ChildText(vcard.NS, "FN") != "Alice" {
		t.Errorf("vCard export: %v, %v", card, err)
	}
}

// The archive sections keep stanza-ids, times and peers of MAM items and
// the order and senders of offline messages.
func TestImportArchives(t *testing.T) {
	st := openSQLite(t)
	importFile(t, st, "testdata/sample.xml", false)
	ctx := t.Context()
	res, err := st.Archive("mam").Query(ctx, "alice@example.org", storage.Query{})
	must(t, err)
	want := []struct{ id, with, time string }{
		{"28482-98726-73623", "romeo@montague.net/orchard", "2010-07-10T23:08:25.123456Z"},
		{"5d398-28273-f7382", "romeo@montague.net", "2010-07-10T23:09:32Z"},
		{"self-note-1", "alice@example.org/phone", "2010-07-10T23:09:32Z"},
	}
	if len(res.Items) != len(want) {
		t.Fatalf("archive has %d items, want %d", len(res.Items), len(want))
	}
	for i, w := range want {
		it := res.Items[i]
		if it.ID != w.id || it.With != w.with || it.Time.UTC().Format(time.RFC3339Nano) != w.time {
			t.Errorf("item %d = %s %s %s, want %v", i, it.ID, it.With, it.Time.UTC().Format(time.RFC3339Nano), w)
		}
	}
	off, err := st.Archive("offline").Query(ctx, "alice@example.org", storage.Query{})
	must(t, err)
	if len(off.Items) != 2 || off.Items[0].With != "romeo@montague.net/orchard" || off.Items[1].With != "nurse@capulet.lit" ||
		!strings.Contains(string(off.Items[1].Data), "Come &amp; see") {
		t.Errorf("offline items: %+v", off.Items)
	}
}

package dump

import (
	"bytes"
	"testing"

	"hearth/storage"
	"hearth/storage/sqlstore"
	"hearth/storage/sqlstore/sqltest"
)

// collationDump has contacts and users whose order differs between
// bytewise comparison and the collations of database servers
// (punctuation, case, accents).
const collationDump = `<server-data xmlns='urn:xmpp:pie:0'><host jid='example.org'>
<user name='a.b' password='pw-one'/><user name='a-b'/><user name='a_b'/><user name='ab'/><user name='Ab2'/><user name='é'/>
<user name='zoe'><query xmlns='jabber:iq:roster'>
<item jid='z@x.example' subscription='both'/><item jid='é@x.example' subscription='from'/><item jid='a_b@x.example'/>
<item jid='a-b@x.example' name='dash'/><item jid='a.b@x.example' name='dot'><group>G</group><group>g</group><group>É</group></item>
<item jid='AB@x.example'/><item jid='x.example'/><item jid='a@x.example/res'/>
</query></user></host></server-data>`

// TestRoundTripBackends moves the same data SQLite -> PostgreSQL -> MySQL
// and back to SQLite: every export is the same bytes.
func TestRoundTripBackends(t *testing.T) {
	pg := testServer(t, "postgres")
	my := testServer(t, "mysql")
	stores := []struct {
		name string
		st   storage.Store
	}{
		{"sqlite", openSQLite(t)},
		{"postgres", openServer(t, "postgres", pg(t))},
		{"mysql", openServer(t, "mysql", my(t))},
		{"sqlite again", openSQLite(t)},
	}
	importFile(t, stores[0].st, "testdata/sample.xml", false)
	importFile(t, stores[0].st, writeTemp(t, "collation.xml", []byte(collationDump)), false)
	prev := export(t, stores[0].st)
	for _, s := range stores[1:] {
		importFile(t, s.st, writeTemp(t, "dump.xml", prev), false)
		got := export(t, s.st)
		if !bytes.Equal(got, prev) {
			t.Errorf("export from %s differs from the dump imported:\n--- imported\n%s\n--- exported\n%s", s.name, prev, got)
		}
		prev = got
	}
}

func openServer(t *testing.T, driver, dsn string) storage.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), driver, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", driver, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testServer gives a test throwaway databases on driver's server.
func testServer(t *testing.T, driver string) func(t testing.TB) string {
	t.Helper()
	return sqltest.Server(t, driver)
}

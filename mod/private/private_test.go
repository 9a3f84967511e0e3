package private_test

import (
	"fmt"
	"testing"

	"hearth/mod/internal/modtest"
	"hearth/mod/pep"
	"hearth/mod/private"
	"hearth/mod/roster"
	"hearth/storage/memstore"
)

func newEnv(t *testing.T, maxEntries int) *modtest.Env {
	t.Helper()
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, roster.Module, nil)
	env.Start(t, pep.Module, nil)
	env.Start(t, private.Module, func(cfg any) error {
		cfg.(*private.Config).MaxEntries = maxEntries
		return nil
	})
	env.Freeze(t)
	return env
}

func set(payload string) string {
	return "<iq xmlns='jabber:client' type='set' id='s' from='alice@example.com/a'><query xmlns='jabber:iq:private'>" + payload + "</query></iq>"
}

func get(payload string) string {
	return "<iq xmlns='jabber:client' type='get' id='g' from='alice@example.com/a'><query xmlns='jabber:iq:private'>" + payload + "</query></iq>"
}

func TestMaxEntries(t *testing.T) {
	env := newEnv(t, 2)
	for i := range 2 {
		env.IQ(t, set(fmt.Sprintf("<e xmlns='urn:e%d'/>", i))).WantResult(t, "")
	}
	// Replacing an existing element is fine; a third one is not.
	env.IQ(t, set("<e xmlns='urn:e0'><v>2</v></e>")).WantResult(t, "")
	env.IQ(t, set("<e xmlns='urn:e2'/>")).WantError(t, "wait", "resource-constraint")
	env.IQ(t, get("<e xmlns='urn:e0'/>")).WantResult(t, "<query xmlns='jabber:iq:private'><e xmlns='urn:e0'><v>2</v></e></query>")
	// Bookmarks do not count: they live in PEP.
	env.IQ(t, set("<storage xmlns='storage:bookmarks'><conference jid='r@muc.example.com' name='R'/></storage>")).WantResult(t, "")
	env.IQ(t, get("<storage xmlns='storage:bookmarks'/>")).WantResult(t,
		"<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='r@muc.example.com' name='R'/></storage></query>")
}

func TestRefusals(t *testing.T) {
	env := newEnv(t, 10)
	env.IQ(t, "<iq xmlns='jabber:client' type='get' id='g' from='bob@example.com/b' to='alice@example.com'><query xmlns='jabber:iq:private'><e xmlns='urn:e'/></query></iq>").
		WantError(t, "cancel", "forbidden")
	env.IQ(t, set("<query xmlns='jabber:iq:private'/>")).WantError(t, "modify", "not-acceptable")
	env.IQ(t, set("")).WantError(t, "modify", "not-acceptable")
	env.IQ(t, set("<storage xmlns='storage:bookmarks'><conference jid='not a jid@@'/></storage>")).WantError(t, "modify", "bad-request")
}

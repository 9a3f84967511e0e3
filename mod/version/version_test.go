package version_test

import (
	"runtime"
	"testing"

	"hearth/mod/internal/modtest"
	"hearth/mod/version"
	"hearth/storage/memstore"
)

const query = `<iq xmlns='jabber:client' type='get' id='v1' from='alice@example.com/a' to='example.com'><query xmlns='jabber:iq:version'/></iq>`

func TestVersion(t *testing.T) {
	version.Version = "1.2.3"
	t.Cleanup(func() { version.Version = "devel" })
	for _, tc := range []struct {
		name   string
		hideOS bool
		want   string
	}{
		{"default shows os", false, `<query xmlns='jabber:iq:version'><name>hearth</name><version>1.2.3</version><os>` + runtime.GOOS + `</os></query>`},
		{"hide_os", true, `<query xmlns='jabber:iq:version'><name>hearth</name><version>1.2.3</version></query>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := modtest.New(t, "example.com", memstore.New())
			var configure func(any) error // nil: the defaults
			if tc.hideOS {
				configure = func(cfg any) error {
					cfg.(*version.Config).HideOS = true
					return nil
				}
			}
			env.Start(t, version.Module, configure)
			env.Freeze(t)
			env.IQ(t, query).WantResult(t, tc.want)
		})
	}
}

func TestNotForAccounts(t *testing.T) {
	env := modtest.New(t, "example.com", memstore.New())
	env.Start(t, version.Module, nil)
	env.Freeze(t)
	// An account's software version is its clients' business: the router
	// forwards requests to full JIDs, and a bare JID gets no answer here.
	r := env.IQ(t, `<iq xmlns='jabber:client' type='get' id='v1' from='alice@example.com/a' to='bob@example.com'><query xmlns='jabber:iq:version'/></iq>`)
	if r.Handled {
		t.Fatalf("version request to an account was handled")
	}
}

package compliance_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"hearth/compliance"
	"hearth/xmpptest"
)

// hearthToday is what the self-test must report for hearth as it is: ✓
// (true) or ✗ (false) per check. When a feature lands, flip its row.
var hearthToday = map[string]bool{
	"tls":               true,
	"certificate":       false, // the test server's certificate is self-signed
	"sasl":              true,
	"bind":              true,
	"addresses":         true,
	"disco":             true,
	"caps":              true,
	"component":         true,
	"pep":               true,
	"direct-tls":        true,
	"web-discovery":     true,
	"web":               true,
	"roster":            true,
	"rosterver":         true,
	"vcard":             true,
	"pep-open":          true,
	"pep-private":       true,
	"bookmarks":         true,
	"carbons":           true,
	"blocking":          true,
	"muc":               true,
	"mam":               true,
	"muc-mam":           true,
	"upload":            true,
	"extdisco":          true,
	"sm":                true,
	"csi":               true,
	"push":              true,
	"avatar-conversion": true,
	"proxy65":           true,
	"private":           true,
	"register":          false,
	"contact":           true,
}

func TestHearth(t *testing.T) {
	t.Parallel()
	// The only setting the self-test needs: contact addresses (XEP-0157)
	// are the operator's to give.
	srv := xmpptest.NewServer(t, "[contact]\nabuse = [\"mailto:abuse@localhost\"]\n"+
		"[listen]\nc2s = [\"127.0.0.1:0\"]\nc2s_tls = [\"127.0.0.1:0\"]\nhttps = [\"127.0.0.1:0\"]\ncomponent = [\"127.0.0.1:0\"]\n"+
		"[components]\n\"gateway.localhost\" = \"a-long-component-secret\"\n"+
		"[proxy65]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\n"+
		// The built-in STUN/TURN server, as an operator enables it.
		"[turn]\nenabled = true\nudp = [\"127.0.0.1:0\"]\ntcp = [\"127.0.0.1:0\"]\ntls = [\"127.0.0.1:0\"]\n")
	user := srv.AddUser(t, "tester", "compliance-pw-1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := compliance.Run(ctx, compliance.Config{
		JID: user, Password: "compliance-pw-1",
		Addr: srv.C2S, DirectTLSAddr: srv.C2STLS,
		HTTPBase: "https://" + srv.HTTPS, ComponentAddr: srv.Addrs("component")[0],
		Insecure: true, Timeout: 5 * time.Second, Level: compliance.LevelAdvanced,
	})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("report:\n%s", table.String())
	if len(rep.Results) != len(hearthToday) {
		t.Errorf("%d checks, the expectation table has %d rows", len(rep.Results), len(hearthToday))
	}
	for _, res := range rep.Results {
		want, ok := hearthToday[res.ID]
		if !ok {
			t.Errorf("check %s is not in hearthToday", res.ID)
			continue
		}
		if res.Passed != want {
			t.Errorf("%s: passed=%v, want %v (%s)", res.ID, res.Passed, want, res.Detail)
		}
	}
	parsed, err := compliance.ParseTable(&table)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range hearthToday {
		if got, ok := parsed[id]; !ok || got != want {
			t.Errorf("table row %s: %v (present %v), want %v", id, got, ok, want)
		}
	}
	// Every required check passes (the certificate check is not required
	// with Insecure): what an operator of a default hearth with [turn]
	// enabled sees.
	if !rep.OK() {
		t.Errorf("OK() is false: a required check fails")
	}
}

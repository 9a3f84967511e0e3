package compliance_test

import (
	"bytes"
	"context"
	"net"
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
	"component":         false,
	"pep":               false,
	"direct-tls":        true,
	"web-discovery":     false,
	"web":               false,
	"roster":            true,
	"rosterver":         true,
	"vcard":             false,
	"pep-open":          false,
	"pep-private":       false,
	"bookmarks":         false,
	"carbons":           true,
	"blocking":          true,
	"muc":               false,
	"mam":               true,
	"muc-mam":           false,
	"upload":            false,
	"extdisco":          false,
	"sm":                true,
	"csi":               true,
	"push":              true,
	"avatar-conversion": false,
	"proxy65":           false,
	"private":           false,
	"register":          false,
	"contact":           true,
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHearth(t *testing.T) {
	t.Parallel()
	// The only setting the self-test needs: contact addresses (XEP-0157)
	// are the operator's to give.
	srv := xmpptest.NewServer(t, "[contact]\nabuse = [\"mailto:abuse@localhost\"]\n")
	user := srv.AddUser(t, "tester", "compliance-pw-1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := compliance.Run(ctx, compliance.Config{
		JID: user, Password: "compliance-pw-1",
		Addr: srv.C2S, DirectTLSAddr: srv.C2STLS,
		HTTPBase: "http://" + closedPort(t),
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
	if rep.OK() {
		t.Errorf("OK() with required checks failing")
	}
}

package server_test

import (
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// TestLoginRoundTrips times, over STARTTLS on loopback, the three ways
// to a session with stream management, counted in round trips after the
// TLS stream's features: (a) RFC 6120 SCRAM, restart, bind and <enable/>:
// 5; (b) SASL2 SCRAM with Bind 2 and inline <enable/>: 2; (c) FAST with
// inline resumption: 1 (the first answer to <authenticate/> is a
// <success/> holding <resumed/>, which the test requires).
func TestLoginRoundTrips(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "correct horse")
	const agent, mech = "agent-rtt", "HT-SHA-256-NONE"
	token, _ := requestToken(t, srv, "alice", "correct horse", agent, mech)

	// (a) SCRAM (2 round trips), restart, bind, enable: 5 round trips.
	start := time.Now()
	c, _ := dialSASL2(t, srv)
	if f := c.Auth("SCRAM-SHA-256", "alice", "correct horse"); f != nil {
		t.Fatal(f)
	}
	c.OpenStream()
	c.Bind("legacy")
	c.Send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	c.Expect("enabled", func(el *stanza.Element) bool { return el.Name.Local == "enabled" })
	legacy := time.Since(start)

	// (b) SCRAM in SASL2 with Bind 2: 2 round trips.
	start = time.Now()
	c, _ = dialSASL2(t, srv)
	res := authSCRAM2(t, c, "SCRAM-SHA-256", newSCRAM(t, "SCRAM-SHA-256", "alice", "correct horse").NewConversation(),
		userAgent(agent)+"<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>")
	wantSuccess(t, res.el)
	modern := time.Since(start)
	previd := res.el.Child(nsBind2, "bound").Child(nsSM, "enabled").Get("id")
	c.NetConn().Close()

	// (c) FAST with inline resumption: 1 round trip.
	start = time.Now()
	el, _ := fastLogin(t, srv, "alice", token, agent, mech, noCB, "",
		"<resume xmlns='urn:xmpp:sm:3' previd='"+previd+"' h='0'/>")
	wantSuccess(t, el)
	if el.Child(nsSM, "resumed") == nil {
		t.Fatalf("not resumed: %s", el)
	}
	fast := time.Since(start)
	t.Logf("wall time incl. TCP+STARTTLS: legacy login+bind+enable %v, SASL2+Bind2 %v, FAST+resume %v", legacy, modern, fast)
}

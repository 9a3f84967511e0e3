package server_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"hearth/module"
	"hearth/xmpptest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// notAdvertised lists the IQ namespaces that are handled but, by their
// specifications, not announced in disco#info.
var notAdvertised = map[module.Target][]string{
	module.AccountTarget: {
		"jabber:iq:roster",   // RFC 6121: the roster is core, never a disco feature
		"jabber:iq:register", // XEP-0077 password change/removal, advertised on the server
		// XEP-0060 §16.2: owner actions are announced by their pubsub#
		// features (config-node, purge-nodes, delete-nodes), not by namespace.
		"http://jabber.org/protocol/pubsub#owner",
		// XEP-0049 defines no disco feature: clients just try.
		"jabber:iq:private",
	},
}

// TestEveryHandledNamespaceIsAdvertised checks the registry of the default
// configuration: an IQ namespace a module handles is in the server's or the
// accounts' disco#info (or allow-listed above), and the feature list matches the
// golden file (go test ./server/ -run Advertised -update to accept a change).
func TestEveryHandledNamespaceIsAdvertised(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	reg := srv.Router().Host(srv.Domain).Registry()
	var golden strings.Builder
	// A namespace may be advertised on the server although its IQs go to
	// the user's own account (carbons, blocking: clients look for them in
	// the server's disco#info), so either list will do.
	advertised := append(slices.Clone(reg.Features(module.ServerTarget)), reg.Features(module.AccountTarget)...)
	for _, target := range []module.Target{module.ServerTarget, module.AccountTarget} {
		features := reg.Features(target)
		for _, k := range reg.IQKeys(target) {
			ns := k.Payload.Space
			if !slices.Contains(advertised, ns) && !slices.Contains(notAdvertised[target], ns) {
				t.Errorf("target %d: {%s}%s is handled but not advertised in disco#info", target, ns, k.Payload.Local)
			}
		}
		name := map[module.Target]string{module.ServerTarget: "server", module.AccountTarget: "account"}[target]
		for _, f := range features {
			fmt.Fprintf(&golden, "%s feature %s\n", name, f)
		}
	}
	for _, id := range reg.Identities() {
		fmt.Fprintf(&golden, "server identity %s/%s %q\n", id.Category, id.Type, id.Name)
	}
	const path = "testdata/disco-default.golden"
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if golden.String() != string(want) {
		t.Errorf("disco of the default configuration changed:\n got:\n%s\nwant:\n%s\n(run go test ./server/ -run Advertised -update if intended)", golden.String(), want)
	}
}

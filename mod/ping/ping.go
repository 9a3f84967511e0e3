// Package ping implements XEP-0199: XMPP Ping, answered by the server for
// itself and on behalf of its accounts (a ping to an account's bare JID).
package ping

import (
	"context"

	"hearth/module"
	"hearth/stanza"
)

// NS is the XEP-0199 namespace.
const NS = "urn:xmpp:ping"

// Module answers pings to the server and to every account's bare JID with
// an empty result. It has no settings.
var Module = module.New("ping", struct{}{}, start)

func start(h *module.Host, _ struct{}) error {
	for _, target := range []module.Target{module.ServerTarget, module.AccountTarget} {
		h.AddFeature(target, NS)
		h.HandleIQ(target, stanza.Get, module.Name(NS, "ping"), pong)
	}
	return nil
}

// pong answers a ping with an empty result (XEP-0199 §4.2, §4.3).
func pong(context.Context, module.IQRequest) (*stanza.Element, error) {
	return nil, nil
}

// Package time implements XEP-0202: Entity Time, for the server itself.
package time

import (
	"context"
	stdtime "time"

	"hearth/module"
	"hearth/stanza"
)

// NS is the XEP-0202 namespace.
const NS = "urn:xmpp:time"

// XEP-0082 profiles used in the reply: the UTC time to the second, and the
// zone offset always numeric (TZD allows "Z", but "+00:00" is easier on
// clients that parse it by hand).
const (
	utcLayout = "2006-01-02T15:04:05Z"
	tzoLayout = "-07:00"
)

// now is the clock; tests replace it.
var now = stdtime.Now

// Module answers entity time requests to the server with the server's
// local zone offset and the current time in UTC. It has no settings.
var Module = module.New("time", struct{}{}, start)

func start(h *module.Host, _ struct{}) error {
	h.AddFeature(module.ServerTarget, NS)
	h.HandleIQ(module.ServerTarget, stanza.Get, module.Name(NS, "time"), func(context.Context, module.IQRequest) (*stanza.Element, error) {
		t := now()
		return stanza.New(NS, "time").Append(
			stanza.New(NS, "tzo").AppendText(t.Format(tzoLayout)),
			stanza.New(NS, "utc").AppendText(t.UTC().Format(utcLayout)),
		), nil
	})
	return nil
}

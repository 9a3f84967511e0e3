// Package version implements XEP-0092: Software Version, for the server
// itself.
package version

import (
	"context"
	"runtime"

	"hearth/module"
	"hearth/stanza"
)

// NS is the XEP-0092 namespace.
const NS = "jabber:iq:version"

// Name is the software name the server reports.
const Name = "hearth"

// Version is the version the server reports. The main package sets it from
// the build information before the server starts; it must not change
// afterwards.
var Version = "devel"

// Config is the [version] section.
type Config struct {
	// HideOS leaves out the <os/> element, which otherwise names the
	// operating system the server runs on (runtime.GOOS). Some operators
	// consider it information an attacker should not get for free.
	HideOS bool `toml:"hide_os"`
}

// Module answers software version requests to the server.
var Module = module.New("version", Config{}, start).WithSection("version")

func start(h *module.Host, cfg Config) error {
	h.AddFeature(module.ServerTarget, NS)
	h.HandleIQ(module.ServerTarget, stanza.Get, module.Name(NS, "query"), func(context.Context, module.IQRequest) (*stanza.Element, error) {
		// Built per request: Version may be set after start, and an
		// Element must not be shared once handed to the router.
		q := stanza.New(NS, "query").Append(
			stanza.New(NS, "name").AppendText(Name),
			stanza.New(NS, "version").AppendText(Version),
		)
		if !cfg.HideOS {
			q.Append(stanza.New(NS, "os").AppendText(runtime.GOOS))
		}
		return q, nil
	})
	return nil
}

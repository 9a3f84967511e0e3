// Package module is the extension contract of hearth: what a feature (one
// XEP, usually) declares and registers, and nothing else. A module exports
// one Definition; mod/mods.go lists them all. Everything a module does goes
// through its *Host, which undoes it when the module stops.
package module

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// Definition describes a module: its name, the modules it needs, the config
// section it reads and how it starts on one virtual host.
type Definition struct {
	// Name identifies the module ("roster", "ping"); it is also the name of
	// its TOML section unless Section says otherwise.
	Name string
	// Section is the top-level TOML table the module decodes its settings
	// from (default: none, the module has no settings).
	Section string
	// Requires lists modules that must be loaded, and started, before this one.
	Requires []string

	defaults func() any
	start    func(h *Host, cfg any) error
}

// Decoder decodes a module's TOML section into v (a pointer to the module's
// config struct, pre-filled with its defaults). Unknown keys are reported by
// the caller after all sections are decoded.
type Decoder func(v any) error

// New returns the Definition of a module with config type C. defaults is the
// configuration used when the section is absent and the starting point the
// section is decoded onto. start registers everything the module does on h;
// an error stops the server from starting.
func New[C any](name string, defaults C, start func(h *Host, cfg C) error) *Definition {
	return &Definition{
		Name:     name,
		defaults: func() any { c := defaults; return &c },
		start: func(h *Host, cfg any) error {
			return start(h, *cfg.(*C))
		},
	}
}

// WithSection sets the config section name and returns d.
func (d *Definition) WithSection(section string) *Definition { d.Section = section; return d }

// WithRequires sets the required modules and returns d.
func (d *Definition) WithRequires(names ...string) *Definition { d.Requires = names; return d }

// DecodeConfig returns the module's configuration: its defaults, overlaid
// with the section when dec is not nil. The result is passed to Start.
func (d *Definition) DecodeConfig(dec Decoder) (any, error) {
	cfg := d.defaults()
	if dec != nil {
		if err := dec(cfg); err != nil {
			return nil, fmt.Errorf("[%s]: %w", d.Section, err)
		}
	}
	return cfg, nil
}

// Start runs the module's start function on h with cfg from DecodeConfig.
func (d *Definition) Start(h *Host, cfg any) error { return d.start(h, cfg) }

// IQRequest is an IQ get or set addressed to the server or to an account
// on it, as handed to an IQHandler.
type IQRequest struct {
	Stanza  *stanza.Element // the whole <iq/>
	Payload *stanza.Element // its single child
	From    jid.JID         // authenticated sender
	To      jid.JID         // the addressee: the domain or an account's bare JID (never empty)
	// Session is the sender's local session, or nil when the IQ came from
	// elsewhere (another server, a service).
	Session Session
}

// IQHandler answers one IQ request. It returns the payload of the result
// (nil for an empty result) or an error: a *stanza.Error is sent as is, any
// other error as internal-server-error (and logged). Exactly one reply is
// always sent: a handler cannot forget it.
type IQHandler func(ctx context.Context, req IQRequest) (*stanza.Element, error)

// IQKey identifies an IQ handler: the IQ type (get or set) and the
// qualified name of the payload element.
type IQKey struct {
	Type    string
	Payload xml.Name
}

// Target says which addressees an IQ handler serves.
type Target int

const (
	// ServerTarget handlers answer IQs addressed to the domain itself.
	ServerTarget Target = iota
	// AccountTarget handlers answer IQs addressed to the bare JID of a local
	// account (or with no 'to', on behalf of the sender's own account).
	AccountTarget
)

// Router is what a Host needs from the router. It is implemented by
// hearth/router; modules never see it directly.
type Router interface {
	// Route delivers st from the server's point of view, by the rules of
	// RFC 6120/6121 (local account, remote domain, service). st must carry
	// 'from' and 'to'.
	Route(ctx context.Context, st *stanza.Element) error
	// Sessions returns the bound sessions of the account bare (nil if none).
	Sessions(bare jid.JID) []Session
	// Session returns the bound session with the full JID full, or nil.
	Session(full jid.JID) Session
	// SendIQ sends iq (get or set, with 'to' and 'from' set) and waits for
	// the result or error reply; an error reply is returned as *stanza.Error.
	SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)
	// IsLocal reports whether domain is a virtual host served here.
	IsLocal(domain string) bool
	// IsService reports whether domain is a service domain served here
	// (Host.AddService).
	IsService(domain string) bool
}

// Logger returns the module's logger.
func (h *Host) Logger() *slog.Logger { return h.log }

// Store returns the storage backend, for modules that need Accounts.
func (h *Host) Store() storage.Store { return h.store }

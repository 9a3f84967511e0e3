package module

import "errors"

// ErrNeedsRestart is returned by a reload function for a change it cannot
// apply while running: one that would change what the module registered,
// which is fixed once the host has started.
var ErrNeedsRestart = errors.New("module: the change needs a restart")

// OnReload makes the module's settings changeable while the server runs.
// Call it from the start function, with C the module's configuration
// type. When the configuration is reloaded and the module's section
// decodes differently, fn is called with the new configuration instead of
// the change waiting for a restart. fn runs concurrently with the
// module's handlers, so what it changes must be safe for that, and it may
// not register anything. It returns ErrNeedsRestart (possibly wrapped)
// for changes it cannot apply, and must then leave the running settings
// as they were.
func OnReload[C any](h *Host, fn func(cfg C) error) {
	h.reload = func(cfg any) error { return fn(*cfg.(*C)) }
}

// Reload applies cfg, a configuration from Definition.DecodeConfig, to
// the module on this host through the function given to OnReload; without
// one it returns ErrNeedsRestart. The server calls it; modules do not.
func (h *Host) Reload(cfg any) error {
	if h.reload == nil {
		return ErrNeedsRestart
	}
	return h.reload(cfg)
}

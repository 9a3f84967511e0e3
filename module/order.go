package module

// hookOrder is the one place where the order of modules on each hook is
// decided. A module that registers a hook must appear in that hook's list
// (Registry.Validate fails otherwise), so no behaviour depends on the order
// in which modules happen to be listed or started.
var hookOrder = map[hookName][]string{
	// Session lifecycle: presence announces the session's departure before
	// anything else forgets about it.
	hookSessionBound:  {"presence"},
	hookSessionClosed: {"presence", "last"},
	// An undelivered message is offered to offline storage; the first hook
	// that takes it wins.
	hookUndelivered: {"offline"},
	// Presence processing is a single handler, listed for completeness.
	hookUserDeleted: {"presence", "roster", "last"},
}

type hookName string

const (
	hookSessionBound  hookName = "session-bound"
	hookSessionClosed hookName = "session-closed"
	hookUndelivered   hookName = "undelivered"
	hookUserDeleted   hookName = "user-deleted"
)

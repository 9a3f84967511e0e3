package module

// hookOrder is the one place where the order of modules on each hook is
// decided. A module that registers a hook must appear in that hook's list
// (Registry.Freeze fails otherwise), so no behaviour depends on the order
// in which modules happen to be listed or started.
var hookOrder = map[hookName][]string{
	// Session lifecycle: presence announces the session's departure before
	// anything else forgets about it. The roster cache holds an online
	// account's roster from before presence first reads it until after
	// presence's last read, and vcard's cache the avatar hash that
	// presence broadcasts carry.
	hookSessionBound:  {"roster", "vcard", "presence"},
	hookSessionClosed: {"presence", "last", "roster", "vcard"},
	// An undelivered message is offered to the hooks in turn until one
	// takes it: push only notifies the user's devices and never takes it,
	// so it comes before offline storage, which does.
	// mam comes last: a message no hook took is bounced by the router,
	// and leaves the archives again.
	hookUndelivered: {"push", "offline", "mam"},
	hookUserDeleted: {"presence", "roster", "last", "mam", "muc", "pep", "vcard"},
	// A password change: FAST tokens of the other clients go, and their
	// sessions end.
	hookPasswordChanged: {"fast"},
	// Stanzas from local sessions: blocking refuses before anything is
	// archived; the archive stamps before carbons copy. PEP only watches
	// the presence that passed (its owner's capabilities); vcard adds the
	// avatar hash to it.
	hookInbound: {"blocking", "mam", "carbons", "pep", "vcard"},
	// Messages to local accounts: blocking drops before archiving; the
	// archive adds <stanza-id/> before anyone sees the message. A
	// subscription request with an invitation token (XEP-0379) is
	// pre-approved only if blocking let it through. PEP watches
	// contacts' presence that blocking let through.
	hookDeliver: {"blocking", "invite", "mam", "pep"},
	// Push notifies devices that got a message only into a queue (a
	// hibernating or inactive session) after carbons made its copies.
	hookDelivered: {"carbons", "push"},
	// Initial presence: stored messages are delivered first, then push
	// registrations learn that the device is back.
	hookSessionAvailable: {"offline", "push"},
}

type hookName string

const (
	hookSessionBound    hookName = "session-bound"
	hookSessionClosed   hookName = "session-closed"
	hookUndelivered     hookName = "undelivered"
	hookUserDeleted     hookName = "user-deleted"
	hookPasswordChanged hookName = "password-changed"

	hookInbound          hookName = "inbound"
	hookDeliver          hookName = "deliver"
	hookDelivered        hookName = "delivered"
	hookSessionAvailable hookName = "session-available"
)

// Package mod lists hearth's modules. The order of All is the order in
// which modules start on each host; a module's Requires must come before
// it, and disco comes last so that every feature is registered.
package mod

import (
	"hearth/mod/adhoc"
	"hearth/mod/admin"
	"hearth/mod/blocking"
	"hearth/mod/carbons"
	"hearth/mod/disco"
	"hearth/mod/extdisco"
	"hearth/mod/fast"
	"hearth/mod/invite"
	"hearth/mod/last"
	"hearth/mod/mam"
	"hearth/mod/muc"
	"hearth/mod/offline"
	"hearth/mod/pep"
	"hearth/mod/ping"
	"hearth/mod/presence"
	"hearth/mod/private"
	"hearth/mod/proxy65"
	"hearth/mod/push"
	"hearth/mod/register"
	"hearth/mod/roster"
	xmpptime "hearth/mod/time"
	"hearth/mod/upload"
	"hearth/mod/vcard"
	"hearth/mod/version"
	"hearth/module"
)

// All returns the default module list, in start order.
func All() []*module.Definition {
	return []*module.Definition{
		roster.Module,
		presence.Module,
		invite.Module, // after roster, which it requires; before register, which uses it
		register.Module,
		ping.Module,
		version.Module,
		xmpptime.Module,
		last.Module,
		offline.Module,
		blocking.Module, // after roster, which it requires
		carbons.Module,
		mam.Module, // after roster, which it requires
		push.Module,
		fast.Module,
		upload.Module,
		extdisco.Module, // STUN/TURN for calls, from [turn] and [extdisco]
		muc.Module,
		proxy65.Module, // XEP-0065, off unless [proxy65] enabled
		pep.Module,     // after roster, which it requires
		pep.ServiceModule,
		vcard.Module,
		private.Module, // after pep, which it requires
		admin.Module,   // XEP-0133 commands
		adhoc.Module,   // executes the commands of the modules above
		disco.Module,   // last: it answers from every other module's registrations
	}
}

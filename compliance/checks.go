package compliance

import (
	"context"
	"slices"
)

// Categories of XEP-0479 §2, and the Conversations compliance tester.
const (
	Core          = "Core"
	IM            = "IM"
	Mobile        = "Mobile"
	Web           = "Web"
	Conversations = "Conversations"
)

// Requirement is one cell of XEP-0479's tables: the check is required of
// a server in Category from Level on.
type Requirement struct {
	Category string
	Level    Level
}

// Check is one row of the report.
type Check struct {
	// ID names the check in tests and scripts; it never changes.
	ID string
	// Spec is the specification tested ("XEP-0198", "RFC 6120 §6").
	Spec string
	// Name says what is tested, in a few words.
	Name string
	// Requirements lists where XEP-0479 requires the feature of a server.
	Requirements []Requirement
	// Conversations marks what the Conversations compliance tester checks;
	// it is required at the advanced level.
	Conversations bool
	// Informational checks are reported but never required.
	Informational bool
	// Fix says what an operator does when the check fails.
	Fix string

	probe func(ctx context.Context, p *prober) (detail string, err error)
}

// requiredAt reports whether the check counts at level l.
func (c Check) requiredAt(l Level) bool {
	if c.Informational {
		return false
	}
	if c.Conversations && l >= LevelAdvanced {
		return true
	}
	return slices.ContainsFunc(c.Requirements, func(r Requirement) bool { return r.Level <= l })
}

// Categories returns the categories that require the check, with "+" for
// those only at the advanced level ("Core IM+ Conversations").
func (c Check) Categories() []string {
	var out []string
	for _, r := range c.Requirements {
		name := r.Category
		if r.Level == LevelAdvanced {
			name += "+"
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if c.Conversations {
		out = append(out, Conversations)
	}
	return out
}

func req(category string, l Level) Requirement { return Requirement{category, l} }

// Checks returns the checks in the order they run and are printed: the
// core protocol first, then each category of XEP-0479, then what only
// the Conversations tester looks at and informational checks. Probes
// share a session, so the order matters only for output.
func Checks() []Check {
	core, adv := LevelCore, LevelAdvanced
	return []Check{
		{ID: "tls", Spec: "RFC 7590", Name: "TLS 1.2 or later with an AEAD cipher", Requirements: []Requirement{req(Core, core)},
			Fix: "allow only TLS 1.2 and 1.3 with modern (AEAD) cipher suites", probe: probeTLS},
		{ID: "certificate", Spec: "RFC 6125", Name: "certificate valid for the domain", Requirements: []Requirement{req(Core, core)},
			Fix: "install a certificate from a public CA that names the domain (e.g. Let's Encrypt), with its full chain", probe: probeCertificate},
		{ID: "sasl", Spec: "RFC 6120 §6", Name: "SASL with SCRAM-SHA-1 (mandatory to implement)", Requirements: []Requirement{req(Core, core)},
			Fix: "offer SCRAM-SHA-1 (and SCRAM-SHA-256) over TLS", probe: probeSASL},
		{ID: "bind", Spec: "RFC 6120 §7", Name: "resource binding", Requirements: []Requirement{req(Core, core)},
			Fix: "the server must bind a resource the client asks for", probe: probeBind},
		{ID: "addresses", Spec: "RFC 7622", Name: "JIDs are compared after normalisation", Requirements: []Requirement{req(Core, core)},
			Fix: "apply PRECIS/IDNA normalisation to the localpart and domain of addresses", probe: probeAddresses},
		{ID: "disco", Spec: "XEP-0030", Name: "service discovery (info and items)", Requirements: []Requirement{req(Core, core)},
			Fix: "answer disco#info with a server/im identity and disco#items on the domain", probe: probeDisco},
		{ID: "caps", Spec: "XEP-0115", Name: "entity capabilities in stream features", Requirements: []Requirement{req(Core, core)}, Conversations: true,
			Fix: "advertise the server's capabilities hash (<c xmlns='http://jabber.org/protocol/caps'/>) in stream features", probe: probeCaps},
		{ID: "component", Spec: "XEP-0114", Name: "external components", Requirements: []Requirement{req(Core, core)},
			Fix: "enable the component port, and pass its address with --component HOST:PORT to check it", probe: probeComponent},
		{ID: "pep", Spec: "XEP-0163", Name: "PEP: publish and retrieve an item", Requirements: []Requirement{req(Core, core)}, Conversations: true,
			Fix: "enable PEP (personal eventing via pubsub on account JIDs)", probe: probePEP},
		{ID: "direct-tls", Spec: "XEP-0368", Name: "direct TLS client port", Requirements: []Requirement{req(Core, adv)}, Conversations: true,
			Fix: "open a direct TLS port (ALPN xmpp-client) and publish an _xmpps-client._tcp SRV record (or pass --tls-server HOST:PORT)", probe: probeDirectTLS},

		{ID: "web-discovery", Spec: "XEP-0156", Name: "web connection methods in host-meta", Requirements: []Requirement{req(Web, core)},
			Fix: "serve /.well-known/host-meta (and host-meta.json) listing the BOSH and WebSocket endpoints", probe: probeWebDiscovery},
		{ID: "web", Spec: "RFC 7395/XEP-0206", Name: "WebSocket or BOSH endpoint", Requirements: []Requirement{req(Web, core)},
			Fix: "enable XMPP over WebSocket (RFC 7395) or BOSH (XEP-0206)", probe: probeWeb},

		{ID: "roster", Spec: "RFC 6121", Name: "roster retrieval", Requirements: []Requirement{req(IM, core)},
			Fix: "the server must answer roster gets (RFC 6121 §2.2)", probe: probeRoster},
		{ID: "rosterver", Spec: "RFC 6121 §2.6", Name: "roster versioning", Conversations: true,
			Fix: "advertise <ver xmlns='urn:xmpp:features:rosterver'/> and answer roster gets with a version", probe: probeRosterVer},
		{ID: "vcard", Spec: "XEP-0054", Name: "vcard-temp (vCard-based avatars)", Requirements: []Requirement{req(IM, core)},
			Fix: "enable vcard-temp storage for accounts", probe: probeVCard},
		{ID: "pep-open", Spec: "XEP-0084/XEP-0384", Name: "PEP node with open access (avatars, OMEMO)", Requirements: []Requirement{req(IM, core)}, Conversations: true,
			Fix: "PEP must support publish-options with pubsub#access_model=open", probe: probePEPOpen},
		{ID: "pep-private", Spec: "XEP-0223", Name: "private PEP storage with publish-options", Requirements: []Requirement{req(IM, core)}, Conversations: true,
			Fix: "PEP must support publish-options (persist_items, access_model=whitelist) and advertise pubsub#publish-options", probe: probePEPPrivate},
		{ID: "bookmarks", Spec: "XEP-0402", Name: "bookmarks node with max_items=max", Requirements: []Requirement{req(IM, core)}, Conversations: true,
			Fix: "PEP must accept pubsub#max_items=max (pubsub#config-node-max)", probe: probeBookmarks},
		{ID: "carbons", Spec: "XEP-0280", Name: "message carbons", Requirements: []Requirement{req(IM, core)}, Conversations: true,
			Fix: "enable message carbons", probe: probeCarbons},
		{ID: "blocking", Spec: "XEP-0191", Name: "blocking command", Requirements: []Requirement{req(IM, core)}, Conversations: true,
			Fix: "enable the blocking command", probe: probeBlocking},
		{ID: "muc", Spec: "XEP-0045", Name: "group chat service: join a room", Requirements: []Requirement{req(IM, core)}, Conversations: true,
			Fix: "run a MUC service on a subdomain (conference.DOMAIN) listed in the domain's disco#items", probe: probeMUC},
		{ID: "mam", Spec: "XEP-0313", Name: "message archive: query", Requirements: []Requirement{req(IM, adv)}, Conversations: true,
			Fix: "enable message archive management (urn:xmpp:mam:2) for accounts", probe: probeMAM},
		{ID: "muc-mam", Spec: "XEP-0313", Name: "group chat archive", Requirements: []Requirement{req(IM, adv)},
			Fix: "enable message archive management for MUC rooms", probe: probeMUCMAM},
		{ID: "upload", Spec: "XEP-0363", Name: "HTTP file upload: slot, PUT and GET", Requirements: []Requirement{req(IM, adv)}, Conversations: true,
			Fix: "run an HTTP upload service (urn:xmpp:http:upload:0) listed in the domain's disco#items, reachable over HTTPS", probe: probeUpload},
		{ID: "extdisco", Spec: "XEP-0215", Name: "STUN/TURN discovery (A/V calls)", Requirements: []Requirement{req(IM, adv)}, Conversations: true,
			Fix: "offer a TURN server with credentials over external service discovery (urn:xmpp:extdisco:2); in hearth: [turn] enabled = true", probe: probeExtDisco},

		{ID: "sm", Spec: "XEP-0198", Name: "stream management with resumption", Requirements: []Requirement{req(Mobile, core)}, Conversations: true,
			Fix: "enable stream management with resumption (urn:xmpp:sm:3)", probe: probeSM},
		{ID: "csi", Spec: "XEP-0352", Name: "client state indication", Requirements: []Requirement{req(Mobile, core)}, Conversations: true,
			Fix: "enable client state indication (urn:xmpp:csi:0)", probe: probeCSI},
		{ID: "push", Spec: "XEP-0357", Name: "push notifications: enable and disable", Requirements: []Requirement{req(Mobile, adv)}, Conversations: true,
			Fix: "enable push notifications (urn:xmpp:push:0)", probe: probePush},

		{ID: "avatar-conversion", Spec: "XEP-0398", Name: "avatar to vCard conversion", Conversations: true,
			Fix: "convert PEP avatars to vCard avatars and advertise urn:xmpp:pep-vcard-conversion:0", probe: probeAvatarConversion},
		{ID: "proxy65", Spec: "XEP-0065", Name: "SOCKS5 bytestreams proxy", Informational: true,
			Fix: "run a SOCKS5 proxy service (proxy/bytestreams) for file transfer between clients", probe: probeProxy65},
		{ID: "private", Spec: "XEP-0049", Name: "private XML storage (legacy bookmarks)", Informational: true,
			Fix: "enable private XML storage for clients that still use it", probe: probePrivate},
		{ID: "register", Spec: "XEP-0077", Name: "in-band registration offered", Informational: true,
			Fix: "allow in-band registration only if you want strangers to create accounts", probe: probeRegister},
		{ID: "contact", Spec: "XEP-0157", Name: "contact addresses (abuse, admin)", Informational: true,
			Fix: "publish contact addresses (at least abuse-addresses) in the server's disco#info", probe: probeContact},
	}
}

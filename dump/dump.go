// Package dump reads and writes XEP-0227 server dumps: the portable
// import/export format of XMPP server user data (version 1.1, namespace
// urn:xmpp:pie:0), and reads the file storage of Prosody.
//
// A dump is <server-data/> holding one <host/> per virtual host and one
// <user/> per account. hearth stores no plaintext passwords, so it exports
// each account's credentials as <scram-credentials/> (XEP-0227 §4.3), one
// per SCRAM hash; it imports those, or derives them from a 'password'
// attribute written by other servers.
//
// Everything else a <user/> holds is a Section's: the roster (with pending
// inbound subscription requests as <presence type='subscribe'/>, XEP-0227
// §4.9) and hearth's own extension carrying the Maps that no XEP-0227
// element describes, vCards, private XML, PEP nodes, offline messages and
// the message archive (XEP-0227 §4.7, §4.8, §4.10, §4.5, §4.11): see
// Sections.
//
// Export output is deterministic: hosts, users and roster items are sorted
// bytewise, whatever order or collation the backend uses, so that a dump
// exported, imported into another store and exported again is
// byte-identical.
package dump

import (
	"context"
	"encoding/xml"
	"slices"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces of XEP-0227 and of hearth's extension.
const (
	// NS qualifies <server-data/>, <host/> and <user/>.
	NS = "urn:xmpp:pie:0"
	// NSSCRAM qualifies <scram-credentials/> (XEP-0227 §4.3).
	NSSCRAM = "urn:xmpp:pie:0#scram"
	// NSMAM qualifies the <archive/> of a user's message archive (§4.11).
	NSMAM = "urn:xmpp:pie:0#mam"
	// NSHearth qualifies hearth's extension elements, which other servers
	// ignore (XEP-0227 §4 allows elements of other namespaces anywhere).
	NSHearth = "urn:x-hearth:dump:0"
	// NSXInclude is the namespace of <include/> (XEP-0227 §5).
	NSXInclude = "http://www.w3.org/2001/XInclude"
)

// User is one <user/> of a dump.
type User struct {
	Host string // the 'jid' of the enclosing <host/>
	Name string // the localpart, as written in the dump
	// Password is the 'password' attribute: plaintext, written by other
	// servers only. Import derives SCRAM credentials from it.
	Password string
	// Credentials are the <scram-credentials/> read; a hash without an
	// element is the zero SCRAMKey.
	Credentials sasl.Credentials
	// Data are the other children of <user/>, in document order.
	Data []*stanza.Element
	// Skipped names data the reader found and could not convert (such as
	// a Prosody store hearth cannot import yet); Import reports it.
	Skipped []string
}

// Section exports and imports one kind of per-user data, as children of
// <user/>. Export and Import are called for one user at a time, never
// concurrently for the same store.
type Section struct {
	// Name names the section in reports ("roster").
	Name string
	// Elements are the names of the <user/> children Import takes.
	Elements []xml.Name
	// Export returns the elements holding user's data, in the order they
	// are to be written (deterministically), or none.
	Export func(ctx context.Context, st storage.Store, user jid.JID) ([]*stanza.Element, error)
	// Import stores the data of els, the children of <user/> whose names
	// are in Elements, in document order, for an account that has just
	// been created (it has no data of this section).
	Import func(ctx context.Context, st storage.Store, user jid.JID, els []*stanza.Element) error
}

// takes reports whether s imports elements named name.
func (s *Section) takes(name xml.Name) bool { return slices.Contains(s.Elements, name) }

// Sections returns the sections hearth exports and imports, in the order
// they are written in a <user/>. A new module that stores per-user data
// adds its section here, in the form XEP-0227 gives its data if it has
// one. Rooms of MUC services are not accounts' data and are not in
// dumps. Private
// storage comes before PEP: XEP-0048 bookmarks it converts are replaced
// by the PEP section's when a dump has both.
func Sections() []Section {
	return []Section{
		RosterSection(),
		VCardSection(),
		PrivateSection(),
		PEPSection(),
		OfflineSection(),
		MAMSection(),
		// COMPAT: hearth only. The last unavailable presence (answer to
		// probes) and last logout time have no XEP-0227 form; carrying them
		// makes hearth-to-hearth moves lossless.
		MapSection("presence"),
		MapSection("last"),
	}
}

package dump

import (
	"encoding/xml"

	"hearth/mod/pep"
	"hearth/mod/private"
	"hearth/mod/vcard"
)

// VCardSection returns the section of vCards (XEP-0227), read and
// written by hearth/mod/vcard.
func VCardSection() Section {
	return Section{
		Name:     vcard.MapName,
		Elements: []xml.Name{{Space: vcard.NS, Local: "vCard"}},
		Export:   vcard.Export,
		Import:   vcard.Import,
	}
}

// PrivateSection returns the section of private XML storage (XEP-0227),
// read and written by hearth/mod/private. XEP-0048 bookmarks in
// another server's dump become the XEP-0402 PEP node hearth keeps them in.
func PrivateSection() Section {
	return Section{
		Name:     private.MapName,
		Elements: []xml.Name{{Space: private.NS, Local: "query"}},
		Export:   private.Export,
		Import:   private.Import,
	}
}

// PEPSection returns the section of PEP nodes (XEP-0227: a <pubsub/>
// of node configurations in the owner namespace, then one of items), read
// and written by hearth/mod/pep. Publication times are not in the form:
// imported items are published at import time, in their order.
func PEPSection() Section {
	return Section{
		Name:     pep.NodesMapName,
		Elements: []xml.Name{{Space: pep.NSOwner, Local: "pubsub"}, {Space: pep.NS, Local: "pubsub"}},
		Export:   pep.Export,
		Import:   pep.Import,
	}
}

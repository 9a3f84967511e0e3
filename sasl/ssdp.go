package sasl

import (
	"encoding/base64"
	"slices"
	"strings"
)

// Advertisement is what the server offered before authentication: the
// SASL mechanisms of the profile in use and the XEP-0440 channel binding
// types. SCRAM signs it into the exchange for XEP-0474 downgrade protection.
type Advertisement struct {
	Mechanisms []string
	// ChannelBindings are the types advertised with XEP-0440; CBAdvertised
	// says whether the <sasl-channel-binding/> feature was sent at all.
	ChannelBindings []string
	CBAdvertised    bool
}

// ssdpHash is the XEP-0474 "h" attribute value for a: the sorted mechanism
// names joined by U+001E, then, when channel bindings were advertised,
// U+001F and the sorted binding types joined by U+001E; hashed with the
// SCRAM mechanism's hash and base64 encoded.
func (h *hashSpec) ssdpHash(a *Advertisement) string {
	mechs := slices.Clone(a.Mechanisms)
	slices.Sort(mechs) // byte order: the i;octet collation
	s := strings.Join(mechs, "\x1e")
	if a.CBAdvertised {
		cbs := slices.Clone(a.ChannelBindings)
		slices.Sort(cbs)
		s += "\x1f" + strings.Join(cbs, "\x1e")
	}
	return base64.StdEncoding.EncodeToString(h.sum([]byte(s)))
}

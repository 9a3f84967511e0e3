package disco

import (
	"fmt"
	"net/url"
	"slices"

	"hearth/stanza"
)

// NSServerInfo is the FORM_TYPE of the XEP-0157 contact addresses form.
const NSServerInfo = "http://jabber.org/network/serverinfo"

// Config is the [contact] section: the XEP-0157 contact addresses of the
// server, each a list of URIs (mailto:, xmpp:, https:, ...). Nothing is
// advertised when all are empty.
type Config struct {
	Abuse    []string `toml:"abuse"`
	Admin    []string `toml:"admin"`
	Feedback []string `toml:"feedback"`
	Sales    []string `toml:"sales"`
	Security []string `toml:"security"`
	Support  []string `toml:"support"`
}

// form returns the XEP-0157 form for the configured addresses, nil when
// there are none, or an error naming the first address that is not an
// absolute URI.
func (c Config) form() (*stanza.Form, error) {
	f := &stanza.Form{
		Type:   stanza.FormResult,
		Fields: []stanza.Field{{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NSServerInfo}}},
	}
	// The field order of XEP-0157 §5 (alphabetical).
	for _, kv := range []struct {
		key  string
		uris []string
	}{
		{"abuse", c.Abuse}, {"admin", c.Admin}, {"feedback", c.Feedback},
		{"sales", c.Sales}, {"security", c.Security}, {"support", c.Support},
	} {
		if len(kv.uris) == 0 {
			continue
		}
		for _, u := range kv.uris {
			if p, err := url.Parse(u); err != nil || p.Scheme == "" {
				return nil, fmt.Errorf("[contact] %s: %q is not an absolute URI (e.g. mailto:admin@example.com, xmpp:admin@example.com)", kv.key, u)
			}
		}
		f.Fields = append(f.Fields, stanza.Field{Var: kv.key + "-addresses", Type: stanza.FieldListMulti, Values: slices.Clone(kv.uris)})
	}
	if len(f.Fields) == 1 {
		return nil, nil
	}
	return f, nil
}

package dump

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// MapSection returns a section that copies user's entries of the Map name
// verbatim, as hearth's extension element
//
//	<map xmlns='urn:x-hearth:dump:0' name='NAME'><entry key='KEY'>base64 value</entry>...</map>
//
// for data that only hearth reads and that no XEP-0227 element describes.
// Entries are in bytewise order of their keys.
func MapSection(name string) Section {
	return Section{
		Name:     name,
		Elements: []xml.Name{{Space: NSHearth, Local: "map"}},
		Export: func(ctx context.Context, st storage.Store, user jid.JID) ([]*stanza.Element, error) {
			entries, err := st.Map(name).All(ctx, user.String())
			if err != nil || len(entries) == 0 {
				return nil, err
			}
			slices.SortFunc(entries, func(a, b storage.Entry) int { return strings.Compare(a.Key, b.Key) })
			m := stanza.New(NSHearth, "map", "name", name)
			for _, e := range entries {
				m.Append(stanza.New(NSHearth, "entry", "key", e.Key).AppendText(base64.StdEncoding.EncodeToString(e.Value)))
			}
			return []*stanza.Element{m}, nil
		},
		Import: func(ctx context.Context, st storage.Store, user jid.JID, els []*stanza.Element) error {
			for _, m := range els {
				if m.Get("name") != name {
					continue
				}
				for _, e := range m.Elements() {
					if e.Name != (xml.Name{Space: NSHearth, Local: "entry"}) {
						continue
					}
					v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(e.Text()))
					if err != nil {
						return fmt.Errorf("map %s, key %q: %w", name, e.Get("key"), err)
					}
					if err := st.Map(name).Set(ctx, user.String(), e.Get("key"), v); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

package vcard

import (
	"context"
	"errors"
	"strings"

	"hearth/jid"
	"hearth/stanza"
	"hearth/storage"
)

// Export returns owner's vCard (XEP-0227: a <vCard xmlns='vcard-temp'/>
// child of <user/>), or nothing. It reads st directly (hearth/dump).
func Export(ctx context.Context, st storage.Store, owner jid.JID) ([]*stanza.Element, error) {
	b, err := st.Map(MapName).Get(ctx, owner.Bare().String(), vcardKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	el, err := stanza.NewDecoder(strings.NewReader(string(b)), stanza.Limits{}).Next()
	if err != nil {
		return nil, err
	}
	return []*stanza.Element{el}, nil
}

// Import stores the last <vCard/> of els as owner's vCard.
func Import(ctx context.Context, st storage.Store, owner jid.JID, els []*stanza.Element) error {
	if len(els) == 0 {
		return nil
	}
	card := els[len(els)-1].Copy()
	card.Attr = nil
	m := st.Map(MapName)
	o := owner.Bare().String()
	if err := m.Set(ctx, o, vcardKey, []byte(card.String())); err != nil {
		return err
	}
	if hash := photoHash(card); hash != "" {
		return m.Set(ctx, o, photoKey, []byte(hash))
	}
	return nil
}

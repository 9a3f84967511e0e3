package vcard

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"hearth/jid"
	"hearth/mod/pep"
	"hearth/stanza"
)

// XEP-0084 nodes and the XEP-0398 feature.
const (
	NSAvatarData     = "urn:xmpp:avatar:data"
	NSAvatarMetadata = "urn:xmpp:avatar:metadata"
	// NSConversion is advertised on accounts: the vCard photo and the PEP
	// avatar are kept the same (XEP-0398).
	NSConversion = "urn:xmpp:pep-vcard-conversion:0"
)

// avatar is an account's current avatar.
type avatar struct {
	ID, Type string // hex SHA-1 of the image, MIME type
	Data     string // base64, "" when the data item is missing
}

// pepAvatar returns owner's current XEP-0084 avatar: the first <info/> of
// the newest metadata item, with its data when the data node has it. ok is
// false when there is no metadata at all; an empty ID means the user
// disabled the avatar (XEP-0084 §4.2).
func (v *vcards) pepAvatar(ctx context.Context, owner jid.JID) (a avatar, ok bool, err error) {
	a, ok, err = v.pepAvatarInfo(ctx, owner)
	if err != nil || a.ID == "" {
		return a, ok, err
	}
	data, err := pep.Items(ctx, v.h, owner, NSAvatarData)
	if err != nil {
		return avatar{}, false, err
	}
	for _, it := range data {
		if it.ID == a.ID && it.Payload != nil {
			a.Data = strings.Join(strings.Fields(it.Payload.Text()), "")
		}
	}
	return a, true, nil
}

// pepAvatarInfo is pepAvatar without the data: what presence needs.
func (v *vcards) pepAvatarInfo(ctx context.Context, owner jid.JID) (a avatar, ok bool, err error) {
	meta, err := pep.Items(ctx, v.h, owner, NSAvatarMetadata)
	if err != nil || len(meta) == 0 {
		return avatar{}, false, err
	}
	m := meta[len(meta)-1].Payload
	if m == nil || m.Name.Space != NSAvatarMetadata {
		return avatar{}, false, nil
	}
	info := m.Child(NSAvatarMetadata, "info")
	if info == nil {
		return avatar{}, true, nil
	}
	return avatar{ID: info.Get("id"), Type: info.Get("type")}, true, nil
}

// withPEPAvatar returns card with its PHOTO replaced by the PEP avatar a
// when they differ (XEP-0398 §3: a vCard reader sees the PEP avatar).
func withPEPAvatar(card *stanza.Element, a avatar) *stanza.Element {
	if a.ID == "" || a.Data == "" || photoHash(card) == a.ID {
		return card
	}
	out := card.Copy()
	kept := out.Children[:0:0]
	for _, c := range out.Children {
		if el, ok := c.(*stanza.Element); ok && el.Name.Space == NS && el.Name.Local == "PHOTO" {
			continue
		}
		kept = append(kept, c)
	}
	out.Children = kept
	photo := stanza.New(NS, "PHOTO")
	if a.Type != "" {
		photo.Append(stanza.New(NS, "TYPE").AppendText(a.Type))
	}
	return out.Append(photo.Append(stanza.New(NS, "BINVAL").AppendText(a.Data)))
}

// publishPhoto publishes the vCard's photo as owner's XEP-0084 avatar,
// data then metadata, unless it is the current one (XEP-0398 §4).
func (v *vcards) publishPhoto(ctx context.Context, owner jid.JID, card *stanza.Element) error {
	photo := card.Child(NS, "PHOTO")
	if photo == nil {
		return nil
	}
	b64 := strings.Join(strings.Fields(photo.ChildText(NS, "BINVAL")), "")
	img, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(img) == 0 {
		return nil
	}
	sum := sha1.Sum(img)
	id := hex.EncodeToString(sum[:])
	if cur, ok, err := v.pepAvatarInfo(ctx, owner); err != nil || ok && cur.ID == id {
		return err
	}
	typ := photo.ChildText(NS, "TYPE")
	if typ == "" {
		typ = "image/png"
	}
	if err := pep.Publish(ctx, v.h, owner, NSAvatarData, id, stanza.New(NSAvatarData, "data").AppendText(b64)); err != nil {
		return err
	}
	info := stanza.New(NSAvatarMetadata, "info", "id", id, "bytes", strconv.Itoa(len(img)), "type", typ)
	return pep.Publish(ctx, v.h, owner, NSAvatarMetadata, id, stanza.New(NSAvatarMetadata, "metadata").Append(info))
}

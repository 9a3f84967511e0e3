// Package vcard implements XEP-0054: vcard-temp, each account's vCard kept
// by the server and readable by anyone, with XEP-0153: vCard-Based Avatars
// on the server side: the hash of the account's avatar is put in its
// broadcast presence when the client does not say it itself; and XEP-0398:
// User Avatar to vCard-Based Avatars Conversion: a vCard photo set is
// published as the XEP-0084 PEP avatar (hearth/mod/pep), and the PEP
// avatar, when there is one, is the photo vCard readers get and the hash
// presence carries.
//
// vCards are kept in the Map named MapName: the owner is the account's
// bare JID; under the key vcardKey the <vCard/> as XML, under photoKey the
// hex SHA-1 of its photo (absent when it has none), so that presence does
// not decode the vCard.
package vcard

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"

	"hearth/jid"
	"hearth/mod/internal/online"
	"hearth/mod/pep"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces.
const (
	// NS is the vcard-temp namespace and disco feature (XEP-0054).
	NS = "vcard-temp"
	// NSUpdate is the XEP-0153 presence extension.
	NSUpdate = "vcard-temp:x:update"
)

// Storage names.
const (
	MapName  = "vcard"
	vcardKey = "vcard"
	photoKey = "photo"
)

// Config is the [vcard] section.
type Config struct {
	// MaxSize bounds a stored vCard, as encoded XML, in bytes (default
	// 131072); a larger one is refused with <not-acceptable/>.
	MaxSize int `toml:"max_size"`
}

// DefaultMaxSize is the default of Config.MaxSize.
const DefaultMaxSize = 128 << 10

// Module serves vCards on every account and puts their photo hash in
// presence.
var Module = module.New("vcard", Config{MaxSize: DefaultMaxSize}, start).WithSection("vcard").WithRequires("pep")

func start(h *module.Host, cfg Config) error {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	v := &vcards{h: h, cfg: cfg, m: h.Map(MapName), hashes: online.New[photoState](h)}
	// The avatar hash of an online account is read once per login: a new
	// PEP avatar (published by the client, or by set below) or vCard
	// photo replaces it.
	if err := pep.OnChange(h, NSAvatarMetadata, func(_ context.Context, owner jid.JID, _ string) {
		v.hashes.Invalidate(owner.Bare())
	}); err != nil {
		return err
	}
	// XEP-0054 §2: clients look for vcard-temp in their server's disco#info.
	h.AddFeature(module.ServerTarget, NS)
	h.AddFeature(module.AccountTarget, NSConversion)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "vCard"), v.get)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "vCard"), v.set)
	h.OnInbound(v.inbound)
	return nil
}

type vcards struct {
	h      *module.Host
	cfg    Config
	m      storage.Map
	hashes *online.Cache[photoState] // currentHash of online accounts
}

// photoState is what currentHash returns.
type photoState struct {
	hash string
	ok   bool
}

// get returns the account's vCard to anyone (XEP-0054 §3.1), an empty one
// when none was stored.
func (v *vcards) get(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	card := stanza.New(NS, "vCard")
	b, err := v.m.Get(ctx, req.To.String(), vcardKey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if card, err = stanza.NewDecoder(strings.NewReader(string(b)), stanza.Limits{}).Next(); err != nil {
			return nil, err
		}
	}
	a, ok, err := v.pepAvatar(ctx, req.To)
	if err != nil {
		return nil, err
	}
	if ok {
		card = withPEPAvatar(card, a)
	}
	return card, nil
}

// set replaces the account's vCard; only the account may (XEP-0054 §3.2).
// An empty <vCard/> is stored as it is.
func (v *vcards) set(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if req.From.Bare() != req.To {
		return nil, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only the account owner may change its vCard"}
	}
	card := req.Payload.Copy()
	card.Attr = nil // no xml:lang or stray attributes kept
	xml := card.String()
	if len(xml) > v.cfg.MaxSize {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "vCard too large"}
	}
	owner := req.To.String()
	defer v.hashes.Invalidate(req.To.Bare())
	if err := v.m.Set(ctx, owner, vcardKey, []byte(xml)); err != nil {
		return nil, err
	}
	if hash := photoHash(card); hash != "" {
		if err := v.m.Set(ctx, owner, photoKey, []byte(hash)); err != nil {
			return nil, err
		}
	} else if err := v.m.Delete(ctx, owner, photoKey); err != nil {
		return nil, err
	}
	return nil, v.publishPhoto(ctx, req.To, card)
}

// photoHash returns the hex SHA-1 of the vCard's embedded photo
// (PHOTO/BINVAL, XEP-0153 §3.1), or "" when it has none or it is not base64.
func photoHash(card *stanza.Element) string {
	photo := card.Child(NS, "PHOTO")
	if photo == nil {
		return ""
	}
	val := strings.Join(strings.Fields(photo.ChildText(NS, "BINVAL")), "")
	if val == "" {
		return ""
	}
	data, err := base64.StdEncoding.DecodeString(val)
	if err != nil {
		return ""
	}
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

// inbound puts the stored photo hash in the broadcast presence of the
// account's sessions unless the client gave one (XEP-0153 §4.1: a client
// that has not fetched its vCard yet sends <x/> without <photo/>, and
// many send nothing at all).
func (v *vcards) inbound(ctx context.Context, st *stanza.Element, from, _ jid.JID) (*stanza.Element, error) {
	if st.Name.Local != "presence" || st.Get("to") != "" || st.Get("type") != "" {
		return st, nil
	}
	if x := st.Child(NSUpdate, "x"); x != nil && x.Child(NSUpdate, "photo") != nil {
		return st, nil
	}
	hash, ok, err := v.currentHash(ctx, from.Bare())
	if err != nil {
		v.h.Logger().Error("reading the avatar hash failed", "err", err)
		return st, nil
	}
	if !ok {
		return st, nil
	}
	out := st.Copy()
	kept := out.Children[:0:0]
	for _, c := range out.Children {
		if el, ok := c.(*stanza.Element); ok && el.Name.Space == NSUpdate {
			continue
		}
		kept = append(kept, c)
	}
	out.Children = kept
	out.Append(stanza.New(NSUpdate, "x").Append(stanza.New(NSUpdate, "photo").AppendText(hash)))
	return out, nil
}

// currentHash returns the hash of owner's avatar for presence: the PEP
// avatar's when there is PEP metadata ("" when it disables the avatar,
// XEP-0153 §4.3's "no avatar"), else the vCard photo's. ok is false when
// neither exists.
func (v *vcards) currentHash(ctx context.Context, owner jid.JID) (string, bool, error) {
	p, err := v.hashes.Get(owner, func() (photoState, error) {
		hash, ok, err := v.loadHash(ctx, owner)
		return photoState{hash, ok}, err
	})
	return p.hash, p.ok, err
}

func (v *vcards) loadHash(ctx context.Context, owner jid.JID) (string, bool, error) {
	a, ok, err := v.pepAvatarInfo(ctx, owner)
	if err != nil || ok {
		return a.ID, ok, err
	}
	b, err := v.m.Get(ctx, owner.String(), photoKey)
	if errors.Is(err, storage.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

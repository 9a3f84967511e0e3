package compliance

import (
	"context"
	"fmt"
	"strings"

	"hearth/jid"
	"hearth/stanza"
)

const (
	nsPubSub            = "http://jabber.org/protocol/pubsub"
	nsPubSubOwner       = "http://jabber.org/protocol/pubsub#owner"
	nsPublishOptions    = "http://jabber.org/protocol/pubsub#publish-options"
	nsPEPVCard          = "urn:xmpp:pep-vcard-conversion:0"
	nsComplianceScratch = "urn:xmpp:hearth:compliance:0"
)

// publishScratch publishes one item to a scratch PEP node of the account
// with the given publish-options (XEP-0060 §7.1.5; none when opts is
// empty), reads it back and deletes the node. The node name is unique to
// the run so that it cannot touch the account's data.
func (p *prober) publishScratch(ctx context.Context, purpose string, opts map[string]string, keys ...string) (string, error) {
	node := nsComplianceScratch + ":" + purpose + ":" + randomToken(4)
	itemID := "probe"
	payload := stanza.New(nsComplianceScratch, "probe").AppendText(randomToken(8))
	pub := stanza.New(nsPubSub, "pubsub").Append(
		stanza.New(nsPubSub, "publish", "node", node).Append(
			stanza.New(nsPubSub, "item", "id", itemID).Append(payload)))
	if len(opts) > 0 {
		form := &stanza.Form{Type: "submit", Fields: []stanza.Field{
			{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{nsPublishOptions}},
		}}
		for _, k := range keys {
			form.Fields = append(form.Fields, stanza.Field{Var: k, Values: []string{opts[k]}})
		}
		pub.Append(stanza.New(nsPubSub, "publish-options").Append(form.Element()))
	}
	if _, err := p.iq(ctx, p.s, stanza.Set, jid.JID{}, pub); err != nil {
		return "", errorf("publishing to a scratch node%s: %v", optionsText(opts, keys), err)
	}
	defer p.deleteNode(ctx, node)
	res, err := p.iq(ctx, p.s, stanza.Get, jid.JID{}, stanza.New(nsPubSub, "pubsub").Append(
		stanza.New(nsPubSub, "items", "node", node).Append(stanza.New(nsPubSub, "item", "id", itemID))))
	if err != nil {
		return "", errorf("retrieving the published item: %v", err)
	}
	var got string
	if it := path(res, nsPubSub, "pubsub", "items", "item"); it != nil {
		got = it.ChildText(nsComplianceScratch, "probe")
	}
	if got != payload.Text() {
		return "", errorf("the item read back is not the one published")
	}
	return "published, read back and deleted a node" + optionsText(opts, keys), nil
}

// deleteNode removes a scratch node (XEP-0060 §8.4); failures are
// ignored: there is nothing more the probe can do.
func (p *prober) deleteNode(ctx context.Context, node string) {
	p.iq(context.WithoutCancel(ctx), p.s, stanza.Set, jid.JID{},
		stanza.New(nsPubSubOwner, "pubsub").Append(stanza.New(nsPubSubOwner, "delete", "node", node)))
}

func optionsText(opts map[string]string, keys []string) string {
	if len(opts) == 0 {
		return ""
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, strings.TrimPrefix(k, "pubsub#")+"="+opts[k])
	}
	return " with " + strings.Join(parts, ", ")
}

// requirePEP checks the account's PEP identity (XEP-0163 §4).
func (p *prober) requirePEP(ctx context.Context) error {
	d, err := p.account(ctx)
	if err != nil {
		return err
	}
	if !d.hasIdentity("pubsub", "pep") {
		return errorf("%s has no pubsub/pep identity", p.cfg.JID)
	}
	return nil
}

func probePEP(ctx context.Context, p *prober) (string, error) {
	if err := p.requirePEP(ctx); err != nil {
		return "", err
	}
	return p.publishScratch(ctx, "pep", nil)
}

func probePEPOpen(ctx context.Context, p *prober) (string, error) {
	if err := p.requirePEP(ctx); err != nil {
		return "", err
	}
	return p.publishScratch(ctx, "open", map[string]string{"pubsub#access_model": "open"}, "pubsub#access_model")
}

func probePEPPrivate(ctx context.Context, p *prober) (string, error) {
	if err := p.requirePEP(ctx); err != nil {
		return "", err
	}
	d, _ := p.account(ctx)
	if !d.has(nsPublishOptions) {
		return "", errNotFeature(p.cfg.JID, nsPublishOptions)
	}
	return p.publishScratch(ctx, "private", map[string]string{
		"pubsub#persist_items": "true",
		"pubsub#access_model":  "whitelist",
	}, "pubsub#persist_items", "pubsub#access_model")
}

func probeBookmarks(ctx context.Context, p *prober) (string, error) {
	if err := p.requirePEP(ctx); err != nil {
		return "", err
	}
	return p.publishScratch(ctx, "bookmarks", map[string]string{
		"pubsub#persist_items":            "true",
		"pubsub#max_items":                "max",
		"pubsub#send_last_published_item": "never",
		"pubsub#access_model":             "whitelist",
	}, "pubsub#persist_items", "pubsub#max_items", "pubsub#send_last_published_item", "pubsub#access_model")
}

func probeAvatarConversion(ctx context.Context, p *prober) (string, error) {
	d, err := p.account(ctx)
	if err != nil {
		return "", err
	}
	if !d.has(nsPEPVCard) {
		return "", errNotFeature(p.cfg.JID, nsPEPVCard)
	}
	return fmt.Sprintf("%s advertises %s", p.cfg.JID, nsPEPVCard), nil
}

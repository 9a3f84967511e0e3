// Package pep implements XEP-0163: Personal Eventing Protocol, the subset
// of XEP-0060: Publish-Subscribe that every account's bare JID serves. It
// is what OMEMO (XEP-0384) device lists and bundles, user avatars
// (XEP-0084), bookmarks (XEP-0402) and profiles ride on.
//
// An account's nodes are created on first publish (auto-create) or
// explicitly, configured with XEP-0060 publish-options or the owner's
// configure form, and read by whoever the node's access model admits
// (open, presence, roster, whitelist). Notifications go to the owner's
// available resources and to the contacts subscribed to the owner's
// presence, each only for the nodes its XEP-0115 entity capabilities
// list with "+notify" (XEP-0163 §4.3: filtered notifications). The
// capabilities of unknown verification strings are asked for once with
// disco#info and the answer verified (XEP-0115 §5.4) before it is cached.
//
// The same engine serves a standalone XEP-0060 service when configured
// (ServiceModule, service.go): nodes owned by the host's users, explicit
// subscriptions.
//
// Storage: node configurations in the Map NodesMapName and the items of
// each node, in publication order, in the Map ItemsMapName; in both the
// owner is the account's bare JID and the key the node name. Deleting an
// account deletes both (storage.Store.DeleteOwner); what is kept in memory
// (presence of contacts, capabilities) is dropped by the user-deleted hook.
package pep

import (
	"sync"
	"time"

	"hearth/module"
	"hearth/stanza"
)

// Namespaces of XEP-0060.
const (
	NS               = "http://jabber.org/protocol/pubsub"
	NSEvent          = NS + "#event"
	NSOwner          = NS + "#owner"
	NSErrors         = NS + "#errors"
	NSPublishOptions = NS + "#publish-options"
	NSNodeConfig     = NS + "#node_config"
	// NSCaps is the XEP-0115 entity capabilities namespace.
	NSCaps = "http://jabber.org/protocol/caps"
	// NSDiscoInfo is the XEP-0030 disco#info namespace.
	NSDiscoInfo = "http://jabber.org/protocol/disco#info"
	// NSDiscoItems is the XEP-0030 disco#items namespace.
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	// NSDelay is the XEP-0203 delayed delivery namespace, on last items.
	NSDelay = "urn:xmpp:delay"
)

// Storage names.
const (
	// NodesMapName is the Map of node configurations (JSON).
	NodesMapName = "pep.nodes"
	// ItemsMapName is the Map of the items of each node (JSON list,
	// oldest first).
	ItemsMapName = "pep.items"
)

// Config is the [pep] section.
type Config struct {
	// MaxItems is the largest pubsub#max_items a node may have, and the
	// value "max" stands for (default 256, at least 1).
	MaxItems int `toml:"max_items"`
	// MaxNodes bounds the nodes of one account (default 256); creating one
	// more fails with <resource-constraint/> (0 or less: no limit).
	MaxNodes int `toml:"max_nodes"`
	// MaxPayloadBytes bounds the size of one published item, as encoded
	// XML (default 131072); a larger one fails with <not-acceptable/> and
	// <payload-too-big/>.
	MaxPayloadBytes int `toml:"max_payload_bytes"`
	// MaxNameLength bounds node names and item ids in bytes (default 255,
	// at most 1023).
	MaxNameLength int `toml:"max_name_length"`
	// CapsCacheSize is the number of XEP-0115 verification strings whose
	// features are kept in memory (default 10000, at least 1).
	CapsCacheSize int `toml:"caps_cache_size"`
	// CapsQueryTimeout is how long, in seconds, a disco#info query about
	// unknown capabilities may take (default 30).
	CapsQueryTimeout int `toml:"caps_query_timeout"`
	// CapsRetry is how long, in seconds, a verification string whose query
	// failed (no answer, error) is not asked for again (default 600). One
	// whose answer did not match its hash is never asked for again.
	CapsRetry int `toml:"caps_retry"`
	// MaxContactResources bounds the available resources of contacts whose
	// capabilities are tracked per account (default 1000).
	MaxContactResources int `toml:"max_contact_resources"`
}

// Defaults of Config.
const (
	DefaultMaxItems            = 256
	DefaultMaxNodes            = 256
	DefaultMaxPayloadBytes     = 128 << 10
	DefaultMaxNameLength       = 255
	DefaultCapsCacheSize       = 10000
	DefaultCapsQueryTimeout    = 30
	DefaultCapsRetry           = 600
	DefaultMaxContactResources = 1000

	// maxNameLength is what a Map key holds.
	maxNameLength = 1023
)

// Module serves PEP on every account's bare JID.
var Module = module.New("pep", Config{
	MaxItems:            DefaultMaxItems,
	MaxNodes:            DefaultMaxNodes,
	MaxPayloadBytes:     DefaultMaxPayloadBytes,
	MaxNameLength:       DefaultMaxNameLength,
	CapsCacheSize:       DefaultCapsCacheSize,
	CapsQueryTimeout:    DefaultCapsQueryTimeout,
	CapsRetry:           DefaultCapsRetry,
	MaxContactResources: DefaultMaxContactResources,
}, start).WithSection("pep").WithRequires("roster")

// features are the disco#info features of every account: exactly what
// this package implements.
var features = []string{
	NS,
	NS + "#access-open",
	NS + "#access-presence",
	NS + "#access-roster",
	NS + "#access-whitelist",
	NS + "#auto-create",
	NS + "#auto-subscribe",
	NS + "#config-node",
	NS + "#create-and-configure",
	NS + "#create-nodes",
	NS + "#delete-nodes",
	NS + "#filtered-notifications",
	NS + "#item-ids",
	NS + "#last-published",
	NS + "#persistent-items",
	NS + "#publish",
	NS + "#publish-options",
	NS + "#purge-nodes",
	NS + "#retract-items",
	NS + "#retrieve-default",
	NS + "#retrieve-items",
}

func start(h *module.Host, cfg Config) error {
	cfg.normalize()
	p := &service{h: h, cfg: cfg, interest: newInterest(cfg.MaxContactResources),
		store: store{nodes: h.Map(NodesMapName), items: h.Map(ItemsMapName)}}
	p.caps = newResolver(h, cfg, p.capsResolved)
	register(h, p)
	h.AddFeature(module.AccountTarget, features...)
	h.SetAccountNodes(p, module.Identity{Category: "pubsub", Type: "pep"})
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "pubsub"), p.set)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NS, "pubsub"), p.get)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NSOwner, "pubsub"), p.ownerSet)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NSOwner, "pubsub"), p.ownerGet)
	h.OnInbound(p.inbound)
	h.OnDeliver(p.deliver)
	h.OnUserDeleted(p.userDeleted)
	return nil
}

func (c *Config) normalize() {
	c.MaxItems = max(c.MaxItems, 1)
	if c.MaxNameLength <= 0 || c.MaxNameLength > maxNameLength {
		c.MaxNameLength = min(max(c.MaxNameLength, DefaultMaxNameLength), maxNameLength)
	}
	c.CapsCacheSize = max(c.CapsCacheSize, 1)
	if c.CapsQueryTimeout <= 0 {
		c.CapsQueryTimeout = DefaultCapsQueryTimeout
	}
	if c.CapsRetry <= 0 {
		c.CapsRetry = DefaultCapsRetry
	}
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// service is the module on one virtual host.
type service struct {
	h        *module.Host
	cfg      Config
	store    store
	caps     *resolver
	interest *interest

	hooksMu sync.Mutex // a leaf
	hooks   map[string][]ChangeHook
}

package pep

import (
	"context"
	"slices"
	"strings"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// ServiceConfig is the [pubsub] section: a standalone XEP-0060 service at
// a subdomain of each virtual host, with the engine of PEP.
type ServiceConfig struct {
	// Subdomain names the service's domain, Subdomain + "." + host
	// ("pubsub" gives pubsub.example.org). Empty (the default): no service.
	Subdomain string `toml:"subdomain"`
	// MaxSubscriptions bounds the subscriptions of one node (default 1000);
	// one more is refused with <not-allowed/> and <too-many-subscriptions/>.
	MaxSubscriptions int `toml:"max_subscriptions"`
	// MaxNodes bounds the nodes of the service (default 10000); creating
	// one more fails with <resource-constraint/>.
	MaxNodes int `toml:"max_nodes"`
}

// Defaults of ServiceConfig.
const (
	DefaultMaxSubscriptions = 1000
	DefaultServiceMaxNodes  = 10000
)

// ServiceModule serves a standalone publish-subscribe service (XEP-0060)
// when [pubsub] subdomain is set. Nodes are created by the host's users,
// who own them; they publish, retract, purge, configure and delete. Anyone
// the access model admits (open by default) retrieves items and
// subscribes; subscribers get every notification, present or not. Nodes
// are stored like PEP nodes, the owner being the service's domain. It
// shares the limits of the [pep] section's defaults.
var ServiceModule = module.New("pubsub", ServiceConfig{MaxSubscriptions: DefaultMaxSubscriptions, MaxNodes: DefaultServiceMaxNodes}, startService).
	WithSection("pubsub").WithRequires("roster")

// serviceFeatures are the disco#info features of the service.
var serviceFeatures = []string{
	NS,
	NS + "#access-open",
	NS + "#access-presence",
	NS + "#access-roster",
	NS + "#access-whitelist",
	NS + "#auto-create",
	NS + "#config-node",
	NS + "#create-and-configure",
	NS + "#create-nodes",
	NS + "#delete-nodes",
	NS + "#item-ids",
	NS + "#last-published",
	NS + "#persistent-items",
	NS + "#publish",
	NS + "#publish-options",
	NS + "#purge-nodes",
	NS + "#retract-items",
	NS + "#retrieve-default",
	NS + "#retrieve-items",
	NS + "#retrieve-subscriptions",
	NS + "#subscribe",
	NSDiscoInfo,
	NSDiscoItems,
}

func startService(h *module.Host, cfg ServiceConfig) error {
	if cfg.Subdomain == "" {
		return nil
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if cfg.MaxNodes <= 0 {
		cfg.MaxNodes = DefaultServiceMaxNodes
	}
	pc := Config{
		MaxItems: DefaultMaxItems, MaxNodes: cfg.MaxNodes, MaxPayloadBytes: DefaultMaxPayloadBytes, MaxNameLength: DefaultMaxNameLength,
		CapsCacheSize: 1, CapsQueryTimeout: DefaultCapsQueryTimeout, CapsRetry: DefaultCapsRetry,
	}
	p := &service{h: h, cfg: pc, interest: newInterest(0),
		store: store{nodes: h.Map(NodesMapName), items: h.Map(ItemsMapName)}}
	p.caps = newResolver(h, pc, func(context.Context, waiter, caps, map[string]bool) {})
	domain := cfg.Subdomain + "." + h.Domain()
	d, err := jid.New("", domain, "")
	if err != nil {
		return err
	}
	s := &standalone{p: p, domain: d, maxSubs: cfg.MaxSubscriptions}
	h.AddService(domain, "Publish-Subscribe", s.handle)
	return nil
}

// standalone is the service on one virtual host.
type standalone struct {
	p       *service
	domain  jid.JID
	maxSubs int
}

// handle answers the IQs addressed to the service; other stanzas are
// ignored (a message gets service-unavailable).
func (s *standalone) handle(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	typ := st.Get("type")
	if st.Name.Local != "iq" || typ != stanza.Get && typ != stanza.Set {
		if st.Name.Local == "message" && typ != stanza.ErrorType {
			s.reply(ctx, stanza.ErrorReply(st, stanza.NewError("service-unavailable")))
		}
		return
	}
	var res *stanza.Element
	var err error
	if to != s.domain || len(st.Elements()) != 1 {
		err = stanza.NewError("service-unavailable")
	} else {
		res, err = s.iq(ctx, typ, st.FirstElement(), from)
	}
	if err != nil {
		se, ok := err.(*stanza.Error)
		if !ok {
			s.p.h.Logger().Error("pubsub service request failed", "err", err)
			se = stanza.NewError("internal-server-error")
		}
		s.reply(ctx, stanza.ErrorReply(st, se))
		return
	}
	s.reply(ctx, stanza.ResultReply(st, res))
}

func (s *standalone) reply(ctx context.Context, r *stanza.Element) {
	if r.Get("from") == "" {
		r.Set("from", s.domain.String())
	}
	if err := s.p.h.Route(ctx, r); err != nil {
		s.p.h.Logger().Debug("routing a pubsub service reply failed", "err", err)
	}
}

func (s *standalone) iq(ctx context.Context, typ string, payload *stanza.Element, from jid.JID) (*stanza.Element, error) {
	switch payload.Name {
	case module.Name(NSDiscoInfo, "query"):
		if typ == stanza.Get {
			return s.info(ctx, payload, from)
		}
	case module.Name(NSDiscoItems, "query"):
		if typ == stanza.Get {
			return s.items(ctx, payload, from)
		}
	case module.Name(NS, "pubsub"):
		if typ == stanza.Get {
			return s.get(ctx, payload, from)
		}
		return s.set(ctx, payload, from)
	case module.Name(NSOwner, "pubsub"):
		return s.owner(ctx, typ, payload, from)
	}
	return nil, stanza.NewError("service-unavailable")
}

// info answers disco#info of the service (XEP-0060 §5.1) or of a node (§5.3).
func (s *standalone) info(ctx context.Context, q *stanza.Element, from jid.JID) (*stanza.Element, error) {
	if node := q.Get("node"); node != "" {
		children, err := s.p.NodeInfo(ctx, s.domain, from, node)
		if err != nil {
			return nil, err
		}
		out := stanza.New(NSDiscoInfo, "query", "node", node)
		for _, c := range children {
			out.Append(c)
		}
		return out, nil
	}
	out := stanza.New(NSDiscoInfo, "query").Append(stanza.New(NSDiscoInfo, "identity", "category", "pubsub", "type", "service", "name", "Publish-Subscribe"))
	for _, f := range serviceFeatures {
		out.Append(stanza.New(NSDiscoInfo, "feature", "var", f))
	}
	return out, nil
}

// items answers disco#items: the nodes from may read (§5.2) or a node's
// items (§5.5).
func (s *standalone) items(ctx context.Context, q *stanza.Element, from jid.JID) (*stanza.Element, error) {
	node := q.Get("node")
	children, err := s.p.Items(ctx, s.domain, from, node)
	if err != nil {
		return nil, err
	}
	out := stanza.New(NSDiscoItems, "query").Set("node", node)
	for _, c := range children {
		out.Append(c)
	}
	return out, nil
}

// isOwner reports whether from owns the node of configuration cfg.
func isOwner(cfg nodeConfig, from jid.JID) bool {
	return slices.Contains(cfg.Owners, from.Bare().String())
}

// defaults is the configuration of a node from creates: open access
// (XEP-0060 §4.5's usual default), ten items, from its owner.
func (s *standalone) defaults(from jid.JID) nodeConfig {
	c := defaultConfig()
	c.Access, c.MaxItems, c.Owners = accessOpen, 10, []string{from.Bare().String()}
	return c
}

// mayCreate: the users of the host create nodes.
func (s *standalone) mayCreate(from jid.JID) error {
	if from.Local() == "" || from.Domain() != s.p.h.Domain() {
		return &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only users of " + s.p.h.Domain() + " create nodes"}
	}
	return nil
}

// ownerOf returns nil when from owns node, item-not-found when there is no
// such node, forbidden otherwise; exists tells which.
func (s *standalone) ownerOf(ctx context.Context, node string, from jid.JID) (exists bool, err error) {
	cfg, exists, err := s.p.store.node(ctx, s.domain, node)
	if err != nil || !exists {
		return exists, err
	}
	if !isOwner(cfg, from) {
		return true, &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only the node's owners may do this"}
	}
	return true, nil
}

func (s *standalone) set(ctx context.Context, ps *stanza.Element, from jid.JID) (*stanza.Element, error) {
	action, extra, err := splitActions(ps)
	if err != nil {
		return nil, err
	}
	node := action.Get("node")
	switch action.Name.Local {
	case "publish":
		exists, err := s.ownerOf(ctx, node, from)
		if err != nil {
			return nil, err
		}
		if !exists {
			if err := s.mayCreate(from); err != nil {
				return nil, err
			}
		}
		return s.p.publish(ctx, s.domain, action, extra, s.defaults(from))
	case "retract":
		if exists, err := s.ownerOf(ctx, node, from); err != nil || !exists {
			if err == nil {
				err = itemNotFound("no such node")
			}
			return nil, err
		}
		return nil, s.p.retract(ctx, s.domain, action)
	case "create":
		if err := s.mayCreate(from); err != nil {
			return nil, err
		}
		return nil, s.p.create(ctx, s.domain, action, extra, s.defaults(from))
	case "subscribe":
		return s.subscribe(ctx, action, from)
	case "unsubscribe":
		return nil, s.unsubscribe(ctx, action, from)
	case "options":
		return nil, unsupported("subscription-options")
	}
	return nil, badRequest("unknown pubsub action " + action.Name.Local)
}

func (s *standalone) get(ctx context.Context, ps *stanza.Element, from jid.JID) (*stanza.Element, error) {
	action, _, err := splitActions(ps)
	if err != nil {
		return nil, err
	}
	switch action.Name.Local {
	case "items":
		return s.p.get(ctx, module.IQRequest{Payload: ps, From: from, To: s.domain})
	case "subscriptions":
		return s.subscriptions(ctx, action, from)
	case "affiliations":
		return nil, unsupported("retrieve-affiliations")
	case "options":
		return nil, unsupported("subscription-options")
	}
	return nil, badRequest("unknown pubsub request " + action.Name.Local)
}

func (s *standalone) owner(ctx context.Context, typ string, ps *stanza.Element, from jid.JID) (*stanza.Element, error) {
	action, err := ownerAction(ps)
	if err != nil {
		return nil, err
	}
	if action.Name.Local == "default" && typ == stanza.Get {
		return stanza.New(NSOwner, "pubsub").Append(
			stanza.New(NSOwner, "default").Append(s.defaults(from).fullForm(s.p.cfg.MaxItems).Element())), nil
	}
	if exists, err := s.ownerOf(ctx, action.Get("node"), from); err != nil || !exists {
		if err == nil {
			err = itemNotFound("no such node")
		}
		return nil, err
	}
	// The owner stands for the account: the PEP owner handlers apply.
	req := module.IQRequest{Payload: ps, From: s.domain, To: s.domain}
	if typ == stanza.Get {
		return s.p.ownerGet(ctx, req)
	}
	return s.p.ownerSet(ctx, req)
}

// subscribe implements XEP-0060 §6.1: from subscribes its own JID (bare
// or full) when the access model admits it; the last item follows unless
// the node says never.
func (s *standalone) subscribe(ctx context.Context, el *stanza.Element, from jid.JID) (*stanza.Element, error) {
	node := el.Get("node")
	if node == "" {
		return nil, pubsubError("bad-request", "nodeid-required", "")
	}
	sub, err := jid.Parse(el.Get("jid"))
	if err != nil || sub.Bare() != from.Bare() {
		return nil, pubsubError("bad-request", "invalid-jid", "")
	}
	unlock := lock(s.domain)
	cfg, exists, err := s.p.store.node(ctx, s.domain, node)
	if err == nil && !exists {
		err = itemNotFound("no such node")
	}
	if err == nil {
		err = s.p.mayRead(ctx, s.domain, from, cfg)
	}
	if err == nil && !slices.Contains(cfg.Subscriptions, sub.String()) {
		if len(cfg.Subscriptions) >= s.maxSubs {
			err = pubsubError("not-allowed", "too-many-subscriptions", "")
		} else {
			cfg.Subscriptions = append(slices.Clone(cfg.Subscriptions), sub.String())
			err = s.p.store.setNode(ctx, s.domain, node, cfg)
		}
	}
	unlock()
	if err != nil {
		return nil, err
	}
	if cfg.SendLast != sendNever {
		if items, err := s.p.store.itemsOf(ctx, s.domain, node); err == nil && len(items) > 0 {
			if x, err := items[len(items)-1].element(); err == nil {
				ev := stanza.New(NSEvent, "event").Append(stanza.New(NSEvent, "items", "node", node).Append(eventItem(x)))
				s.p.send(ctx, s.domain, sub, ev)
			}
		}
	}
	return stanza.New(NS, "pubsub").Append(stanza.New(NS, "subscription", "node", node, "jid", sub.String(), "subscription", "subscribed")), nil
}

// unsubscribe implements XEP-0060 §6.2.
func (s *standalone) unsubscribe(ctx context.Context, el *stanza.Element, from jid.JID) error {
	node := el.Get("node")
	if node == "" {
		return pubsubError("bad-request", "nodeid-required", "")
	}
	sub, err := jid.Parse(el.Get("jid"))
	if err != nil || sub.Bare() != from.Bare() {
		return pubsubError("bad-request", "invalid-jid", "")
	}
	defer lock(s.domain)()
	cfg, exists, err := s.p.store.node(ctx, s.domain, node)
	if err != nil {
		return err
	}
	if !exists {
		return itemNotFound("no such node")
	}
	i := slices.Index(cfg.Subscriptions, sub.String())
	if i < 0 {
		return pubsubError("unexpected-request", "not-subscribed", "")
	}
	cfg.Subscriptions = slices.Delete(slices.Clone(cfg.Subscriptions), i, i+1)
	return s.p.store.setNode(ctx, s.domain, node, cfg)
}

// subscriptions lists from's subscriptions (XEP-0060 §5.6), of one node or all.
func (s *standalone) subscriptions(ctx context.Context, el *stanza.Element, from jid.JID) (*stanza.Element, error) {
	nodes, err := s.p.store.all(ctx, s.domain)
	if err != nil {
		return nil, err
	}
	out := stanza.New(NS, "subscriptions")
	for _, n := range nodes {
		if node := el.Get("node"); node != "" && node != n.Name {
			continue
		}
		for _, sub := range n.Config.Subscriptions {
			if sub == from.Bare().String() || strings.HasPrefix(sub, from.Bare().String()+"/") {
				out.Append(stanza.New(NS, "subscription", "node", n.Name, "jid", sub, "subscription", "subscribed"))
			}
		}
	}
	return stanza.New(NS, "pubsub").Append(out), nil
}

// Package push implements XEP-0357: Push Notifications (urn:xmpp:push:0).
// A client enables notifications for its account by naming an XMPP Push
// Service (the app server's JID and a pubsub node, plus optional publish
// options such as a secret); from then on, every message worth a
// notification that is not delivered live — the account has no available
// session, or the message only reached sessions hibernating for XEP-0198
// resumption — is summarised (urn:xmpp:push:summary) and published to each
// enabled service from the account's bare JID.
//
// Registrations belong to the account, as the XEP's enable request goes to
// the bare JID and survives the session that sent it; the enabling session
// is recorded too, so that the phone that registered is notified when only
// it missed a message (its session hibernates while another is live).
//
// Storage: the Map named MapName, owner = the account's bare JID, key =
// the service JID, "\n", the node (see registrationKey), value = JSON of
// registration.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces used by the module.
const (
	// NS is the XEP-0357 namespace and the account's disco#info feature.
	NS = "urn:xmpp:push:0"
	// NSSummary is the FORM_TYPE of the notification's summary form.
	NSSummary = "urn:xmpp:push:summary"
	// NSPubSub is the XEP-0060 namespace of the publish request.
	NSPubSub = "http://jabber.org/protocol/pubsub"
	// NSPublishOptions is the FORM_TYPE of the publish options a client
	// may give when enabling (XEP-0357 §5, XEP-0060 §7.1.5).
	NSPublishOptions = "http://jabber.org/protocol/pubsub#publish-options"
)

// MapName is the Map holding the registrations.
const MapName = "push"

// maxKeyBytes bounds the storage key (service JID and node): it is the
// size of the kv key column of the MySQL schema, the smallest backend.
const maxKeyBytes = 1023

// Config is the [push] section.
type Config struct {
	// IncludeBody puts the message's body in the summary
	// (last-message-body). Default false: the body goes through third
	// parties (XEP-0357 §10), and is set by the operator, never in-band.
	IncludeBody bool `toml:"include_body"`
	// IncludeSender puts the sender's JID in the summary
	// (last-message-sender). Default true.
	IncludeSender bool `toml:"include_sender"`
	// PublishTimeout is how long, in seconds, the server waits for an app
	// server to answer a publish (default 30); a publish without an answer
	// keeps the registration.
	PublishTimeout int `toml:"publish_timeout"`
	// MaxInFlight bounds the publishes waiting for an answer on the host
	// (default 256). A notification that would exceed it is dropped and
	// logged: delivery never waits for an app server.
	MaxInFlight int `toml:"max_in_flight"`
	// NotifyInactive treats a session whose client said it is inactive
	// (XEP-0352) like one hibernating for XEP-0198: a message worth a
	// notification that reaches it also wakes the device through the
	// push service. For clients (iOS) whose app is frozen while its
	// connection stays open. Default false: the message is on the
	// connection, and an inactive Android client still reads it.
	NotifyInactive bool `toml:"notify_inactive"`
}

// Defaults of Config.
const (
	DefaultPublishTimeout = 30
	DefaultMaxInFlight    = 256
)

// Module handles <enable/> and <disable/> on every account, advertises
// urn:xmpp:push:0 as an account feature (XEP-0357 §4.1) and publishes
// notifications from the undelivered and delivered hooks. It reads the
// [push] section.
var Module = module.New("push", Config{
	IncludeSender:  true,
	PublishTimeout: DefaultPublishTimeout,
	MaxInFlight:    DefaultMaxInFlight,
}, start).WithSection("push")

func start(h *module.Host, cfg Config) error {
	if cfg.PublishTimeout <= 0 {
		return fmt.Errorf("push.publish_timeout: %d is not positive", cfg.PublishTimeout)
	}
	if cfg.MaxInFlight <= 0 {
		return fmt.Errorf("push.max_in_flight: %d is not positive", cfg.MaxInFlight)
	}
	p := &pusher{
		h:       h,
		regs:    h.Map(MapName),
		cfg:     cfg,
		timeout: time.Duration(cfg.PublishTimeout) * time.Second,
		slots:   make(chan struct{}, cfg.MaxInFlight),
		counts:  map[jid.JID]int{},
	}
	h.AddFeature(module.AccountTarget, NS)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "enable"), p.enable)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NS, "disable"), p.disable)
	h.OnUndelivered(p.undelivered)
	h.OnDelivered(p.delivered)
	h.OnSessionAvailable(p.sessionAvailable)
	return nil
}

// pusher is the module on one virtual host.
type pusher struct {
	h       *module.Host
	regs    storage.Map
	cfg     Config
	timeout time.Duration
	slots   chan struct{} // one per publish in flight

	// mu guards counts: the messages each account missed since it was last
	// seen live (the summary's message-count). It is a leaf lock.
	mu     sync.Mutex
	counts map[jid.JID]int
}

// registration is one enabled (service, node) of an account, as stored.
type registration struct {
	// Options is the publish-options form given with <enable/>, or nil.
	Options *stanza.Form `json:"options,omitempty"`
	// Session is the full JID of the session that enabled it ("" when the
	// request did not come from a local session).
	Session string `json:"session,omitempty"`

	service jid.JID // from the key
	node    string  // from the key
	key     string
	raw     []byte // the stored value, to delete only what was read
}

// registrationKey returns the storage key of (service, node). A JID never
// contains a control character (RFC 7622 §3.2-§3.4, PRECIS), so the first
// "\n" separates the two. COMPAT: not "\x00", which PostgreSQL refuses in
// TEXT columns.
func registrationKey(service jid.JID, node string) string {
	return service.String() + "\n" + node
}

func parseKey(k string) (jid.JID, string, error) {
	s, node, ok := strings.Cut(k, "\n")
	if !ok {
		return jid.JID{}, "", fmt.Errorf("push: bad registration key %q", k)
	}
	j, err := jid.Parse(s)
	return j, node, err
}

// enable handles <enable jid='SERVICE' node='NODE'/> (XEP-0357 §5): it
// stores the registration, replacing the options of an earlier one with
// the same service and node. Only the account itself may enable
// (forbidden otherwise); 'jid' is required (bad-request), and an included
// data form must be publish options (bad-request).
func (p *pusher) enable(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if req.From.Bare() != req.To {
		return nil, stanza.NewError("forbidden")
	}
	service, node, err := target(req.Payload)
	if err != nil {
		return nil, err
	}
	reg := registration{}
	if req.Session != nil {
		reg.Session = req.Session.JID().String()
	}
	if x := req.Payload.Child(stanza.NSData, "x"); x != nil {
		if x.Get("type") == "" {
			// The XEP's own example (§5, example 6) omits the type that
			// XEP-0004 requires; clients copy it.
			x = x.Copy().Set("type", stanza.FormSubmit)
		}
		f, err := stanza.ParseForm(x)
		if err != nil || f.FormType() != NSPublishOptions {
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "the data form must be publish options"}
		}
		// Published as a submitted form (XEP-0060 §7.1.5), whatever the
		// client wrote.
		f.Type = stanza.FormSubmit
		reg.Options = f
	}
	v, err := json.Marshal(reg)
	if err != nil {
		return nil, err
	}
	if err := p.regs.Set(ctx, req.To.String(), registrationKey(service, node), v); err != nil {
		return nil, fmt.Errorf("storing push registration: %w", err)
	}
	return nil, nil
}

// disable handles <disable jid='SERVICE' [node='NODE']/> (XEP-0357 §6):
// with a node only that registration goes, without one every registration
// of the service. Disabling what is not enabled succeeds.
func (p *pusher) disable(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if req.From.Bare() != req.To {
		return nil, stanza.NewError("forbidden")
	}
	service, node, err := target(req.Payload)
	if err != nil {
		return nil, err
	}
	owner := req.To.String()
	if req.Payload.Get("node") != "" {
		if err := p.regs.Delete(ctx, owner, registrationKey(service, node)); err != nil {
			return nil, fmt.Errorf("deleting push registration: %w", err)
		}
		return nil, nil
	}
	all, err := p.regs.All(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("reading push registrations: %w", err)
	}
	prefix := service.String() + "\n"
	for _, e := range all {
		if strings.HasPrefix(e.Key, prefix) {
			if err := p.regs.Delete(ctx, owner, e.Key); err != nil {
				return nil, fmt.Errorf("deleting push registration: %w", err)
			}
		}
	}
	return nil, nil
}

// target reads the 'jid' and 'node' attributes of <enable/> or <disable/>.
func target(el *stanza.Element) (jid.JID, string, error) {
	s := el.Get("jid")
	if s == "" {
		return jid.JID{}, "", &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "missing jid"}
	}
	service, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, "", stanza.NewError("jid-malformed")
	}
	node := el.Get("node")
	if len(registrationKey(service, node)) > maxKeyBytes {
		return jid.JID{}, "", &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "jid and node too long"}
	}
	return service, node, nil
}

// registrations returns the registrations of owner. Entries that cannot be
// decoded are skipped and logged.
func (p *pusher) registrations(ctx context.Context, owner jid.JID) ([]registration, error) {
	all, err := p.regs.All(ctx, owner.String())
	if err != nil {
		return nil, err
	}
	out := make([]registration, 0, len(all))
	for _, e := range all {
		var r registration
		service, node, err := parseKey(e.Key)
		if err == nil {
			err = json.Unmarshal(e.Value, &r)
		}
		if err != nil {
			p.h.Logger().Error("bad push registration", "owner", owner.String(), "err", err)
			continue
		}
		r.service, r.node, r.key, r.raw = service, node, e.Key, e.Value
		out = append(out, r)
	}
	return out, nil
}

// remove deletes r from owner's registrations unless it changed since it
// was read (the client enabled it again meanwhile).
func (p *pusher) remove(ctx context.Context, owner jid.JID, r registration) error {
	cur, err := p.regs.Get(ctx, owner.String(), r.key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if string(cur) != string(r.raw) {
		return nil
	}
	return p.regs.Delete(ctx, owner.String(), r.key)
}

package module

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"hearth/jid"
	"hearth/stanza"
)

// OutboundPresenceHandler processes a presence stanza sent by a local
// session (its 'from' already stamped with the session's full JID). to is
// the parsed 'to' (zero for a broadcast presence).
type OutboundPresenceHandler func(ctx context.Context, s Session, p *stanza.Element, to jid.JID)

// InboundPresenceHandler processes a presence stanza addressed to a local
// account (to is the bare or full JID of an existing account), whoever sent it.
type InboundPresenceHandler func(ctx context.Context, p *stanza.Element, from, to jid.JID)

// PreAuthRequest is an IQ received on a client stream before
// authentication (XEP-0077 in-band registration).
type PreAuthRequest struct {
	Stanza, Payload *stanza.Element
	Domain          string // the stream's virtual host
	RemoteAddr      string // the client's IP address
	Secure          bool   // the stream is encrypted
	// StreamID identifies the stream (its current id): state a module
	// keeps between pre-authentication requests of one stream (an
	// XEP-0445 token before registration) is keyed by it.
	StreamID string
}

// PreAuthIQHandler answers an IQ before authentication, as IQHandler does.
type PreAuthIQHandler func(ctx context.Context, req PreAuthRequest) (*stanza.Element, error)

// Identity is a XEP-0030 identity.
type Identity struct{ Category, Type, Name, Lang string }

// UndeliveredHandler is offered a message addressed to the account to
// that could not be delivered to any session; it returns true when it took
// responsibility for it (stored it), which ends the search.
type UndeliveredHandler func(ctx context.Context, msg *stanza.Element, to jid.JID) bool

// Settings are the server-wide settings modules may need.
type Settings struct {
	// SCRAMIterations is the iteration count of new credentials ([auth]
	// scram_iterations); it must match what SASL shows unknown users.
	SCRAMIterations int
	// DataDir is the server's data folder (data_dir), under which modules
	// that keep files (upload) make a folder of their own.
	DataDir string
	// MaxQueueBytes is what one session's output queue may hold before
	// its stream is closed ([limits] max_queue_size); modules that send a
	// lot at once pace themselves below it.
	MaxQueueBytes int
	// Admins are the bare JIDs of the server administrators (the
	// top-level "admins" key): they may run the XEP-0133 commands.
	Admins []jid.JID
}

// Registry is everything the modules of one virtual host registered: the
// dispatch tables, hooks and disco data the router reads. It is built while
// modules start and read-only afterwards (Freeze), so reads take no lock.
type Registry struct {
	domain   string
	settings Settings
	http     HTTP             // nil without web listeners (module/http.go)
	shared   *Shared          // nil outside a server (module/shared.go)
	external ExternalServices // nil without [turn] (module/external.go)

	mu       sync.Mutex
	frozen   bool
	iq       [2]map[IQKey]entry[IQHandler]
	preAuth  map[IQKey]entry[PreAuthIQHandler]
	outPres  *entry[OutboundPresenceHandler]
	inPres   *entry[InboundPresenceHandler]
	hooks    map[hookName][]hookEntry
	features [2][]string // by Target
	idents   []Identity
	forms    []*stanza.Form
	preAuthF []*stanza.Element
	streamF  []*stanza.Element
	services []Service
	commands []Command
	caps     string
	clients  *entry[Clients]

	accountNodes  *entry[AccountNodes] // accountnodes.go
	accountIdents []Identity
}

type entry[F any] struct {
	module string
	fn     F
}

type hookEntry struct {
	module string
	fn     any
}

// NewRegistry returns an empty registry for a virtual host.
func NewRegistry(domain string) *Registry {
	r := &Registry{domain: domain, preAuth: map[IQKey]entry[PreAuthIQHandler]{}, hooks: map[hookName][]hookEntry{}}
	r.iq[ServerTarget] = map[IQKey]entry[IQHandler]{}
	r.iq[AccountTarget] = map[IQKey]entry[IQHandler]{}
	return r
}

// SetSettings sets the server-wide settings; call it before modules start.
func (r *Registry) SetSettings(s Settings) { r.settings = s }

// Domain returns the virtual host the registry belongs to.
func (r *Registry) Domain() string { return r.domain }

func (r *Registry) lock() {
	r.mu.Lock()
	if r.frozen {
		r.mu.Unlock()
		panic("module: registration after the host started")
	}
}

// Freeze ends registration: it checks the hook order table, sorts hooks by
// it and computes the server's XEP-0115 verification string.
func (r *Registry) Freeze() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, hs := range r.hooks {
		order := hookOrder[name]
		for _, h := range hs {
			if !slices.Contains(order, h.module) {
				return fmt.Errorf("module %s: hook %s is not in the order table (module/order.go)", h.module, name)
			}
		}
		sort.SliceStable(hs, func(i, j int) bool {
			return slices.Index(order, hs[i].module) < slices.Index(order, hs[j].module)
		})
	}
	r.frozen = true
	r.caps = capsHash(r.idents, r.features[ServerTarget], r.forms)
	return nil
}

// IQ returns the handler for an IQ of the given target and key.
func (r *Registry) IQ(t Target, k IQKey) (IQHandler, bool) {
	e, ok := r.iq[t][k]
	return e.fn, ok
}

// IQKeys returns the keys of the IQ handlers registered for target,
// sorted by namespace, local name and type.
func (r *Registry) IQKeys(t Target) []IQKey {
	keys := make([]IQKey, 0, len(r.iq[t]))
	for k := range r.iq[t] {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Payload.Space != b.Payload.Space {
			return a.Payload.Space < b.Payload.Space
		}
		if a.Payload.Local != b.Payload.Local {
			return a.Payload.Local < b.Payload.Local
		}
		return a.Type < b.Type
	})
	return keys
}

// PreAuthIQ returns the handler for an IQ received before authentication.
func (r *Registry) PreAuthIQ(k IQKey) (PreAuthIQHandler, bool) {
	e, ok := r.preAuth[k]
	return e.fn, ok
}

// OutboundPresence returns the handler of presence sent by local sessions, or nil.
func (r *Registry) OutboundPresence() OutboundPresenceHandler {
	if r.outPres == nil {
		return nil
	}
	return r.outPres.fn
}

// InboundPresence returns the handler of presence to local accounts, or nil.
func (r *Registry) InboundPresence() InboundPresenceHandler {
	if r.inPres == nil {
		return nil
	}
	return r.inPres.fn
}

// Features returns the disco#info features for target, sorted.
func (r *Registry) Features(t Target) []string { return r.features[t] }

// Identities returns the server's disco#info identities.
func (r *Registry) Identities() []Identity { return r.idents }

// InfoForms returns the XEP-0128 extended info forms of the server.
func (r *Registry) InfoForms() []*stanza.Form { return r.forms }

// PreAuthFeatures returns the stream features offered before authentication.
func (r *Registry) PreAuthFeatures() []*stanza.Element { return r.preAuthF }

// StreamFeatures returns the stream features offered after authentication.
func (r *Registry) StreamFeatures() []*stanza.Element { return r.streamF }

// CapsVer returns the XEP-0115 verification string of the server's disco#info.
func (r *Registry) CapsVer() string { return r.caps }

// RunSessionBound runs the session-bound hooks in order.
func (r *Registry) RunSessionBound(ctx context.Context, s Session) {
	for _, h := range r.hooks[hookSessionBound] {
		h.fn.(func(context.Context, Session))(ctx, s)
	}
}

// RunSessionClosed runs the session-closed hooks in order.
func (r *Registry) RunSessionClosed(ctx context.Context, s Session) {
	for _, h := range r.hooks[hookSessionClosed] {
		h.fn.(func(context.Context, Session))(ctx, s)
	}
}

// RunUndelivered offers msg to the undelivered hooks in order and reports
// whether one took it.
func (r *Registry) RunUndelivered(ctx context.Context, msg *stanza.Element, to jid.JID) bool {
	for _, h := range r.hooks[hookUndelivered] {
		if h.fn.(UndeliveredHandler)(ctx, msg, to) {
			return true
		}
	}
	return false
}

// RunUserDeleted runs the user-deleted hooks in order.
func (r *Registry) RunUserDeleted(ctx context.Context, user jid.JID) {
	for _, h := range r.hooks[hookUserDeleted] {
		h.fn.(func(context.Context, jid.JID))(ctx, user)
	}
}

// capsHash computes the XEP-0115 §5.1 verification string (SHA-1).
func capsHash(idents []Identity, features []string, forms []*stanza.Form) string {
	var b strings.Builder
	ids := make([]string, len(idents))
	for i, id := range idents {
		ids[i] = id.Category + "/" + id.Type + "/" + id.Lang + "/" + id.Name
	}
	sort.Strings(ids)
	for _, s := range ids {
		b.WriteString(s)
		b.WriteByte('<')
	}
	fs := slices.Clone(features)
	sort.Strings(fs)
	for _, f := range fs {
		b.WriteString(f)
		b.WriteByte('<')
	}
	sorted := slices.Clone(forms)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].FormType() < sorted[j].FormType() })
	for _, f := range sorted {
		b.WriteString(f.FormType())
		b.WriteByte('<')
		fields := slices.Clone(f.Fields)
		sort.Slice(fields, func(i, j int) bool { return fields[i].Var < fields[j].Var })
		for _, fl := range fields {
			if fl.Var == "FORM_TYPE" {
				continue
			}
			b.WriteString(fl.Var)
			b.WriteByte('<')
			vals := slices.Clone(fl.Values)
			sort.Strings(vals)
			for _, v := range vals {
				b.WriteString(v)
				b.WriteByte('<')
			}
		}
	}
	sum := sha1.Sum([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Name is a shorthand for an xml.Name.
func Name(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }

// Package adhoc implements XEP-0050: Ad-Hoc Commands, for the commands
// other modules offer with module.Host.AddCommand: their discovery
// (disco#items and disco#info on the commands node, answered through
// mod/disco) and their execution, one or two stages, with sessions.
package adhoc

import (
	"context"
	"errors"
	"sync"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
)

// NS is the namespace of XEP-0050, also its disco node.
const NS = "http://jabber.org/protocol/commands"

// Config is the [adhoc] section.
type Config struct {
	// SessionTimeout is how long, in seconds, a multi-stage command waits
	// for its next stage.
	SessionTimeout int `toml:"session_timeout"`
	// MaxSessions bounds the commands in progress on the host.
	MaxSessions int `toml:"max_sessions"`
}

// Module serves XEP-0050 on the host.
var Module = module.New("adhoc", Config{SessionTimeout: 600, MaxSessions: 1000}, start).WithSection("adhoc")

type session struct {
	node    string
	owner   jid.JID // full JID that started it
	expires time.Time
}

type commands struct {
	h       *module.Host
	timeout time.Duration
	max     int

	mu       sync.Mutex
	sessions map[string]session
}

func start(h *module.Host, cfg Config) error {
	if cfg.SessionTimeout <= 0 || cfg.MaxSessions <= 0 {
		return errors.New("[adhoc] session_timeout and max_sessions must be positive")
	}
	c := &commands{h: h, timeout: time.Duration(cfg.SessionTimeout) * time.Second, max: cfg.MaxSessions, sessions: map[string]session{}}
	h.AddFeature(module.ServerTarget, NS)
	h.HandleIQ(module.ServerTarget, stanza.Set, module.Name(NS, "command"), c.execute)
	return nil
}

// Items returns the disco#items of the commands node for from: the
// commands it may execute (XEP-0050 §2.2). mod/disco calls it.
func Items(reg *module.Registry, from jid.JID) *stanza.Element {
	q := stanza.New("http://jabber.org/protocol/disco#items", "query", "node", NS)
	for _, c := range reg.Commands() {
		if c.Allowed(from) {
			q.Append(stanza.New("http://jabber.org/protocol/disco#items", "item", "jid", reg.Domain(), "node", c.Node, "name", c.Name))
		}
	}
	return q
}

// Info returns the disco#info of a command node for from (XEP-0050 §2.3),
// or false when there is no such command or from may not see it.
func Info(reg *module.Registry, node string, from jid.JID) (*stanza.Element, bool) {
	c, ok := reg.Command(node)
	if !ok || !c.Allowed(from) {
		return nil, false
	}
	const ns = "http://jabber.org/protocol/disco#info"
	return stanza.New(ns, "query", "node", node).Append(
		stanza.New(ns, "identity", "category", "automation", "type", "command-node", "name", c.Name),
		stanza.New(ns, "feature", "var", NS),
		stanza.New(ns, "feature", "var", stanza.NSData),
	), true
}

var (
	errBadSession = &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "unknown or expired command session"}
	errForbidden  = &stanza.Error{Type: stanza.Cancel, Condition: "forbidden", Text: "you may not execute this command"}
)

func (c *commands) execute(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	node := req.Payload.Get("node")
	cmd, ok := c.h.Registry().Command(node)
	if !ok {
		return nil, &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: "no such command"}
	}
	if !cmd.Allowed(req.From) {
		return nil, errForbidden
	}
	action := req.Payload.Get("action")
	if action == "" {
		action = "execute"
	}
	sid := req.Payload.Get("sessionid")
	var form *stanza.Form
	if sid != "" {
		if !c.take(sid, node, req.From) {
			return nil, errBadSession
		}
		if action == "cancel" {
			return response(node, sid, "canceled"), nil
		}
		if action != "execute" && action != "complete" {
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "unsupported action " + action}
		}
		x := req.Payload.Child(stanza.NSData, "x")
		if x == nil {
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "the form is missing"}
		}
		f, err := stanza.ParseForm(x)
		if err != nil || f.Type != stanza.FormSubmit {
			return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid data form"}
		}
		form = f
	} else if action != "execute" {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "a new command starts with execute"}
	}
	res, err := cmd.Run(ctx, req.From, form)
	if err != nil {
		return nil, err
	}
	if res.Done {
		if sid == "" {
			sid = stanza.NewID()
		}
		out := response(node, sid, "completed")
		appendNote(out, res.Note)
		if res.Form != nil {
			out.Append(res.Form.Element())
		}
		return out, nil
	}
	if res.Form == nil {
		return nil, errors.New("adhoc: a command stage returned neither a form nor an outcome")
	}
	sid, err = c.open(node, req.From)
	if err != nil {
		return nil, err
	}
	out := response(node, sid, "executing")
	out.Append(stanza.New(NS, "actions", "execute", "complete").Append(stanza.New(NS, "complete")))
	appendNote(out, res.Note)
	out.Append(res.Form.Element())
	return out, nil
}

func response(node, sid, status string) *stanza.Element {
	return stanza.New(NS, "command", "node", node, "sessionid", sid, "status", status)
}

func appendNote(out *stanza.Element, note string) {
	if note != "" {
		out.Append(stanza.New(NS, "note", "type", "info").AppendText(note))
	}
}

// open starts a session for the next stage of node by owner.
func (c *commands) open(node string, owner jid.JID) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for id, s := range c.sessions {
		if now.After(s.expires) {
			delete(c.sessions, id)
		}
	}
	if len(c.sessions) >= c.max {
		return "", &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint", Text: "too many commands in progress"}
	}
	id := stanza.NewID()
	c.sessions[id] = session{node: node, owner: owner, expires: now.Add(c.timeout)}
	return id, nil
}

// take ends session id if it belongs to owner and node and has not expired.
func (c *commands) take(id, node string, owner jid.JID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[id]
	if !ok || s.node != node || s.owner != owner {
		return false
	}
	delete(c.sessions, id)
	return time.Now().Before(s.expires)
}

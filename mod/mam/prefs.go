package mam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// prefs are an account's archiving preferences (XEP-0441 §2.1), stored as
// JSON in the Map PrefsMapName. JIDs are normalised strings.
type prefs struct {
	Default string   `json:"default"`
	Always  []string `json:"always,omitempty"`
	Never   []string `json:"never,omitempty"`
}

// loadPrefs returns owner's preferences, or the configured default policy
// with empty lists when owner never set any.
//
// Preferences are read on every archived message, so they are cached per
// account; setPrefs and account deletion replace or drop the entry.
func (m *mam) loadPrefs(ctx context.Context, owner jid.JID) (prefs, error) {
	if p, ok := m.prefsCache.Load(owner); ok {
		return p, nil
	}
	p, err := m.readPrefs(ctx, owner)
	if err == nil {
		m.prefsCache.Store(owner, p)
	}
	return p, err
}

func (m *mam) readPrefs(ctx context.Context, owner jid.JID) (prefs, error) {
	b, err := m.h.Map(PrefsMapName).Get(ctx, owner.String(), prefsKey)
	if errors.Is(err, storage.ErrNotFound) {
		return prefs{Default: m.cfg.Default}, nil
	}
	if err != nil {
		return prefs{}, fmt.Errorf("archiving preferences of %s: %w", owner, err)
	}
	var p prefs
	if err := json.Unmarshal(b, &p); err != nil || !validPolicy(p.Default) {
		return prefs{}, fmt.Errorf("archiving preferences of %s: invalid record", owner)
	}
	return p, nil
}

// allowed reports whether owner's preferences let a message exchanged
// with peer (the 'from' of an incoming message, the 'to' of an outgoing
// one: XEP-0441 §2.3) be archived. A JID in <never/> wins over the same in
// <always/>. A storage failure is logged and the message is not archived:
// the preferences might have said never.
func (m *mam) allowed(ctx context.Context, owner, peer jid.JID) bool {
	p, err := m.loadPrefs(ctx, owner)
	if err != nil {
		m.h.Logger().Error("reading archiving preferences failed", "owner", owner.String(), "err", err)
		return false
	}
	switch {
	case listed(p.Never, peer):
		return false
	case listed(p.Always, peer):
		return true
	case p.Default == PolicyAlways:
		return true
	case p.Default == PolicyNever:
		return false
	}
	it, err := roster.Get(ctx, m.h, owner, peer.Bare())
	if err != nil {
		m.h.Logger().Error("reading the roster failed", "owner", owner.String(), "err", err)
		return false
	}
	return it.InRoster()
}

// listed applies the matching rules of XEP-0441 §2.3.1: a listed full JID
// matches peer exactly, a listed bare JID matches every resource of it.
func listed(list []string, peer jid.JID) bool {
	if len(list) == 0 {
		return false // most accounts list nobody: no strings built per message
	}
	full, bare := peer.String(), peer.Bare().String()
	return slices.Contains(list, full) || slices.Contains(list, bare)
}

// getPrefs answers <prefs/> gets (XEP-0441 §2.1).
func (m *mam) getPrefs(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := ownArchive(req); err != nil {
		return nil, err
	}
	p, err := m.loadPrefs(ctx, req.To)
	if err != nil {
		return nil, err
	}
	return p.element(), nil
}

// setPrefs answers <prefs/> sets: it replaces the preferences and returns
// them as applied (normalised JIDs, duplicates removed).
func (m *mam) setPrefs(ctx context.Context, req module.IQRequest) (*stanza.Element, error) {
	if err := ownArchive(req); err != nil {
		return nil, err
	}
	p, err := parsePrefs(req.Payload)
	if err != nil {
		return nil, err
	}
	if n := len(p.Always) + len(p.Never); m.cfg.MaxPrefsJIDs > 0 && n > m.cfg.MaxPrefsJIDs {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "policy-violation",
			Text: fmt.Sprintf("at most %d JIDs may be listed", m.cfg.MaxPrefsJIDs)}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := m.h.Map(PrefsMapName).Set(ctx, req.To.String(), prefsKey, b); err != nil {
		m.prefsCache.Delete(req.To)
		return nil, fmt.Errorf("archiving preferences of %s: %w", req.To, err)
	}
	m.prefsCache.Store(req.To, p)
	return p.element(), nil
}

// parsePrefs reads a <prefs/> set. 'default' is required: XEP-0441 §2.1.1
// says it MUST be one of the three policies.
func parsePrefs(el *stanza.Element) (prefs, error) {
	p := prefs{Default: el.Get("default")}
	if !validPolicy(p.Default) {
		return prefs{}, &stanza.Error{Type: stanza.Modify, Condition: "bad-request",
			Text: "default must be always, roster or never"}
	}
	for _, list := range []struct {
		name string
		dst  *[]string
	}{{"always", &p.Always}, {"never", &p.Never}} {
		l := el.Child(NS, list.name)
		if l == nil {
			continue
		}
		for _, c := range l.Elements() {
			if c.Name.Space != NS || c.Name.Local != "jid" {
				continue
			}
			j, err := jid.Parse(c.Text())
			if err != nil {
				return prefs{}, &stanza.Error{Type: stanza.Modify, Condition: "jid-malformed",
					Text: fmt.Sprintf("invalid JID in <%s/>", list.name)}
			}
			if s := j.String(); !slices.Contains(*list.dst, s) {
				*list.dst = append(*list.dst, s)
			}
		}
	}
	return p, nil
}

// element returns the <prefs/> element of p; <always/> and <never/> are
// always present (XEP-0441 §2.1).
func (p prefs) element() *stanza.Element {
	el := stanza.New(NS, "prefs", "default", p.Default)
	for _, list := range []struct {
		name string
		jids []string
	}{{"always", p.Always}, {"never", p.Never}} {
		l := stanza.New(NS, list.name)
		for _, j := range list.jids {
			l.Append(stanza.New(NS, "jid").AppendText(j))
		}
		el.Append(l)
	}
	return el
}

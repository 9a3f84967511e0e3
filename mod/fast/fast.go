// Package fast implements XEP-0484: Fast Authentication Streamlining
// Tokens, and XEP-0494: Client Access Management. It keeps, per account,
// the clients that logged in with a XEP-0388 user-agent id: the FAST
// tokens each holds and what a client listing shows of it; the stream
// package runs the SASL2 and HT exchanges and asks it (module.Clients)
// for token keys and for the FAST rules at each login.
//
// Records are kept in the Map named MapName: the owner is the account's
// bare JID, the key the client's id (ClientID of its user-agent id: the
// user-agent id itself is never stored nor shown), the value a JSON
// record. Tokens are never stored: only their HMAC key, which for the
// 96-character tokens issued here is SHA-256 of the token (sasl.TokenKey).
package fast

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/storage"
)

// MapName is the Map holding the client records.
const MapName = "fast_clients"

// Config is the [fast] section.
type Config struct {
	// TokenLifetime is how long, in seconds, a token is valid after it is
	// issued (default 30 days).
	TokenLifetime int `toml:"token_lifetime"`
	// RotateBefore is how long, in seconds, before its expiry a token
	// used to log in is replaced by a new one in <success/> (default
	// 7 days; 0: tokens are only issued on request).
	RotateBefore int `toml:"rotate_before"`
	// ClientRetention is how long, in seconds, a client that holds no
	// valid token is remembered after its last login, for the client
	// listing (default 90 days).
	ClientRetention int `toml:"client_retention"`
	// MaxClients bounds the clients remembered per account (default 100);
	// beyond it the least recently seen are forgotten, tokens and all.
	MaxClients int `toml:"max_clients"`
	// PasswordChangeRevokes makes a password change revoke the FAST
	// tokens of every other client of the account and end its other
	// sessions (default true): whoever learnt the old password or took a
	// device is locked out.
	PasswordChangeRevokes bool `toml:"password_change_revokes"`
}

// Defaults of Config.
const (
	DefaultTokenLifetime   = 30 * 24 * 3600
	DefaultRotateBefore    = 7 * 24 * 3600
	DefaultClientRetention = 90 * 24 * 3600
	DefaultMaxClients      = 100
)

// maxTokens bounds the tokens one client holds at a time: the one in use,
// a rotated one not yet used, and one requested meanwhile.
const maxTokens = 3

// tokenBytes is the randomness of a token: 72 bytes are 96 base64
// characters, longer than the SHA-256 block, so that the HMAC key of the
// token is its SHA-256 (sasl.TokenKey) and the token need not be stored.
const tokenBytes = 72

// Module issues FAST tokens (module.Clients) and answers XEP-0494 client
// listing and revocation requests of an account's own sessions.
var Module = module.New("fast", Config{
	TokenLifetime:         DefaultTokenLifetime,
	RotateBefore:          DefaultRotateBefore,
	ClientRetention:       DefaultClientRetention,
	MaxClients:            DefaultMaxClients,
	PasswordChangeRevokes: true,
}, start).WithSection("fast")

func start(h *module.Host, cfg Config) error {
	if cfg.TokenLifetime <= 0 {
		return errors.New("fast.token_lifetime must be positive")
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	k := &keeper{h: h, cfg: cfg, m: h.Map(MapName), now: time.Now}
	h.ProvideClients(k)
	h.AddFeature(module.AccountTarget, NSCAM)
	h.HandleIQ(module.AccountTarget, stanza.Get, module.Name(NSCAM, "list"), k.list)
	h.HandleIQ(module.AccountTarget, stanza.Set, module.Name(NSCAM, "revoke"), k.revoke)
	if cfg.PasswordChangeRevokes {
		h.OnPasswordChanged(k.passwordChanged)
	}
	return nil
}

// keeper is the module on one host.
type keeper struct {
	h   *module.Host
	cfg Config
	m   storage.Map
	now func() time.Time
	// mu serialises the read-modify-write of records: logins of one
	// client race with each other and with revocation.
	mu sync.Mutex
}

var _ module.Clients = (*keeper)(nil)

// record is what is kept of one client of an account.
type record struct {
	Software string    `json:"software,omitempty"`
	Device   string    `json:"device,omitempty"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Password bool      `json:"password,omitempty"` // has logged in with a password
	Tokens   []token   `json:"tokens,omitempty"`
}

// token is one issued FAST token.
type token struct {
	Mechanism string    `json:"mechanism"`
	Key       []byte    `json:"key"` // sasl.TokenKey of the token
	Expiry    time.Time `json:"expiry"`
	Used      bool      `json:"used,omitempty"`
	Count     uint64    `json:"count,omitempty"` // highest XEP-0484 count seen
}

// ClientID returns the id under which the client with user-agent id
// agentID is kept and listed: a hash, so that listings never reveal the
// user-agent id that tokens are bound to.
func ClientID(agentID string) string {
	sum := sha256.Sum256([]byte("hearth client\x00" + agentID))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func (k *keeper) load(ctx context.Context, owner, id string) (*record, error) {
	b, err := k.m.Get(ctx, owner, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (k *keeper) save(ctx context.Context, owner, id string, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return k.m.Set(ctx, owner, id, b)
}

// validTokens returns r's tokens that have not expired at now.
func validTokens(r *record, now time.Time) []token {
	var out []token
	for _, t := range r.Tokens {
		if now.Before(t.Expiry) {
			out = append(out, t)
		}
	}
	return out
}

// TokenKeys implements module.Clients.
func (k *keeper) TokenKeys(ctx context.Context, user jid.JID, agentID, mechanism string) ([][]byte, error) {
	if agentID == "" {
		return nil, nil
	}
	r, err := k.load(ctx, user.Bare().String(), ClientID(agentID))
	if err != nil || r == nil {
		return nil, err
	}
	var keys [][]byte
	for _, t := range validTokens(r, k.now()) {
		// XEP-0484 §4.4: a token works with the mechanism it was issued
		// for only, so that a channel-bound one cannot be used unbound.
		if t.Mechanism == mechanism {
			keys = append(keys, t.Key)
		}
	}
	return keys, nil
}

// LoggedIn implements module.Clients. It applies the rules of XEP-0484
// §4: a count not above the last one seen is a replay and fails; using a
// token invalidates every token of the client that expires before it;
// invalidate removes the token used; a token close to expiry is rotated
// (the new one is handed out while the old one keeps working until the
// new one is used); a requested token is issued, and tokens issued
// earlier but never used are dropped then.
func (k *keeper) LoggedIn(ctx context.Context, l module.Login) (*module.Token, error) {
	if l.AgentID == "" {
		return nil, nil // nothing to remember the client by
	}
	owner, id := l.User.Bare().String(), ClientID(l.AgentID)
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := k.load(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		if l.TokenKey != nil {
			return nil, &sasl.Failure{Condition: sasl.CondNotAuthorized, Text: "token revoked"}
		}
		r = &record{First: now}
	}
	if l.Software != "" {
		r.Software = l.Software
	}
	if l.Device != "" {
		r.Device = l.Device
	}
	r.Last = now
	r.Tokens = validTokens(r, now)
	issue := l.RequestToken
	if l.TokenKey == nil {
		r.Password = true
	} else {
		i := slices.IndexFunc(r.Tokens, func(t token) bool { return subtle.ConstantTimeCompare(t.Key, l.TokenKey) == 1 })
		if i < 0 {
			// Revoked or expired since its key was looked up.
			return nil, &sasl.Failure{Condition: sasl.CondNotAuthorized, Text: "token revoked"}
		}
		used := &r.Tokens[i]
		if l.HasCount {
			if used.Used && l.Count <= used.Count {
				return nil, &sasl.Failure{Condition: sasl.CondNotAuthorized, Text: "replayed count"}
			}
			used.Count = l.Count
		}
		used.Used = true
		expiry := used.Expiry
		r.Tokens = slices.DeleteFunc(r.Tokens, func(t token) bool { return t.Expiry.Before(expiry) })
		switch {
		case l.Invalidate:
			r.Tokens = slices.DeleteFunc(r.Tokens, func(t token) bool { return subtle.ConstantTimeCompare(t.Key, l.TokenKey) == 1 })
		case issue == "" && k.cfg.RotateBefore > 0 && expiry.Sub(now) < time.Duration(k.cfg.RotateBefore)*time.Second &&
			!slices.ContainsFunc(r.Tokens, func(t token) bool { return t.Expiry.After(expiry) }):
			issue = l.Mechanism
		}
	}
	var out *module.Token
	if issue != "" {
		r.Tokens = slices.DeleteFunc(r.Tokens, func(t token) bool {
			return !t.Used && subtle.ConstantTimeCompare(t.Key, l.TokenKey) != 1
		})
		secret := newSecret()
		out = &module.Token{Secret: secret, Expiry: now.Add(time.Duration(k.cfg.TokenLifetime) * time.Second)}
		r.Tokens = append(r.Tokens, token{Mechanism: issue, Key: sasl.TokenKey(secret), Expiry: out.Expiry})
		if len(r.Tokens) > maxTokens {
			slices.SortFunc(r.Tokens, func(a, b token) int { return a.Expiry.Compare(b.Expiry) })
			r.Tokens = r.Tokens[len(r.Tokens)-maxTokens:]
		}
	}
	if err := k.save(ctx, owner, id, r); err != nil {
		return nil, err
	}
	if err := k.prune(ctx, owner, now); err != nil {
		k.h.Logger().Warn("pruning clients failed", "err", err)
	}
	return out, nil
}

// prune forgets the clients of owner that hold no valid token and were
// last seen before the retention period, and the least recently seen
// beyond MaxClients. Caller holds k.mu.
func (k *keeper) prune(ctx context.Context, owner string, now time.Time) error {
	entries, err := k.m.All(ctx, owner)
	if err != nil || len(entries) <= 1 {
		return err
	}
	type seen struct {
		id   string
		last time.Time
	}
	var kept []seen
	for _, e := range entries {
		var r record
		if json.Unmarshal(e.Value, &r) != nil {
			continue
		}
		if len(validTokens(&r, now)) == 0 && now.Sub(r.Last) > time.Duration(k.cfg.ClientRetention)*time.Second {
			if err := k.m.Delete(ctx, owner, e.Key); err != nil {
				return err
			}
			continue
		}
		kept = append(kept, seen{e.Key, r.Last})
	}
	if len(kept) <= k.cfg.MaxClients {
		return nil
	}
	slices.SortFunc(kept, func(a, b seen) int { return a.last.Compare(b.last) })
	for _, s := range kept[:len(kept)-k.cfg.MaxClients] {
		if err := k.m.Delete(ctx, owner, s.id); err != nil {
			return err
		}
	}
	return nil
}

func newSecret() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// passwordChanged revokes the tokens of every client of user but the one
// whose session by changed the password, and ends the other sessions.
func (k *keeper) passwordChanged(ctx context.Context, user jid.JID, by module.Session) {
	keep := ""
	if cs, ok := by.(module.ClientSession); ok && cs.ClientID() != "" {
		keep = ClientID(cs.ClientID())
	}
	owner := user.Bare().String()
	k.mu.Lock()
	entries, err := k.m.All(ctx, owner)
	for _, e := range entries {
		if err != nil || e.Key == keep {
			continue
		}
		err = k.m.Delete(ctx, owner, e.Key)
	}
	k.mu.Unlock()
	if err != nil {
		k.h.Logger().Error("revoking tokens after a password change failed", "user", owner, "err", err)
	}
	for _, s := range k.h.Sessions(user.Bare()) {
		if by == nil || s.JID() != by.JID() {
			s.Close(&stanza.StreamError{Condition: "not-authorized", Text: "the password was changed"})
		}
	}
}

// RevokeAll forgets every client of the account owner (a bare JID), FAST
// tokens and all, in st directly: for tools that change a password with
// the server stopped or elsewhere (hearth passwd).
func RevokeAll(ctx context.Context, st storage.Store, owner string) error {
	m := st.Map(MapName)
	entries, err := m.All(ctx, owner)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := m.Delete(ctx, owner, e.Key); err != nil {
			return err
		}
	}
	return nil
}

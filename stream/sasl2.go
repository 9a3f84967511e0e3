package stream

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
)

// Namespaces of the modern login protocols.
const (
	NSSASL2        = "urn:xmpp:sasl:2"          // XEP-0388 Extensible SASL Profile
	NSBind2        = "urn:xmpp:bind:0"          // XEP-0386 Bind 2
	NSFAST         = "urn:xmpp:fast:0"          // XEP-0484 FAST
	NSUpgrade      = "urn:xmpp:sasl:upgrade:0"  // XEP-0480 SASL Upgrade Tasks
	NSSCRAMUpgrade = "urn:xmpp:scram-upgrade:0" // XEP-0480 SCRAM upgrade task data
)

// upgradeSHA256 is the one XEP-0480 task hearth offers: accounts imported
// with SCRAM-SHA-1 keys only (from Prosody, for instance) gain the
// SCRAM-SHA-256 key their password was never derived into.
const upgradeSHA256 = "UPGR-SCRAM-SHA-256"

// maxAgentID bounds the XEP-0388 user-agent id (a UUID in practice) and
// maxAgentText its <software/> and <device/> texts, which are stored and
// shown in client listings.
const (
	maxAgentID   = 128
	maxAgentText = 256
)

// LoginHost is implemented by virtual hosts that offer, with XEP-0388
// SASL2, inline resource binding (XEP-0386), FAST tokens (XEP-0484) and
// SCRAM upgrades (XEP-0480). A VHost without it still offers SASL2,
// followed by ordinary resource binding, and inline XEP-0198 resumption.
type LoginHost interface {
	// Bind2Features returns the namespaces of the features a Bind 2
	// request may enable inline, advertised in its <inline/>.
	Bind2Features() []string
	// Bind2 binds a session for bare from the Bind 2 request req, as Bind
	// does for RFC 6120 binding, and enables the inline features req
	// asks for. It returns the children of <bound/> (the outcome of those
	// features). A non-nil error fails the authentication.
	Bind2(ctx context.Context, c *Conn, bare jid.JID, req *stanza.Element) (SessionHandler, jid.JID, []*stanza.Element, error)
	// FAST reports whether the host issues FAST tokens.
	FAST() bool
	// TokenKeys returns the keys (sasl.TokenKey) of the unexpired tokens
	// for mechanism that the client agentID of bare holds.
	TokenKeys(ctx context.Context, bare jid.JID, agentID, mechanism string) ([][]byte, error)
	// LoggedIn is told of a successful authentication before <success/> is
	// sent. It records the client, applies the FAST rules (replay count,
	// invalidation, rotation) and returns a new token when one is due, or
	// nil. A non-nil error (a *sasl.Failure) fails the authentication.
	LoggedIn(ctx context.Context, login *Login) (*Token, error)
	// UpgradeCredentials stores key as the SCRAM key for hash ("SHA-256")
	// of the account bare, keeping its other keys.
	UpgradeCredentials(ctx context.Context, bare jid.JID, hash string, key sasl.SCRAMKey) error
}

// Login describes a SASL2 authentication: who, with what and from which
// client. It is available from Conn.Login once authenticated.
type Login struct {
	JID       jid.JID // the authenticated bare JID
	Mechanism string
	// AgentID, Software and Device come from the client's <user-agent/>
	// (XEP-0388); AgentID is "" when the client sent none.
	AgentID, Software, Device string
	// TokenKey is the key of the FAST token authenticated with, nil for
	// any other mechanism.
	TokenKey []byte
	// Count is the XEP-0484 count attribute, HasCount whether it was sent.
	Count    uint64
	HasCount bool
	// Invalidate asks for the token authenticated with to be invalidated.
	Invalidate bool
	// RequestToken is the mechanism of a requested FAST token, or "".
	RequestToken string
}

// Token is a FAST token issued to a client.
type Token struct {
	Secret string
	Expiry time.Time
}

// Login returns how the stream was authenticated with SASL2, or nil for
// RFC 6120 authentication. It is set before binding and read-only after.
func (c *Conn) Login() *Login { return c.login }

// authOffer is what authenticate offered on this stream.
type authOffer struct {
	mechs   []sasl.Mechanism // SASL mechanisms, in both profiles
	fast    []sasl.Mechanism // HT mechanisms inside <fast/>, SASL2 only
	binding sasl.ChannelBinding
	plus    bool // a -PLUS mechanism was offered
	adv     *sasl.Advertisement
	login   LoginHost // nil when the host has none
}

// sasl2Feature returns the <authentication/> feature for o.
func (n *negotiation) sasl2Feature(o *authOffer) *stanza.Element {
	auth := stanza.New(NSSASL2, "authentication")
	for _, m := range o.mechs {
		auth.Append(stanza.New(NSSASL2, "mechanism").AppendText(m.Name))
	}
	inline := stanza.New(NSSASL2, "inline")
	inline.Append(stanza.New(NSSM, "sm"))
	if o.login != nil {
		b := stanza.New(NSBind2, "bind")
		if fs := o.login.Bind2Features(); len(fs) > 0 {
			in := stanza.New(NSBind2, "inline")
			for _, f := range fs {
				in.Append(stanza.New(NSBind2, "feature", "var", f))
			}
			b.Append(in)
		}
		inline.Append(b)
		if len(o.fast) > 0 {
			f := stanza.New(NSFAST, "fast")
			for _, m := range o.fast {
				f.Append(stanza.New(NSFAST, "mechanism").AppendText(m.Name))
			}
			inline.Append(f)
		}
		auth.Append(stanza.New(NSUpgrade, "upgrade").AppendText(upgradeSHA256))
	}
	auth.Append(inline)
	return auth
}

// sasl2Request is a parsed <authenticate/>.
type sasl2Request struct {
	el      *stanza.Element
	mech    sasl.Mechanism
	token   bool // mech is a FAST mechanism
	login   Login
	upgrade bool // UPGR-SCRAM-SHA-256 requested
}

// parseAuthenticate checks an <authenticate/> against what was offered;
// a *sasl.Failure refuses it before any exchange.
func (n *negotiation) parseAuthenticate(o *authOffer, el *stanza.Element) (*sasl2Request, error) {
	r := &sasl2Request{el: el}
	name := el.Get("mechanism")
	if i := slices.IndexFunc(o.mechs, func(m sasl.Mechanism) bool { return m.Name == name }); i >= 0 {
		r.mech = o.mechs[i]
	} else if i := slices.IndexFunc(o.fast, func(m sasl.Mechanism) bool { return m.Name == name }); i >= 0 {
		r.mech, r.token = o.fast[i], true
	} else {
		return nil, &sasl.Failure{Condition: "invalid-mechanism"}
	}
	r.login.Mechanism = name
	if ua := el.Child(NSSASL2, "user-agent"); ua != nil {
		r.login.AgentID = ua.Get("id")
		r.login.Software = ua.ChildText(NSSASL2, "software")
		r.login.Device = ua.ChildText(NSSASL2, "device")
		if len(r.login.AgentID) > maxAgentID || len(r.login.Software) > maxAgentText || len(r.login.Device) > maxAgentText {
			return nil, &sasl.Failure{Condition: sasl.CondMalformedRequest, Text: "user-agent too long"}
		}
	}
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == NSUpgrade && c.Name.Local == "upgrade":
			if strings.TrimSpace(c.Text()) != upgradeSHA256 || o.login == nil {
				return nil, &sasl.Failure{Condition: "invalid-mechanism", Text: "upgrade not offered"}
			}
			r.upgrade = true
		case c.Name.Space == NSFAST && c.Name.Local == "request-token":
			m := c.Get("mechanism")
			if !slices.ContainsFunc(o.fast, func(f sasl.Mechanism) bool { return f.Name == m }) {
				return nil, &sasl.Failure{Condition: "invalid-mechanism", Text: "token mechanism not offered"}
			}
			r.login.RequestToken = m
		case c.Name.Space == NSFAST && c.Name.Local == "fast":
			if !r.token {
				return nil, &sasl.Failure{Condition: sasl.CondMalformedRequest, Text: "<fast/> with a mechanism that is not FAST"}
			}
			if v := c.Get("count"); v != "" {
				cnt, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return nil, &sasl.Failure{Condition: sasl.CondMalformedRequest, Text: "bad count"}
				}
				r.login.Count, r.login.HasCount = cnt, true
			}
			r.login.Invalidate = c.Get("invalidate") == "true" || c.Get("invalidate") == "1"
		}
	}
	if (r.token || r.login.RequestToken != "") && r.login.AgentID == "" {
		// XEP-0484 §5.1: tokens belong to a client, named by its id.
		return nil, &sasl.Failure{Condition: sasl.CondMalformedRequest, Text: "FAST needs a user-agent id"}
	}
	return r, nil
}

// authenticate2 runs one SASL2 authentication started by el. It returns
// the bound session's handler when the request bound or resumed one
// inline, nil when the client is to bind next (n.bare is set then), or an
// error: a *sasl.Failure ends this attempt (the failure is sent by the
// caller), anything else the stream.
func (n *negotiation) authenticate2(ctx context.Context, o *authOffer, req *sasl2Request) (SessionHandler, error) {
	login := &req.login
	cfg := n.saslConfig(o)
	if req.token {
		cfg.Tokens = func(ctx context.Context, username, mechanism string) ([][]byte, error) {
			bare, err := jid.New(username, n.c.domain, "")
			if err != nil || o.login == nil {
				return nil, nil
			}
			return o.login.TokenKeys(ctx, bare, login.AgentID, mechanism)
		}
	}
	neg := req.mech.New(cfg)
	var resp []byte
	if ir := req.el.Child(NSSASL2, "initial-response"); ir != nil {
		var err error
		if resp, err = decodeSASL(ir); err != nil {
			return nil, err
		}
	}
	var additional []byte
	for {
		challenge, done, err := neg.Step(ctx, resp)
		if err != nil {
			return nil, &authError{neg.Username(), err}
		}
		if done {
			additional = challenge
			break
		}
		if err := n.send(sasl2Data("challenge", challenge)); err != nil {
			return nil, err
		}
		if resp, err = n.sasl2Response("response"); err != nil {
			return nil, &authError{neg.Username(), err}
		}
	}
	bare, err := jid.New(neg.Username(), n.c.domain, "")
	if err != nil {
		return nil, &authError{neg.Username(), &sasl.Failure{Condition: sasl.CondNotAuthorized}}
	}
	if a := neg.AuthzID(); a != "" {
		aj, err := jid.Parse(a)
		if err != nil || aj != bare {
			return nil, &authError{neg.Username(), &sasl.Failure{Condition: "invalid-authzid"}}
		}
		// XEP-0388 §3.4: a non-empty authorization identity must match
		// the stream's 'from', when there is one.
		if n.peerFrom != "" {
			if fj, err := jid.Parse(n.peerFrom); err != nil || fj.Bare() != aj {
				return nil, &authError{neg.Username(), &sasl.Failure{Condition: "invalid-authzid"}}
			}
		}
	}
	login.JID = bare
	if tn, ok := neg.(sasl.TokenNegotiator); ok {
		login.TokenKey = tn.MatchedKey()
	}
	// Upgrade tasks come last of all tasks (XEP-0480), and only after a
	// proof of the password itself.
	if req.upgrade && strings.HasPrefix(req.mech.Name, "SCRAM-") {
		done, err := n.upgradeTask(ctx, o.login, bare, additional)
		if err != nil {
			return nil, err
		}
		if done {
			additional = nil // it went with <continue/>
		}
	}
	return n.sasl2Success(ctx, o, req, additional)
}

// authError is a failed exchange with the username the client claimed.
type authError struct {
	user string
	err  error
}

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// sasl2Success completes an authentication: FAST bookkeeping, inline
// resumption or binding, then <success/>.
func (n *negotiation) sasl2Success(ctx context.Context, o *authOffer, req *sasl2Request, additional []byte) (SessionHandler, error) {
	login := &req.login
	bare := login.JID
	var token *Token
	if o.login != nil {
		var err error
		if token, err = o.login.LoggedIn(ctx, login); err != nil {
			var f *sasl.Failure
			if !errors.As(err, &f) {
				f = &sasl.Failure{Condition: sasl.CondTemporaryAuthFailure, Err: err}
			}
			return nil, &authError{bare.Local(), f}
		}
	}
	n.authFinished(req.mech.Name, bare.Local(), nil)
	n.c.login = login
	n.startTrace(bare)
	success := stanza.New(NSSASL2, "success")
	if additional != nil {
		success.Append(stanza.New(NSSASL2, "additional-data").AppendText(base64.StdEncoding.EncodeToString(additional)))
	}
	authzID := stanza.New(NSSASL2, "authorization-identifier").AppendText(bare.String())
	success.Append(authzID)
	var h SessionHandler
	if el := req.el.Child(NSSM, "resume"); el != nil {
		var res *stanza.Element
		h, res = n.resumeInline(ctx, bare, el)
		success.Append(res)
	}
	if b := req.el.Child(NSBind2, "bind"); h == nil && b != nil && o.login != nil {
		sh, full, bound, err := o.login.Bind2(ctx, n.c, bare, b)
		if err != nil {
			return nil, &authError{bare.Local(), &sasl.Failure{Condition: sasl.CondTemporaryAuthFailure, Text: "binding failed", Err: err}}
		}
		h = sh
		n.c.jid = full
		authzID.Children = nil
		authzID.AppendText(full.String())
		be := stanza.New(NSBind2, "bound")
		for _, c := range bound {
			be.Append(c)
		}
		success.Append(be)
	} else if h != nil {
		authzID.Children = nil
		authzID.AppendText(n.c.jid.String())
	}
	if token != nil {
		success.Append(stanza.New(NSFAST, "token", "token", token.Secret,
			"expiry", token.Expiry.UTC().Format("2006-01-02T15:04:05Z")))
	}
	if err := n.send(success); err != nil {
		if h != nil {
			h.Closed(err)
		}
		return nil, err
	}
	n.bare = bare
	if h == nil {
		// No restart (XEP-0388 §2.6.1): features follow at once.
		n.noRestart = true
	}
	return h, nil
}

// resumeInline resumes a XEP-0198 session from a <resume/> inside
// <authenticate/> and returns the element for <success/>: <resumed/>, or
// <failed/> (then h is nil and binding may follow).
func (n *negotiation) resumeInline(ctx context.Context, bare jid.JID, el *stanza.Element) (SessionHandler, *stanza.Element) {
	failed := func(condition string) *stanza.Element {
		return stanza.New(NSSM, "failed").Append(stanza.New(stanza.NSStanzas, condition))
	}
	h, err := strconv.ParseUint(el.Get("h"), 10, 32)
	if err != nil || el.Get("previd") == "" {
		return nil, failed("bad-request")
	}
	sh, full, handled, err := n.host.Resume(ctx, n.c, bare, el.Get("previd"), uint32(h))
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			se = stanza.NewError("internal-server-error")
		}
		return nil, failed(se.Condition)
	}
	n.c.jid = full
	return sh, stanza.New(NSSM, "resumed", "previd", el.Get("previd"), "h", strconv.FormatUint(uint64(handled), 10))
}

// upgradeTask runs the XEP-0480 SCRAM-SHA-256 upgrade task when the
// account has no SHA-256 key yet; done reports that it ran (and sent
// additional with its <continue/>).
func (n *negotiation) upgradeTask(ctx context.Context, lh LoginHost, bare jid.JID, additional []byte) (bool, error) {
	creds, err := n.host.Credentials(ctx, bare.Local())
	if err != nil {
		return false, &authError{bare.Local(), &sasl.Failure{Condition: sasl.CondTemporaryAuthFailure, Err: err}}
	}
	if len(creds.SHA256.StoredKey) > 0 {
		return false, nil // nothing to upgrade: the task is skipped
	}
	cont := stanza.New(NSSASL2, "continue")
	if additional != nil {
		cont.Append(stanza.New(NSSASL2, "additional-data").AppendText(base64.StdEncoding.EncodeToString(additional)))
	}
	cont.Append(stanza.New(NSSASL2, "tasks").Append(stanza.New(NSSASL2, "task").AppendText(upgradeSHA256)))
	if err := n.send(cont); err != nil {
		return false, err
	}
	el, err := n.next()
	if err != nil {
		return false, err
	}
	switch {
	case el.Name.Space == NSSASL2 && el.Name.Local == "abort":
		return false, &authError{bare.Local(), &sasl.Failure{Condition: "aborted"}}
	case el.Name.Space != NSSASL2 || el.Name.Local != "next":
		return false, &stanza.StreamError{Condition: "not-authorized", Text: "unexpected element during authentication"}
	case el.Get("task") != upgradeSHA256:
		return false, &authError{bare.Local(), &sasl.Failure{Condition: sasl.CondMalformedRequest, Text: "unknown task"}}
	}
	iterations := n.cfg.SCRAMIterations
	if iterations <= 0 {
		iterations = sasl.DefaultIterations
	}
	salt := sasl.UpgradeSalt()
	data := stanza.New(NSSASL2, "task-data").Append(stanza.New(NSSCRAMUpgrade, "salt", "iterations", strconv.Itoa(iterations)).
		AppendText(base64.StdEncoding.EncodeToString(salt)))
	if err := n.send(data); err != nil {
		return false, err
	}
	if el, err = n.next(); err != nil {
		return false, err
	}
	switch {
	case el.Name.Space == NSSASL2 && el.Name.Local == "abort":
		return false, &authError{bare.Local(), &sasl.Failure{Condition: "aborted"}}
	case el.Name.Space != NSSASL2 || el.Name.Local != "task-data":
		return false, &stanza.StreamError{Condition: "not-authorized", Text: "unexpected element during authentication"}
	}
	salted, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.ChildText(NSSCRAMUpgrade, "hash")))
	if err != nil {
		return false, &authError{bare.Local(), &sasl.Failure{Condition: "incorrect-encoding"}}
	}
	key, err := sasl.KeyFromSalted("SHA-256", salt, iterations, salted)
	if err != nil {
		return false, &authError{bare.Local(), &sasl.Failure{Condition: sasl.CondMalformedRequest, Err: err}}
	}
	if err := lh.UpgradeCredentials(ctx, bare, "SHA-256", key); err != nil {
		return false, &authError{bare.Local(), &sasl.Failure{Condition: sasl.CondTemporaryAuthFailure, Err: err}}
	}
	n.log.Info("SCRAM credentials upgraded", "user", bare.String(), "hash", "SHA-256")
	return true, nil
}

// sasl2Response reads the client's next SASL2 <response/>; an <abort/>
// is an aborted failure, anything else ends the stream (XEP-0388 §2.5).
func (n *negotiation) sasl2Response(local string) ([]byte, error) {
	el, err := n.next()
	if err != nil {
		return nil, err
	}
	switch {
	case el.Name.Space == NSSASL2 && el.Name.Local == local:
		return decodeSASL(el)
	case el.Name.Space == NSSASL2 && el.Name.Local == "abort":
		return nil, &sasl.Failure{Condition: "aborted"}
	}
	return nil, &stanza.StreamError{Condition: "not-authorized", Text: "unexpected element during authentication"}
}

// sasl2Data returns a SASL2 element carrying base64 data.
func sasl2Data(name string, data []byte) *stanza.Element {
	el := stanza.New(NSSASL2, name)
	if len(data) > 0 {
		el.AppendText(base64.StdEncoding.EncodeToString(data))
	}
	return el
}

// sasl2Failure returns a SASL2 <failure/> with an RFC 6120 condition.
func sasl2Failure(condition, text string) *stanza.Element {
	f := stanza.New(NSSASL2, "failure").Append(stanza.New(NSSASL, condition))
	if text != "" {
		f.Append(stanza.New(NSSASL2, "text").AppendText(text))
	}
	return f
}

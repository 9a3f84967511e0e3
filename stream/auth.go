package stream

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"slices"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
)

// authenticate offers SASL, in the RFC 6120 profile and in XEP-0388
// SASL2, and runs exchanges until one succeeds or the attempts are used
// up (RFC 6120 §6). It returns a session handler when a SASL2
// authentication bound or resumed a session inline.
func (n *negotiation) authenticate(ctx context.Context) (SessionHandler, error) {
	o := &authOffer{binding: n.channelBinding()}
	o.login, _ = n.host.(LoginHost)
	mechs := stanza.New(NSSASL, "mechanisms")
	for _, m := range sasl.Mechanisms() {
		if m.NeedsTLS && !n.c.secure {
			continue
		}
		if isPlus(m.Name) && len(o.binding.Types) == 0 {
			continue
		}
		o.mechs = append(o.mechs, m)
		mechs.Append(stanza.New(NSSASL, "mechanism").AppendText(m.Name))
	}
	if o.login != nil && o.login.FAST() && n.c.secure {
		o.fast = sasl.TokenMechanisms(o.binding)
	}
	o.plus = slices.ContainsFunc(o.mechs, func(m sasl.Mechanism) bool { return isPlus(m.Name) })
	o.adv = &sasl.Advertisement{ChannelBindings: o.binding.Types, CBAdvertised: len(o.binding.Types) > 0}
	for _, m := range o.mechs {
		o.adv.Mechanisms = append(o.adv.Mechanisms, m.Name)
	}
	f := features(mechs)
	if len(o.binding.Types) > 0 {
		cb := stanza.New(NSSASLCB, "sasl-channel-binding")
		for _, t := range o.binding.Types {
			cb.Append(stanza.New(NSSASLCB, "channel-binding", "type", t))
		}
		f.Append(cb)
	}
	if len(o.mechs) > 0 {
		f.Append(n.sasl2Feature(o))
	}
	for _, extra := range n.host.PreAuthFeatures() {
		f.Append(extra)
	}
	if err := n.send(f); err != nil {
		return nil, err
	}
	var pending *stanza.Element // an <auth/> that replaced an unfinished exchange
	for {
		el := pending
		pending = nil
		if el == nil {
			var err error
			if el, err = n.next(); err != nil {
				return nil, err
			}
		}
		if el.Name.Space == stanza.NSClient && el.Name.Local == "iq" && n.preAuthIQ(ctx, el) {
			continue
		}
		if el.Name.Space == NSSASL2 && el.Name.Local == "authenticate" {
			h, err := n.attempt2(ctx, o, el)
			if err != nil || !n.bare.IsZero() {
				return h, err
			}
			continue
		}
		if el.Name.Space != NSSASL || el.Name.Local != "auth" {
			return nil, &stanza.StreamError{Condition: "not-authorized", Text: "authenticate first"}
		}
		idx := slices.IndexFunc(o.mechs, func(m sasl.Mechanism) bool { return m.Name == el.Get("mechanism") })
		if idx < 0 {
			n.send(saslFailure("invalid-mechanism", ""))
			continue
		}
		if err := n.throttle(saslFailure); err != nil {
			return nil, err
		}
		neg := o.mechs[idx].New(n.saslConfig(o))
		bare, err := n.exchange(ctx, neg, el)
		if err == nil {
			n.authFinished(o.mechs[idx].Name, neg.Username(), nil)
			n.bare = bare
			// Restart, not Reset: the restarted stream continues the
			// same input, and the decoder then accepts white space (a
			// keepalive) before the new header's XML declaration.
			n.c.dec.Restart()
			n.header = false
			return nil, nil
		}
		var again *newAuth
		if errors.As(err, &again) {
			// An abandoned exchange never checked a password, so it does
			// not count as a failed attempt.
			pending = again.auth
			continue
		}
		if err := n.failed(o.mechs[idx].Name, neg.Username(), err, saslFailure); err != nil {
			return nil, err
		}
	}
}

// attempt2 runs one SASL2 attempt; a failed one is answered and counted
// and returns no error unless the stream must end.
func (n *negotiation) attempt2(ctx context.Context, o *authOffer, el *stanza.Element) (SessionHandler, error) {
	req, err := n.parseAuthenticate(o, el)
	if err != nil {
		var f *sasl.Failure
		errors.As(err, &f)
		n.send(sasl2Failure(f.Condition, f.Text))
		return nil, nil
	}
	if err := n.throttle(sasl2Failure); err != nil {
		return nil, err
	}
	h, err := n.authenticate2(ctx, o, req)
	if err == nil {
		return h, nil
	}
	user := ""
	var ae *authError
	if errors.As(err, &ae) {
		user = ae.user
	}
	return nil, n.failed(req.mech.Name, user, err, sasl2Failure)
}

// throttle refuses an attempt when the address has failed too often.
func (n *negotiation) throttle(failure func(condition, text string) *stanza.Element) error {
	if n.cfg.Throttle != nil && !n.cfg.Throttle.Allow(n.c.addr, "") {
		n.send(failure("temporary-auth-failure", "too many failed attempts, try later"))
		return &stanza.StreamError{Condition: "policy-violation", Text: "too many failed authentication attempts"}
	}
	return nil
}

// failed answers a failed exchange with failure and counts it; it returns
// err itself when it is no *sasl.Failure, and a stream error when the
// attempts are used up.
func (n *negotiation) failed(mech, user string, err error, failure func(condition, text string) *stanza.Element) error {
	var f *sasl.Failure
	if !errors.As(err, &f) {
		return err
	}
	n.authFinished(mech, user, f)
	n.send(failure(f.Condition, f.Text))
	if !guessed(f) {
		return nil
	}
	n.failures++
	if n.cfg.Throttle != nil {
		n.cfg.Throttle.Failed(n.c.addr, user)
	}
	if n.failures >= n.cfg.MaxAuthAttempts {
		return &stanza.StreamError{Condition: "policy-violation", Text: "too many failed authentication attempts"}
	}
	return nil
}

// saslConfig is the mechanism configuration for this stream.
func (n *negotiation) saslConfig(o *authOffer) sasl.Config {
	return sasl.Config{
		Lookup:         n.host.Credentials,
		Binding:        o.binding,
		PlusAdvertised: o.plus,
		Iterations:     n.cfg.SCRAMIterations,
		FakeSecret:     n.cfg.FakeSecret,
		Advertised:     o.adv,
	}
}

// exchange runs one SASL exchange started by auth and returns the
// authenticated bare JID, or a *sasl.Failure.
func (n *negotiation) exchange(ctx context.Context, neg sasl.Negotiator, auth *stanza.Element) (jid.JID, error) {
	resp, err := decodeSASL(auth)
	for {
		if err != nil {
			return jid.JID{}, err
		}
		challenge, done, err := neg.Step(ctx, resp)
		if err != nil {
			return jid.JID{}, err
		}
		if done {
			bare, err := jid.New(neg.Username(), n.c.domain, "")
			if err != nil {
				return jid.JID{}, &sasl.Failure{Condition: "not-authorized"}
			}
			if a := neg.AuthzID(); a != "" {
				aj, err := jid.Parse(a)
				if err != nil || aj != bare {
					return jid.JID{}, &sasl.Failure{Condition: "invalid-authzid"}
				}
			}
			if err := n.send(encodeSASL("success", challenge)); err != nil {
				return jid.JID{}, err
			}
			return bare, nil
		}
		if err := n.send(encodeSASL("challenge", challenge)); err != nil {
			return jid.JID{}, err
		}
		el, rerr := n.next()
		if rerr != nil {
			return jid.JID{}, rerr
		}
		switch {
		case el.Name.Space == NSSASL && el.Name.Local == "response":
			resp, err = decodeSASL(el)
		case el.Name.Space == NSSASL && el.Name.Local == "abort":
			return jid.JID{}, &sasl.Failure{Condition: "aborted"}
		case el.Name.Space == NSSASL && el.Name.Local == "auth":
			// RFC 6120 §6.4.2: a new <auth/> before the handshake has
			// completed discards it and starts a new one.
			return jid.JID{}, &newAuth{el}
		default:
			return jid.JID{}, &stanza.StreamError{Condition: "not-authorized", Text: "unexpected element during authentication"}
		}
	}
}

// newAuth is returned by exchange when the client started a new exchange
// with auth before finishing the current one.
type newAuth struct{ auth *stanza.Element }

func (*newAuth) Error() string { return "sasl: exchange replaced by a new <auth/>" }

// guessed reports whether a failed exchange may have tested a password and
// so counts against the attempt limits. An abort does not (RFC 6120
// §6.4.5), nor does a channel binding type the server lacks: COMPAT
// slixmpp 1.8 tries SCRAM-*-PLUS with tls-unique, which TLS 1.3 does not
// define, before falling back to plain SCRAM.
func guessed(f *sasl.Failure) bool {
	return f.Condition != "aborted" && f.Text != "unsupported-channel-binding-type"
}

func saslFailure(condition, text string) *stanza.Element {
	f := stanza.New(NSSASL, "failure").Append(stanza.New(NSSASL, condition))
	if text != "" {
		f.Append(stanza.New(NSSASL, "text").AppendText(text))
	}
	return f
}

func isPlus(name string) bool { return len(name) > 5 && name[len(name)-5:] == "-PLUS" }

// channelBinding returns the channel binding types the TLS connection
// supports: tls-exporter (RFC 9266) when TLS 1.3 or the extended master
// secret makes it safe, and tls-server-end-point (RFC 5929).
func (n *negotiation) channelBinding() sasl.ChannelBinding {
	if n.tlsConn == nil {
		return sasl.ChannelBinding{}
	}
	cs := n.tlsConn.ConnectionState()
	var types []string
	// TLS 1.3 always has the exporter; TLS 1.2 only with the extended
	// master secret, which only an attempt tells (deriving it costs a
	// dozen HMACs, for a binding few clients use).
	if cs.Version >= tls.VersionTLS13 {
		types = append(types, "tls-exporter")
	} else if _, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err == nil {
		types = append(types, "tls-exporter")
	}
	leaf := n.leaf(cs)
	if leaf != nil {
		types = append(types, "tls-server-end-point")
	}
	return sasl.ChannelBinding{
		Types: types,
		Data: func(t string) ([]byte, error) {
			switch {
			case t == "tls-exporter" && slices.Contains(types, t):
				return cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			case t == "tls-server-end-point" && leaf != nil:
				return endPointHash(leaf), nil
			}
			return nil, fmt.Errorf("channel binding %q not available", t)
		},
	}
}

// leaf returns the certificate the server presented on this connection.
func (n *negotiation) leaf(cs tls.ConnectionState) *x509.Certificate {
	if n.cfg.TLS == nil || n.cfg.TLS.GetCertificate == nil && len(n.cfg.TLS.Certificates) == 0 {
		return nil
	}
	var cert *tls.Certificate
	if n.cfg.TLS.GetCertificate != nil {
		c, err := n.cfg.TLS.GetCertificate(&tls.ClientHelloInfo{ServerName: cs.ServerName})
		if err != nil {
			return nil
		}
		cert = c
	} else {
		cert = &n.cfg.TLS.Certificates[0]
	}
	if cert.Leaf != nil {
		return cert.Leaf
	}
	if len(cert.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// endPointHash is the tls-server-end-point binding data: the certificate
// hashed with its signature's hash, SHA-256 for MD5 and SHA-1 (RFC 5929 §4.1).
func endPointHash(c *x509.Certificate) []byte {
	var h hash.Hash
	switch c.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = sha512.New384()
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write(c.Raw)
	return h.Sum(nil)
}

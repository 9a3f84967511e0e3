package client

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"hearth/stanza"
)

// SCRAM bounds. A server could otherwise make the client spend minutes
// in PBKDF2 (RFC 5802 §9 leaves the bound to the client).
const (
	scramMinIterations = 1
	scramMaxIterations = 1 << 20
	scramNonceBytes    = 18
)

// preference is the order in which Dial picks an offered mechanism.
var preference = []string{SCRAMSHA256, SCRAMSHA1, Plain}

// authenticate runs SASL (RFC 6120 §6) and reopens the stream.
func (n *negotiation) authenticate() error {
	offered := n.mechanisms()
	mech := n.cfg.Mechanism
	if mech == "" {
		for _, m := range preference {
			if slices.Contains(offered, m) {
				mech = m
				break
			}
		}
		if mech == "" {
			return fmt.Errorf("client: no supported SASL mechanism among %v", offered)
		}
	} else if !slices.Contains(offered, mech) {
		return fmt.Errorf("client: the server does not offer %s (offered: %v)", mech, offered)
	}
	var err error
	switch mech {
	case Plain:
		err = n.plain()
	case SCRAMSHA1:
		err = n.scram(mech, sha1.New)
	case SCRAMSHA256:
		err = n.scram(mech, sha256.New)
	default:
		return fmt.Errorf("client: mechanism %s is not implemented", mech)
	}
	if err != nil {
		return err
	}
	return n.open()
}

// mechanisms lists the offered SASL mechanisms.
func (n *negotiation) mechanisms() []string {
	var names []string
	if m := n.features.Child(NSSASL, "mechanisms"); m != nil {
		for _, e := range m.Elements() {
			if e.Name.Local == "mechanism" {
				names = append(names, strings.TrimSpace(e.Text()))
			}
		}
	}
	return names
}

// plain runs PLAIN (RFC 4616) with an empty authorization identity.
func (n *negotiation) plain() error {
	msg := "\x00" + n.cfg.JID.Local() + "\x00" + n.cfg.Password
	if err := n.send(saslElement("auth", Plain, []byte(msg))); err != nil {
		return err
	}
	el, err := n.saslStep(Plain)
	if err != nil {
		return err
	}
	if el.Name.Local != "success" {
		return fmt.Errorf("client: PLAIN: unexpected <%s/>", el.Name.Local)
	}
	return nil
}

// scram runs SCRAM (RFC 5802; RFC 7677 for SHA-256) without channel
// binding, and checks the server's signature: a server that does not
// prove it knows the password is an error even if it says success.
func (n *negotiation) scram(mech string, h func() hash.Hash) error {
	nonce := make([]byte, scramNonceBytes)
	rand.Read(nonce)
	cnonce := base64.RawStdEncoding.EncodeToString(nonce)
	const gs2 = "n,,"
	clientFirstBare := "n=" + saslName(n.cfg.JID.Local()) + ",r=" + cnonce
	if err := n.send(saslElement("auth", mech, []byte(gs2+clientFirstBare))); err != nil {
		return err
	}

	el, err := n.saslStep(mech)
	if err != nil {
		return err
	}
	if el.Name.Local != "challenge" {
		return fmt.Errorf("client: %s: expected a challenge, got <%s/>", mech, el.Name.Local)
	}
	serverFirst, err := saslData(el)
	if err != nil {
		return err
	}
	attrs := scramAttrs(string(serverFirst))
	snonce, saltB64, iterStr := attrs["r"], attrs["s"], attrs["i"]
	if _, bad := attrs["m"]; bad {
		return fmt.Errorf("client: %s: the server requires an unsupported extension", mech)
	}
	if !strings.HasPrefix(snonce, cnonce) || len(snonce) == len(cnonce) {
		return fmt.Errorf("client: %s: the server nonce does not extend ours", mech)
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil || len(salt) == 0 {
		return fmt.Errorf("client: %s: bad salt", mech)
	}
	iter, err := strconv.Atoi(iterStr)
	if err != nil || iter < scramMinIterations || iter > scramMaxIterations {
		return fmt.Errorf("client: %s: iteration count %q out of range", mech, iterStr)
	}

	clientFinalNoProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2)) + ",r=" + snonce
	authMessage := clientFirstBare + "," + string(serverFirst) + "," + clientFinalNoProof
	proof, serverSig, err := n.cfg.Keys.proof(mech, h, n.cfg.Password, salt, iter, authMessage)
	if err != nil {
		return err
	}

	final := clientFinalNoProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
	if err := n.send(saslElement("response", "", []byte(final))); err != nil {
		return err
	}
	el, err = n.saslStep(mech)
	if err != nil {
		return err
	}
	serverFinal, err := saslData(el)
	if err != nil {
		return err
	}
	if el.Name.Local == "challenge" {
		// COMPAT: RFC 6120 §6.3.10 allows the server-final-message as a
		// last challenge, answered by an empty response, before success.
		if err := n.send(saslElement("response", "", nil)); err != nil {
			return err
		}
		if el, err = n.saslStep(mech); err != nil {
			return err
		}
		if el.Name.Local != "success" {
			return fmt.Errorf("client: %s: unexpected <%s/>", mech, el.Name.Local)
		}
	}
	fa := scramAttrs(string(serverFinal))
	if e, ok := fa["e"]; ok {
		return &AuthError{Mechanism: mech, Condition: "not-authorized", Text: "server-error " + e}
	}
	v, err := base64.StdEncoding.DecodeString(fa["v"])
	if err != nil || !hmac.Equal(v, serverSig) {
		return fmt.Errorf("client: %s: the server's signature is wrong: it does not know the password", mech)
	}
	return nil
}

// saslStep reads the next SASL element; a <failure/> becomes an
// *AuthError.
func (n *negotiation) saslStep(mech string) (*stanza.Element, error) {
	el, err := n.next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space != NSSASL {
		return nil, fmt.Errorf("client: %s: unexpected %s during SASL", mech, el)
	}
	if el.Name.Local == "failure" {
		ae := &AuthError{Mechanism: mech, Condition: "not-authorized"}
		for _, c := range el.Elements() {
			if c.Name.Local == "text" {
				ae.Text = c.Text()
			} else {
				ae.Condition = c.Name.Local
			}
		}
		return nil, ae
	}
	return el, nil
}

// saslElement builds <auth/>, <response/>: the data base64-encoded, "="
// for empty data (RFC 6120 §6.4.2).
func saslElement(local, mech string, data []byte) *stanza.Element {
	el := stanza.New(NSSASL, local)
	if mech != "" {
		el.Set("mechanism", mech)
	}
	if local == "auth" && len(data) == 0 {
		return el.AppendText("=")
	}
	return el.AppendText(base64.StdEncoding.EncodeToString(data))
}

// saslData decodes the base64 content of a challenge or success.
func saslData(el *stanza.Element) ([]byte, error) {
	t := strings.TrimSpace(el.Text())
	if t == "" || t == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		return nil, errors.New("client: SASL data is not base64")
	}
	return b, nil
}

// scramAttrs splits "a=1,b=2" into a map; later duplicates are ignored.
func scramAttrs(s string) map[string]string {
	m := make(map[string]string, 4)
	for part := range strings.SplitSeq(s, ",") {
		if len(part) < 2 || part[1] != '=' {
			continue
		}
		if _, dup := m[part[:1]]; !dup {
			m[part[:1]] = part[2:]
		}
	}
	return m
}

// saslName escapes a username for SCRAM (RFC 5802 §5.1).
func saslName(s string) string {
	s = strings.ReplaceAll(s, "=", "=3D")
	return strings.ReplaceAll(s, ",", "=2C")
}

// KeyCache remembers SCRAM salted passwords (RFC 5802 §3 SaltedPassword)
// by mechanism, password, salt and iteration count. It is safe for
// concurrent use and grows without bound: it is meant for tools that log
// in to a known set of accounts.
type KeyCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// proof is scramProof with the salted password taken from c when it has
// it. A nil c derives every time.
func (c *KeyCache) proof(mech string, h func() hash.Hash, password string, salt []byte, iter int, authMessage string) (proof, serverSig []byte, err error) {
	if c == nil {
		return scramProof(h, password, salt, iter, authMessage, nil)
	}
	key := mech + "\x00" + strconv.Itoa(iter) + "\x00" + string(salt) + "\x00" + password
	c.mu.Lock()
	salted := c.m[key]
	c.mu.Unlock()
	if salted == nil {
		if salted, err = pbkdf2.Key(h, password, salt, iter, h().Size()); err != nil {
			return nil, nil, err
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = make(map[string][]byte)
		}
		c.m[key] = salted
		c.mu.Unlock()
	}
	return scramProof(h, password, salt, iter, authMessage, salted)
}

// scramProof computes the ClientProof and the expected ServerSignature of
// RFC 5802 §3. salted is the SaltedPassword when known, else nil.
func scramProof(h func() hash.Hash, password string, salt []byte, iter int, authMessage string, salted []byte) (proof, serverSig []byte, err error) {
	if salted == nil {
		if salted, err = pbkdf2.Key(h, password, salt, iter, h().Size()); err != nil {
			return nil, nil, err
		}
	}
	clientKey := hmacSum(h, salted, "Client Key")
	hs := h()
	hs.Write(clientKey)
	proof = hmacSum(h, hs.Sum(nil), authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	return proof, hmacSum(h, hmacSum(h, salted, "Server Key"), authMessage), nil
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

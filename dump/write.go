package dump

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/storage"
)

// Export writes the accounts of hosts (of every host when hosts is empty),
// with their credentials and the data of sections, as one XEP-0227
// document to w. Hosts, users and, within each section, its elements come
// in a fixed order, so the same data always gives the same bytes. Export
// reads the store as it is: accounts created or changed while it runs may
// or may not be included.
func Export(ctx context.Context, st storage.Store, w io.Writer, hosts []string, sections []Section) error {
	accounts, err := st.Accounts().List(ctx, "")
	if err != nil {
		return fmt.Errorf("dump: listing accounts: %w", err)
	}
	accounts = slices.DeleteFunc(accounts, func(a storage.Account) bool {
		return len(hosts) > 0 && !slices.Contains(hosts, a.Host)
	})
	// Bytewise order, whatever the backend's collation.
	slices.SortFunc(accounts, func(a, b storage.Account) int {
		return strings.Compare(a.Host+"\x00"+a.User, b.Host+"\x00"+b.User)
	})
	bw := bufio.NewWriter(w)
	bw.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='" + NS + "'>\n")
	var buf []byte
	for i, a := range accounts {
		if i == 0 || a.Host != accounts[i-1].Host {
			if i > 0 {
				bw.WriteString("  </host>\n")
			}
			bw.WriteString("  <host jid='" + escapeAttr(a.Host) + "'>\n")
		}
		user, err := jid.New(a.User, a.Host, "")
		if err != nil {
			return fmt.Errorf("dump: account %s@%s: %w", a.User, a.Host, err)
		}
		els := credentialElements(a.Credentials)
		for _, s := range sections {
			more, err := s.Export(ctx, st, user)
			if err != nil {
				return fmt.Errorf("dump: %s of %s: %w", s.Name, user, err)
			}
			els = append(els, more...)
		}
		buf = append(buf[:0], "    <user name='"...)
		buf = append(buf, escapeAttr(a.User)...)
		if len(els) == 0 {
			buf = append(buf, "'/>"...)
		} else {
			buf = append(buf, "'>\n"...)
			for _, el := range els {
				buf = append(buf, "      "...)
				buf = stanza.Append(buf, el, NS)
				buf = append(buf, '\n')
			}
			buf = append(buf, "    </user>"...)
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	if len(accounts) > 0 {
		bw.WriteString("  </host>\n")
	}
	bw.WriteString("</server-data>\n")
	return bw.Flush()
}

// SCRAM mechanism names, as the 'mechanism' attribute gives them.
const (
	mechSHA1   = "SCRAM-SHA-1"
	mechSHA256 = "SCRAM-SHA-256"
)

// credentialElements returns the <scram-credentials/> of c, SHA-1 first;
// a hash without a stored key has none.
func credentialElements(c sasl.Credentials) []*stanza.Element {
	var els []*stanza.Element
	for _, x := range []struct {
		mech string
		key  sasl.SCRAMKey
	}{{mechSHA1, c.SHA1}, {mechSHA256, c.SHA256}} {
		if len(x.key.StoredKey) == 0 {
			continue
		}
		b64 := base64.StdEncoding.EncodeToString
		els = append(els, stanza.New(NSSCRAM, "scram-credentials", "mechanism", x.mech).Append(
			stanza.New(NSSCRAM, "iter-count").AppendText(strconv.Itoa(x.key.Iterations)),
			stanza.New(NSSCRAM, "salt").AppendText(b64(x.key.Salt)),
			stanza.New(NSSCRAM, "server-key").AppendText(b64(x.key.ServerKey)),
			stanza.New(NSSCRAM, "stored-key").AppendText(b64(x.key.StoredKey)),
		))
	}
	return els
}

// parseCredentials reads one <scram-credentials/> into c. It returns
// ok false, without error, for a mechanism hearth does not store (such as
// SCRAM-SHA-512).
func parseCredentials(el *stanza.Element, c *sasl.Credentials) (ok bool, err error) {
	var dst *sasl.SCRAMKey
	switch m := el.Get("mechanism"); m {
	case mechSHA1:
		dst = &c.SHA1
	case mechSHA256:
		dst = &c.SHA256
	default:
		return false, nil
	}
	if len(dst.StoredKey) > 0 {
		return false, fmt.Errorf("two <scram-credentials/> for %s", el.Get("mechanism"))
	}
	text := func(local string) (string, error) {
		var found []*stanza.Element
		for _, ch := range el.Elements() {
			if ch.Name.Space == NSSCRAM && ch.Name.Local == local {
				found = append(found, ch)
			}
		}
		if len(found) != 1 {
			return "", fmt.Errorf("%s: want one <%s/>, have %d", el.Get("mechanism"), local, len(found))
		}
		return strings.TrimSpace(found[0].Text()), nil
	}
	var k sasl.SCRAMKey
	s, err := text("iter-count")
	if err != nil {
		return false, err
	}
	// A positive integer without leading zeros (XEP-0227 §4.3).
	if k.Iterations, err = strconv.Atoi(s); err != nil || k.Iterations <= 0 || s[0] == '0' || s[0] == '+' {
		return false, fmt.Errorf("%s: bad iter-count %q", el.Get("mechanism"), s)
	}
	for _, f := range []struct {
		local string
		dst   *[]byte
	}{{"salt", &k.Salt}, {"server-key", &k.ServerKey}, {"stored-key", &k.StoredKey}} {
		s, err := text(f.local)
		if err != nil {
			return false, err
		}
		if *f.dst, err = base64.StdEncoding.DecodeString(s); err != nil || len(*f.dst) == 0 {
			return false, fmt.Errorf("%s: bad base64 in <%s/>", el.Get("mechanism"), f.local)
		}
	}
	*dst = k
	return true, nil
}

// escapeAttr escapes s for an attribute value in single or double quotes.
func escapeAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // writes to a Builder never fail
	return b.String()
}

package dump

import (
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"hearth/jid"
	"hearth/mod/roster"
	"hearth/sasl"
	"hearth/stanza"
)

// maxProsodyFile bounds the size of one Prosody data file read.
const maxProsodyFile = 16 << 20

// ReadProsody reads the accounts and rosters of a Prosody data directory
// in its default storage ("internal": one Lua data file per user and store,
// DIR/<host>/<store>/<user>.dat, host and user percent-encoded) and calls
// fn with each user, hosts and users in bytewise order, as Read does for a
// XEP-0227 dump. When host is not "", only that host is read.
//
// Accounts come with a plaintext password (authentication =
// "internal_plain") or with SCRAM keys (internal_hashed: stored_key and
// server_key in hex, salt, iteration_count); the hash is told by the key
// length, SHA-1 for every Prosody release so far. Rosters become the
// elements RosterSection imports, with the pending inbound requests Prosody
// keeps. Users whose other stores (vcard, private, offline, pep...) have
// data get a note in User.Skipped: those are not imported yet.
func ReadProsody(dir, host string, fn func(User) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dump: prosody data: %w", err)
	}
	var hosts []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		h, err := prosodyDecode(e.Name())
		if err != nil {
			continue // not a host directory
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "accounts")); err != nil {
			continue // a host without accounts: a component, or a MUC service
		}
		if host == "" || h == host {
			hosts = append(hosts, e.Name())
		}
	}
	if len(hosts) == 0 {
		if host != "" {
			return fmt.Errorf("dump: prosody data: no accounts of %s in %s", host, dir)
		}
		return fmt.Errorf("dump: prosody data: no host with accounts in %s", dir)
	}
	slices.SortFunc(hosts, func(a, b string) int { return strings.Compare(mustDecode(a), mustDecode(b)) })
	for _, h := range hosts {
		if err := readProsodyHost(filepath.Join(dir, h), mustDecode(h), fn); err != nil {
			return err
		}
	}
	return nil
}

func readProsodyHost(dir, host string, fn func(User) error) error {
	files, err := os.ReadDir(filepath.Join(dir, "accounts"))
	if err != nil {
		return fmt.Errorf("dump: prosody data: %w", err)
	}
	var users []string
	for _, f := range files {
		name, ok := strings.CutSuffix(f.Name(), ".dat")
		if !ok || f.IsDir() {
			continue
		}
		if _, err := prosodyDecode(name); err != nil {
			return fmt.Errorf("dump: prosody data: %s/accounts/%s: %w", host, f.Name(), err)
		}
		users = append(users, name)
	}
	slices.SortFunc(users, func(a, b string) int { return strings.Compare(mustDecode(a), mustDecode(b)) })
	stores, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, name := range users {
		u := User{Host: host, Name: mustDecode(name)}
		where := host + "/" + name
		acct, err := readLuaFile(filepath.Join(dir, "accounts", name+".dat"))
		if err != nil {
			return fmt.Errorf("dump: prosody data: %s account: %w", where, err)
		}
		if err := prosodyAccount(acct, &u); err != nil {
			return fmt.Errorf("dump: prosody data: %s account: %w", where, err)
		}
		rost, err := readLuaFile(filepath.Join(dir, "roster", name+".dat"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("dump: prosody data: %s roster: %w", where, err)
		default:
			els, err := prosodyRoster(rost)
			if err != nil {
				return fmt.Errorf("dump: prosody data: %s roster: %w", where, err)
			}
			u.Data = append(u.Data, els...)
		}
		for _, s := range stores {
			switch s.Name() {
			case "accounts", "roster":
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, s.Name(), name+".dat")); err == nil {
				u.Skipped = append(u.Skipped, "prosody store "+s.Name())
			} else if _, err := os.Stat(filepath.Join(dir, s.Name(), name+".list")); err == nil {
				u.Skipped = append(u.Skipped, "prosody store "+s.Name())
			}
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// readLuaFile reads and parses a data file whose value must be a table.
func readLuaFile(path string) (luaTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxProsodyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxProsodyFile)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return nil, err
	}
	v, err := parseLuaData(string(b))
	if err != nil {
		return nil, err
	}
	t, ok := v.(luaTable)
	if !ok {
		return nil, errNotTable
	}
	return t, nil
}

// prosodyAccount sets the credentials of u from an accounts record.
func prosodyAccount(t luaTable, u *User) error {
	if pw, ok := t["password"].(string); ok && pw != "" {
		u.Password = pw
		return nil
	}
	stored, _ := t["stored_key"].(string)
	server, _ := t["server_key"].(string)
	salt, _ := t["salt"].(string)
	iter, _ := t["iteration_count"].(float64)
	if stored == "" && server == "" {
		return nil // no credentials: the importer warns
	}
	k := sasl.SCRAMKey{Salt: []byte(salt), Iterations: int(iter)}
	var err error
	if k.StoredKey, err = hex.DecodeString(stored); err != nil {
		return fmt.Errorf("stored_key: %w", err)
	}
	if k.ServerKey, err = hex.DecodeString(server); err != nil {
		return fmt.Errorf("server_key: %w", err)
	}
	if salt == "" || iter < 1 || iter != float64(k.Iterations) {
		return errors.New("hashed password without salt or iteration_count")
	}
	switch {
	case len(k.StoredKey) == 20 && len(k.ServerKey) == 20:
		u.Credentials.SHA1 = k
	case len(k.StoredKey) == 32 && len(k.ServerKey) == 32:
		u.Credentials.SHA256 = k
	default:
		return fmt.Errorf("SCRAM keys of %d and %d bytes: unknown hash", len(k.StoredKey), len(k.ServerKey))
	}
	return nil
}

// prosodyRoster converts a roster record: contact JID -> {subscription,
// ask, name, groups = {[group] = true}, approved}, and under the key false
// the roster's metadata with pending = {[jid] = true}, the inbound
// subscription requests.
func prosodyRoster(t luaTable) ([]*stanza.Element, error) {
	var contacts, pending []string
	for k, v := range t {
		switch k := k.(type) {
		case string:
			if _, ok := v.(luaTable); !ok {
				return nil, fmt.Errorf("item %s is not a table", k)
			}
			contacts = append(contacts, k)
		case bool:
			meta, _ := v.(luaTable)
			p, _ := meta["pending"].(luaTable)
			for j := range p {
				if s, ok := j.(string); ok {
					pending = append(pending, s)
				}
			}
		}
	}
	slices.Sort(contacts)
	slices.Sort(pending)
	query := stanza.New(roster.NS, "query")
	for _, c := range contacts {
		it := t[c].(luaTable)
		el := stanza.New(roster.NS, "item", "jid", c)
		name, _ := it["name"].(string)
		el.Set("name", name)
		sub, _ := it["subscription"].(string)
		el.Set("subscription", sub)
		if ask, _ := it["ask"].(string); ask == "subscribe" {
			el.Set("ask", ask)
		}
		if ap, _ := it["approved"].(bool); ap {
			el.Set("approved", "true")
		}
		// Prosody keeps groups as a set: their order is lost, so sort.
		gs, _ := it["groups"].(luaTable)
		var groups []string
		for g := range gs {
			if s, ok := g.(string); ok {
				groups = append(groups, s)
			}
		}
		slices.Sort(groups)
		for _, g := range groups {
			el.Append(stanza.New(roster.NS, "group").AppendText(g))
		}
		query.Append(el)
	}
	els := []*stanza.Element{query}
	for _, p := range pending {
		if _, err := jid.Parse(p); err != nil {
			return nil, fmt.Errorf("pending request from %q: %w", p, err)
		}
		els = append(els, &stanza.Element{
			Name: xml.Name{Space: stanza.NSClient, Local: "presence"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "subscribe"}, {Name: xml.Name{Local: "from"}, Value: p}},
		})
	}
	return els, nil
}

// prosodyDecode undoes Prosody's encoding of host and user names in file
// names, which writes every byte other than a letter or digit as %xx.
func prosodyDecode(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+3 > len(s) {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// mustDecode is prosodyDecode of a name already checked.
func mustDecode(s string) string {
	d, _ := prosodyDecode(s)
	return d
}

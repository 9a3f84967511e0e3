// Package upload implements XEP-0363: HTTP File Upload, as a service
// domain (upload.<host>) that hands out upload slots over XMPP and serves
// the files on the server's web listeners.
package upload

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces of XEP-0363 and the disco queries the service answers.
const (
	NS          = "urn:xmpp:http:upload:0"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	nsDiscoItem = "http://jabber.org/protocol/disco#items"
)

// Config is the [upload] section. Sizes are bytes, durations seconds; a
// quota of 0 means none.
type Config struct {
	// Domain is the service's domain (default "upload.<host>").
	Domain string `toml:"domain"`
	// MaxFileSize is the largest file accepted (default 100 MiB).
	MaxFileSize int64 `toml:"max_file_size"`
	// Quota bounds what one user keeps stored at a time (default 2 GiB).
	Quota int64 `toml:"quota"`
	// DailyQuota bounds what one user uploads in 24 hours (default 1 GiB).
	DailyQuota int64 `toml:"daily_quota"`
	// ExpireAfter is how long a file is kept after its upload (default 30
	// days); a background cleaner removes it then.
	ExpireAfter int64 `toml:"expire_after"`
	// SlotTimeout is how long a slot may wait for its upload (default 300).
	SlotTimeout int64 `toml:"slot_timeout"`
	// CleanupInterval is the time between two runs of the cleaner
	// (default 3600).
	CleanupInterval int64 `toml:"cleanup_interval"`
	// URLBase replaces the web server's base URL in slot URLs, for a
	// reverse proxy ("https://files.example.org"); /upload/<host>/... is
	// appended to it.
	URLBase string `toml:"url_base"`
}

// Module serves XEP-0363 on Config.Domain. Without an http or https
// listener it registers nothing: a slot would point nowhere.
var Module = module.New("upload", Config{
	MaxFileSize:     100 << 20,
	Quota:           2 << 30,
	DailyQuota:      1 << 30,
	ExpireAfter:     30 * 24 * 3600,
	SlotTimeout:     300,
	CleanupInterval: 3600,
}, start).WithSection("upload")

// service is the upload service of one virtual host.
type service struct {
	h      *module.Host
	cfg    Config
	domain string // service domain
	prefix string // URL path prefix of its files: /upload/<host>
	files  Files
	meta   storage.Map // owner: uploader's bare JID, key: slot id -> record
	index  storage.Map // owner: the host, key: slot id -> uploader
	secret []byte      // signs PUT URLs

	mu       sync.Mutex
	inFlight map[string]bool // slots being uploaded right now
	// slotMu serializes quota checks with the slot they allow.
	slotMu sync.Mutex
}

func start(h *module.Host, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	web := h.HTTP()
	if web == nil {
		h.Logger().Debug("upload disabled: no [listen] http or https")
		return nil
	}
	if cfg.Domain == "" {
		cfg.Domain = "upload." + h.Domain()
	}
	dir := filepath.Join(h.Settings().DataDir, "upload", h.Domain())
	files, err := newDirFiles(dir)
	if err != nil {
		return err
	}
	s := &service{
		h: h, cfg: cfg, files: files, domain: cfg.Domain,
		prefix:   "/upload/" + h.Domain(),
		meta:     h.Map("upload"),
		index:    h.Map("upload_index"),
		inFlight: map[string]bool{},
	}
	if s.secret, err = s.loadSecret(); err != nil {
		return err
	}
	h.AddService(cfg.Domain, "HTTP File Upload", s.handle)
	if err := s.register(web); err != nil {
		return err
	}
	h.Go(s.cleaner)
	return nil
}

func (c *Config) validate() error {
	for _, v := range []struct {
		key string
		n   int64
	}{{"max_file_size", c.MaxFileSize}, {"expire_after", c.ExpireAfter}, {"slot_timeout", c.SlotTimeout}, {"cleanup_interval", c.CleanupInterval}} {
		if v.n <= 0 {
			return fmt.Errorf("upload.%s: must be positive", v.key)
		}
	}
	if c.Quota < 0 || c.DailyQuota < 0 {
		return errors.New("upload.quota, daily_quota: must not be negative (0 means none)")
	}
	if c.URLBase != "" && !strings.HasPrefix(c.URLBase, "https://") && !strings.HasPrefix(c.URLBase, "http://") {
		return fmt.Errorf("upload.url_base: %q is not an http:// or https:// URL", c.URLBase)
	}
	return nil
}

// secretKey names the signing secret in the index map; slot ids are hex
// and never collide with it.
const secretKey = "secret"

func (s *service) loadSecret() ([]byte, error) {
	ctx := context.Background()
	secret, err := s.index.Get(ctx, s.h.Domain(), secretKey)
	if err == nil && len(secret) == 32 {
		return secret, nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("upload: %w", err)
	}
	secret = make([]byte, 32)
	rand.Read(secret)
	if err := s.index.Set(ctx, s.h.Domain(), secretKey, secret); err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	return secret, nil
}

// handle receives every stanza addressed to the service domain.
func (s *service) handle(ctx context.Context, st *stanza.Element, from, to jid.JID) {
	typ := st.Get("type")
	if typ == stanza.ErrorType || st.Name.Local == "presence" {
		return
	}
	if st.Name.Local == "message" {
		s.reply(ctx, stanza.ErrorReply(st, stanza.NewError("service-unavailable")), from, to)
		return
	}
	if typ == stanza.Result {
		return
	}
	payload, err := s.answer(ctx, st, from, to)
	var reply *stanza.Element
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			s.h.Logger().Error("upload slot failed", "err", err)
			se = stanza.NewError("internal-server-error")
		}
		reply = stanza.ErrorReply(st, se)
	} else {
		reply = stanza.ResultReply(st, payload)
	}
	s.reply(ctx, reply, from, to)
}

func (s *service) reply(ctx context.Context, reply *stanza.Element, from, to jid.JID) {
	reply.Set("from", to.String())
	reply.Set("to", from.String())
	s.h.Route(ctx, reply)
}

// answer returns the payload of the result of an IQ get or set.
func (s *service) answer(ctx context.Context, iq *stanza.Element, from, to jid.JID) (*stanza.Element, error) {
	payload := iq.FirstElement()
	if payload == nil || len(iq.Elements()) != 1 {
		return nil, stanza.NewError("bad-request")
	}
	if to.Local() != "" || to.Resource() != "" {
		return nil, stanza.NewError("service-unavailable")
	}
	get := iq.Get("type") == stanza.Get
	switch {
	case get && payload.Name.Space == nsDiscoInfo && payload.Name.Local == "query":
		if payload.Get("node") != "" {
			return nil, stanza.NewError("item-not-found")
		}
		return s.info(), nil
	case get && payload.Name.Space == nsDiscoItem && payload.Name.Local == "query":
		return stanza.New(nsDiscoItem, "query"), nil
	case get && payload.Name.Space == NS && payload.Name.Local == "request":
		return s.slot(ctx, payload, from)
	}
	return nil, stanza.NewError("service-unavailable")
}

// info is the service's disco#info, with the XEP-0128 form that tells
// clients the largest file they may upload (XEP-0363 §3).
func (s *service) info() *stanza.Element {
	q := stanza.New(nsDiscoInfo, "query")
	q.Append(stanza.New(nsDiscoInfo, "identity", "category", "store", "type", "file", "name", "HTTP File Upload"))
	q.Append(stanza.New(nsDiscoInfo, "feature", "var", nsDiscoInfo))
	q.Append(stanza.New(nsDiscoInfo, "feature", "var", NS))
	form := &stanza.Form{Type: stanza.FormResult, Fields: []stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldHidden, Values: []string{NS}},
		{Var: "max-file-size", Values: []string{strconv.FormatInt(s.cfg.MaxFileSize, 10)}},
	}}
	return q.Append(form.Element())
}

// maxNameBytes bounds a file name in a URL.
const maxNameBytes = 255

// slot answers a slot request (XEP-0363 §4): it checks the limits,
// reserves the size against the user's quota and returns the PUT and GET
// URLs.
func (s *service) slot(ctx context.Context, req *stanza.Element, from jid.JID) (*stanza.Element, error) {
	if from.Domain() != s.h.Domain() || from.Local() == "" {
		return nil, &stanza.Error{Type: stanza.Cancel, Condition: "not-allowed", Text: "only accounts of " + s.h.Domain() + " may upload here"}
	}
	name := cleanName(req.Get("filename"))
	size, err := strconv.ParseInt(req.Get("size"), 10, 64)
	if name == "" || err != nil || size < 0 {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "a slot request needs a filename and a size in bytes"}
	}
	if size > s.cfg.MaxFileSize {
		return nil, &stanza.Error{
			Type: stanza.Modify, Condition: "not-acceptable",
			Text: fmt.Sprintf("file too large: the maximum is %d bytes", s.cfg.MaxFileSize),
			App: stanza.New(NS, "file-too-large").Append(
				stanza.New(NS, "max-file-size").AppendText(strconv.FormatInt(s.cfg.MaxFileSize, 10))),
		}
	}
	ctype := req.Get("content-type")
	if ctype != "" && !validContentType(ctype) {
		return nil, &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: "invalid content-type"}
	}
	base := s.cfg.URLBase
	if base == "" {
		base = s.h.HTTP().BaseURL(s.h.Domain())
	}
	base = strings.TrimSuffix(base, "/")
	owner := from.Bare().String()

	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	if err := s.checkQuota(ctx, owner, size); err != nil {
		return nil, err
	}
	id := newID()
	rec := record{Name: name, Size: size, Type: ctype, Created: time.Now().UTC()}
	if err := s.meta.Set(ctx, owner, id, rec.encode()); err != nil {
		return nil, err
	}
	if err := s.index.Set(ctx, s.h.Domain(), id, []byte(owner)); err != nil {
		return nil, err
	}
	fileURL := base + s.prefix + "/" + id + "/" + url.PathEscape(name)
	putURL := fileURL + "?token=" + s.token(id)
	slot := stanza.New(NS, "slot")
	slot.Append(stanza.New(NS, "put", "url", putURL))
	slot.Append(stanza.New(NS, "get", "url", fileURL))
	return slot, nil
}

// day is the window of the daily quota.
const day = 24 * time.Hour

// checkQuota refuses a slot of size for owner when it would exceed the
// stored or the daily quota. Slots still waiting for their upload count
// as used. Caller holds s.slotMu.
func (s *service) checkQuota(ctx context.Context, owner string, size int64) error {
	if s.cfg.Quota == 0 && s.cfg.DailyQuota == 0 {
		return nil
	}
	entries, err := s.meta.All(ctx, owner)
	if err != nil {
		return err
	}
	now := time.Now()
	var stored, today int64
	var oldestToday time.Time
	for _, e := range entries {
		rec, err := decodeRecord(e.Value)
		if err != nil || s.expired(rec, now) {
			continue
		}
		stored += rec.Size
		if t := rec.Created; now.Sub(t) < day {
			today += rec.Size
			if oldestToday.IsZero() || t.Before(oldestToday) {
				oldestToday = t
			}
		}
	}
	if s.cfg.Quota > 0 && stored+size > s.cfg.Quota {
		return &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint",
			Text: fmt.Sprintf("quota reached: %d of %d bytes stored", stored, s.cfg.Quota)}
	}
	if s.cfg.DailyQuota > 0 && today+size > s.cfg.DailyQuota {
		return &stanza.Error{Type: stanza.Wait, Condition: "resource-constraint",
			Text: fmt.Sprintf("daily quota reached: %d of %d bytes uploaded in 24 hours", today, s.cfg.DailyQuota),
			App:  stanza.New(NS, "retry", "stamp", oldestToday.Add(day).UTC().Format(time.RFC3339))}
	}
	return nil
}

// token signs a slot id for its PUT URL: the GET URL, which is shared
// with others, does not allow uploading.
func (s *service) token(id string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("put\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *service) validToken(id, token string) bool {
	return hmac.Equal([]byte(token), []byte(s.token(id)))
}

// newID returns an unguessable slot id (128 random bits, hex).
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// cleanName makes a client's file name safe in a URL path segment and a
// Content-Disposition header: no path separators or control characters,
// valid UTF-8, at most maxNameBytes.
func cleanName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(name))
	if name == "." || name == ".." {
		return ""
	}
	for len(name) > maxNameBytes {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return name
}

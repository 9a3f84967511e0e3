package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"strings"
	"time"

	"hearth/module"
	"hearth/storage"
)

// idleTimeout bounds the wait for the next bytes of an upload body: a
// stalled client cannot hold a slot and a goroutine forever, however large
// the file.
const idleTimeout = 60 * time.Second

// register adds the file handlers under s.prefix: PUT uploads into a
// slot, GET (and HEAD) downloads, OPTIONS answers CORS preflight.
func (s *service) register(web module.HTTP) error {
	p := s.prefix + "/{slot}/{name}"
	for _, r := range []struct {
		method string
		fn     http.HandlerFunc
	}{{"PUT", s.put}, {"GET", s.get}, {"OPTIONS", s.options}} {
		if err := web.Handle(r.method+" "+p, r.fn); err != nil {
			return err
		}
	}
	return nil
}

// cors lets web clients on any origin upload and download (XEP-0363
// §6: browsers need it), without credentials.
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Disposition, Content-Length, Content-Range, Accept-Ranges, ETag")
}

func (s *service) options(w http.ResponseWriter, r *http.Request) {
	cors(w)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// lookup returns the uploader and record of slot id.
func (s *service) lookup(ctx context.Context, id string) (string, record, error) {
	if !validID(id) {
		return "", record{}, storage.ErrNotFound
	}
	owner, err := s.index.Get(ctx, s.h.Domain(), id)
	if err != nil {
		return "", record{}, err
	}
	raw, err := s.meta.Get(ctx, string(owner), id)
	if err != nil {
		return "", record{}, err
	}
	rec, err := decodeRecord(raw)
	return string(owner), rec, err
}

func httpError(w http.ResponseWriter, code int, text string) {
	http.Error(w, text, code)
}

// put stores the body of a PUT into its slot: once, with the size and
// content type the slot was requested with.
func (s *service) put(w http.ResponseWriter, r *http.Request) {
	cors(w)
	ctx := r.Context()
	id := r.PathValue("slot")
	if !validID(id) || !s.validToken(id, r.URL.Query().Get("token")) {
		httpError(w, http.StatusForbidden, "not an upload URL")
		return
	}
	owner, rec, err := s.lookup(ctx, id)
	if err != nil || r.PathValue("name") != rec.Name {
		httpError(w, http.StatusNotFound, "no such slot")
		return
	}
	switch {
	case !rec.Uploaded.IsZero():
		httpError(w, http.StatusConflict, "this slot has been used")
		return
	case s.expired(rec, time.Now()):
		httpError(w, http.StatusGone, "this slot has expired")
		return
	case r.ContentLength < 0:
		httpError(w, http.StatusLengthRequired, "Content-Length is required")
		return
	case r.ContentLength > rec.Size:
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the slot is for %d bytes", rec.Size))
		return
	case r.ContentLength != rec.Size:
		httpError(w, http.StatusBadRequest, fmt.Sprintf("the slot is for %d bytes", rec.Size))
		return
	}
	ctype := r.Header.Get("Content-Type")
	if rec.Type != "" && !sameMediaType(ctype, rec.Type) {
		httpError(w, http.StatusBadRequest, "Content-Type differs from the slot's")
		return
	}
	if ctype == "" {
		ctype = rec.Type
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	if !validContentType(ctype) {
		httpError(w, http.StatusBadRequest, "invalid Content-Type")
		return
	}
	if !s.claim(id) {
		httpError(w, http.StatusConflict, "this slot is being used")
		return
	}
	defer s.release(id)

	body := &idleReader{r: r.Body, rc: http.NewResponseController(w)}
	if err := s.files.Put(ctx, id, body, rec.Size); err != nil {
		switch {
		case errors.Is(err, ErrSize), body.err != nil:
			httpError(w, http.StatusBadRequest, "the body is not the announced size")
		case errors.Is(err, fs.ErrExist):
			httpError(w, http.StatusConflict, "this slot is being used")
		default:
			s.h.Logger().Error("upload: storing a file failed", "err", err)
			httpError(w, http.StatusInternalServerError, "storing the file failed")
		}
		return
	}
	rec.Uploaded = time.Now().UTC()
	rec.Type = ctype
	if err := s.meta.Set(ctx, owner, id, rec.encode()); err != nil {
		s.files.Delete(context.WithoutCancel(ctx), id)
		s.h.Logger().Error("upload: storing metadata failed", "err", err)
		httpError(w, http.StatusInternalServerError, "storing the file failed")
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// claim marks slot id as being uploaded; it reports false when it is
// already.
func (s *service) claim(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[id] {
		return false
	}
	s.inFlight[id] = true
	return true
}

func (s *service) release(id string) {
	s.mu.Lock()
	delete(s.inFlight, id)
	s.mu.Unlock()
}

func (s *service) busy(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight[id]
}

// sameMediaType compares two content types by media type and parameters,
// ignoring case and spacing ("text/plain; charset=utf-8").
func sameMediaType(a, b string) bool {
	ta, pa, errA := mime.ParseMediaType(a)
	tb, pb, errB := mime.ParseMediaType(b)
	if errA != nil || errB != nil || ta != tb || len(pa) != len(pb) {
		return false
	}
	for k, v := range pa {
		if !strings.EqualFold(pb[k], v) {
			return false
		}
	}
	return true
}

// idleReader reads a request body, extending the read deadline before
// each read, and remembers a read error (the client's fault).
type idleReader struct {
	r   io.Reader
	rc  *http.ResponseController
	err error
}

func (b *idleReader) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(idleTimeout))
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// get serves an uploaded file, with range requests, validators and
// caching headers (the file never changes until it expires).
func (s *service) get(w http.ResponseWriter, r *http.Request) {
	cors(w)
	ctx := r.Context()
	id := r.PathValue("slot")
	_, rec, err := s.lookup(ctx, id)
	now := time.Now()
	if err != nil || rec.Uploaded.IsZero() || s.expired(rec, now) || r.PathValue("name") != rec.Name {
		httpError(w, http.StatusNotFound, "no such file")
		return
	}
	f, _, err := s.files.Open(ctx, id)
	if err != nil {
		httpError(w, http.StatusNotFound, "no such file")
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", rec.Type)
	h.Set("Content-Disposition", disposition(rec))
	// An uploaded HTML page or script must not run in the server's origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox")
	maxAge := int64(s.expires(rec).Sub(now).Seconds())
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d, immutable", max(maxAge, 0)))
	h.Set("ETag", `"`+id+`"`)
	http.ServeContent(w, r, rec.Name, rec.Uploaded, f)
}

// disposition shows images inline and offers every other file (SVG too,
// which can carry scripts) as a download, under its name.
func disposition(rec record) string {
	kind := "attachment"
	if t, _, err := mime.ParseMediaType(rec.Type); err == nil && strings.HasPrefix(t, "image/") && t != "image/svg+xml" {
		kind = "inline"
	}
	if d := mime.FormatMediaType(kind, map[string]string{"filename": rec.Name}); d != "" {
		return d
	}
	return kind
}

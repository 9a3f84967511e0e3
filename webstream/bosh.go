package webstream

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"hearth/stanza"
)

// Namespaces of XEP-0124 and XEP-0206.
const (
	NSBOSH  = "http://jabber.org/protocol/httpbind"
	NSXBOSH = "urn:xmpp:xbosh"
)

// boshVersion is the XEP-0124 protocol version hearth speaks.
const boshVersion = "1.11"

// maxHold is the largest number of requests a session may keep waiting.
const maxHold = 2

// BOSH returns the handler of the XEP-0206 endpoint. Each session is a
// net.Conn served by Options.Serve (started with Options.Go); requests
// feed it the stanzas they carry and wait up to the session's 'wait' for
// what it sends. Unencrypted requests get 403, as for WebSocket.
func BOSH(opts Options) http.Handler {
	opts.defaults()
	return &boshHandler{opts: opts, sessions: map[string]*boshSession{}}
}

type boshHandler struct {
	opts Options

	mu       sync.Mutex
	sessions map[string]*boshSession
}

// boshSession is the request-side state of one session.
type boshSession struct {
	sid      string
	conn     *boshConn
	forget   func() // removes the session from the handler's table
	stopping <-chan struct{}
	to       string
	wait     time.Duration
	hold     int
	// inactivity ends the session when no request is pending that long.
	inactivity time.Duration

	mu        sync.Mutex
	nextRID   int64           // the rid the next request must carry
	ridWake   chan struct{}   // closed and replaced when nextRID moves
	fedRID    int64           // the last rid whose payload was fed to conn
	fedWake   chan struct{}   // closed and replaced when fedRID moves
	held      []chan struct{} // waiting requests' release, oldest first
	active    int             // requests in progress
	idle      *time.Timer     // ends the session after inactivity
	responses map[int64][]byte
}

func boshCORS(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
}

func (h *boshHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	boshCORS(w)
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "BOSH endpoint (XEP-0206): POST only", http.StatusMethodNotAllowed)
		return
	}
	if !h.opts.Secure(r) {
		http.Error(w, "XMPP over BOSH needs https://", http.StatusForbidden)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxMessageBytes))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := stanza.NewDecoder(bytes.NewReader(data), stanza.Limits{MaxStanzaBytes: int(h.opts.MaxMessageBytes)}).Next()
	if err != nil || body.Name.Space != NSBOSH || body.Name.Local != "body" {
		terminate(w, "bad-request")
		return
	}
	rid, err := strconv.ParseInt(body.Get("rid"), 10, 64)
	if err != nil || rid <= 0 {
		terminate(w, "bad-request")
		return
	}
	if body.Get("sid") == "" {
		h.create(w, r, body, rid)
		return
	}
	h.mu.Lock()
	s := h.sessions[body.Get("sid")]
	h.mu.Unlock()
	if s == nil {
		terminate(w, "item-not-found")
		return
	}
	s.request(w, r, body, rid)
}

// create starts a session (XEP-0124 §7.1, XEP-0206 §3).
func (h *boshHandler) create(w http.ResponseWriter, r *http.Request, body *stanza.Element, rid int64) {
	to := body.Get("to")
	if to == "" {
		terminate(w, "improper-addressing")
		return
	}
	wait := h.opts.BOSHMaxWait
	if v, err := strconv.Atoi(body.Get("wait")); err == nil && v >= 0 && time.Duration(v)*time.Second < wait {
		wait = time.Duration(v) * time.Second
	}
	hold := 1
	if v, err := strconv.Atoi(body.Get("hold")); err == nil && v >= 0 {
		hold = min(v, maxHold)
	}
	s := &boshSession{
		sid: newSID(), to: to, wait: wait, hold: hold, inactivity: h.opts.BOSHInactivity,
		nextRID: rid + 1, ridWake: make(chan struct{}), responses: map[int64][]byte{},
		fedRID: rid, fedWake: make(chan struct{}), stopping: h.opts.Stopping,
	}
	s.forget = func() {
		h.mu.Lock()
		delete(h.sessions, s.sid)
		h.mu.Unlock()
	}
	s.conn = newBOSHConn(addr(h.opts.RemoteAddr(r)), h.opts.MaxQueueBytes, s.forget)
	s.idle = time.AfterFunc(h.opts.BOSHInactivity, func() { s.conn.Close() })
	s.idle.Stop()
	h.mu.Lock()
	h.sessions[s.sid] = s
	h.mu.Unlock()
	s.conn.feed(streamHeader(body, to), false)
	h.opts.Go(func() {
		defer s.conn.Close()
		h.opts.Serve(s.conn)
	})
	s.begin()
	defer s.end()
	out, ended := s.collect(r, nil)
	attrs := [][2]string{
		{"sid", s.sid}, {"wait", strconv.Itoa(int(wait / time.Second))},
		{"requests", strconv.Itoa(hold + 1)}, {"hold", strconv.Itoa(hold)},
		{"inactivity", strconv.Itoa(int(h.opts.BOSHInactivity / time.Second))},
		{"polling", "1"}, {"ver", boshVersion}, {"from", to},
		{"authid", s.conn.id()}, {"xmpp:version", "1.0"}, {"xmpp:restartlogic", "true"},
	}
	resp := responseBody(attrs, out, ended)
	s.remember(rid, resp)
	writeBody(w, resp)
}

// streamHeader is the TCP-style stream header for a session creation or
// restart request.
func streamHeader(body *stanza.Element, to string) []byte {
	version := "1.0"
	var lang string
	for _, a := range body.Attr {
		switch {
		case a.Name.Space == NSXBOSH && a.Name.Local == "version":
			version = a.Value
		case a.Name.Space == stanza.NSXML && a.Name.Local == "lang":
			lang = a.Value
		}
	}
	return stanza.AppendStreamHeader(nil, stanza.StreamHeader{To: to, Version: version, Lang: lang, DefaultNS: stanza.NSClient}, false)
}

// request handles a request of an existing session (XEP-0124 §7.3-§7.12).
func (s *boshSession) request(w http.ResponseWriter, r *http.Request, body *stanza.Element, rid int64) {
	s.begin()
	defer s.end()
	if resp, ok := s.order(r, rid); !ok {
		if resp != nil {
			writeBody(w, resp) // a retransmission: the same answer again
			return
		}
		terminate(w, "item-not-found")
		s.conn.Close()
		return
	}
	var in []byte
	for _, c := range body.Elements() {
		in = stanza.Append(in, c, stanza.NSClient)
	}
	restart := false
	for _, a := range body.Attr {
		if a.Name.Space == NSXBOSH && a.Name.Local == "restart" && a.Value == "true" {
			restart = true
		}
	}
	if restart {
		in = append(in, streamHeader(body, s.to)...)
	}
	if body.Get("type") == "terminate" {
		// The sid is unknown from now on; the stream reads its end.
		s.forget()
		s.feedInTurn(rid, append(in, closeTag...), true)
		resp := responseBody([][2]string{{"type", "terminate"}}, nil, false)
		s.remember(rid, resp)
		writeBody(w, resp)
		return
	}
	if !s.feedInTurn(rid, in, false) {
		terminate(w, "item-not-found")
		return
	}
	out, ended := s.collect(r, s.holdSlot())
	resp := responseBody(nil, out, ended)
	s.remember(rid, resp)
	writeBody(w, resp)
}

// order makes requests take effect in rid order: a request ahead of the
// next expected one waits (at most the session's wait) for those before
// it. It reports false for a request that cannot be taken, with the
// answer already sent when it is a retransmission.
func (s *boshSession) order(r *http.Request, rid int64) ([]byte, bool) {
	timeout := time.NewTimer(s.wait + time.Second)
	defer timeout.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for rid > s.nextRID && rid <= s.nextRID+int64(s.hold)+1 {
		ch := s.ridWake
		s.mu.Unlock()
		gaveUp := false
		select {
		case <-ch:
		case <-timeout.C:
			gaveUp = true
		case <-r.Context().Done():
			gaveUp = true
		}
		s.mu.Lock()
		if gaveUp {
			return nil, false
		}
	}
	if rid < s.nextRID {
		return s.responses[rid], false
	}
	if rid != s.nextRID {
		return nil, false
	}
	s.nextRID++
	close(s.ridWake)
	s.ridWake = make(chan struct{})
	return nil, true
}

// feedInTurn feeds the payload of request rid to the stream once the
// payloads of every earlier request are fed: order hands out rids in
// sequence, but the requests' goroutines race after it. Every request
// that passed order calls it exactly once.
func (s *boshSession) feedInTurn(rid int64, in []byte, eof bool) bool {
	s.mu.Lock()
	for s.fedRID != rid-1 {
		ch := s.fedWake
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	s.mu.Unlock()
	ok := true
	if len(in) > 0 || eof {
		ok = s.conn.feed(in, eof)
	}
	s.mu.Lock()
	s.fedRID = rid
	close(s.fedWake)
	s.fedWake = make(chan struct{})
	s.mu.Unlock()
	return ok
}

// holdSlot registers a request that may be held and returns the channel
// that releases it early; when more than hold requests wait, the oldest
// is released so the client has a free connection (XEP-0124 §10).
func (s *boshSession) holdSlot() chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = append(s.held, ch)
	for len(s.held) > s.hold {
		close(s.held[0])
		s.held = s.held[1:]
	}
	return ch
}

// collect waits until the session has something to send, the session's
// wait passed, release is closed or the client went away, and returns the
// elements to send and whether the session ended.
func (s *boshSession) collect(r *http.Request, release chan struct{}) ([][]byte, bool) {
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	defer s.unhold(release)
	for {
		out, _, ended, ready := s.conn.take()
		if len(out) > 0 || ended {
			return out, ended
		}
		select {
		case <-ready:
		case <-release:
			out, _, ended, _ := s.conn.take()
			return out, ended
		case <-s.stopping:
			return nil, false
		case <-timer.C:
			return nil, false
		case <-r.Context().Done():
			return nil, false
		}
	}
}

func (s *boshSession) unhold(ch chan struct{}) {
	if ch == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.held {
		if c == ch {
			s.held = append(s.held[:i], s.held[i+1:]...)
			return
		}
	}
}

// begin and end count requests in progress; the inactivity timer runs
// only while there is none.
func (s *boshSession) begin() {
	s.mu.Lock()
	s.active++
	s.idle.Stop()
	s.mu.Unlock()
}

func (s *boshSession) end() {
	s.mu.Lock()
	s.active--
	if s.active == 0 {
		s.idle.Reset(s.inactivity)
	}
	s.mu.Unlock()
}

// remember keeps the answer to rid for a retransmission of the request.
func (s *boshSession) remember(rid int64, resp []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responses[rid] = resp
	delete(s.responses, rid-int64(s.hold)-2)
}

// responseBody encodes a <body/> with attrs and the elements out; when the
// session ended it is a terminate body, with remote-stream-error when the
// stream ended with an error.
func responseBody(attrs [][2]string, out [][]byte, ended bool) []byte {
	var b bytes.Buffer
	b.WriteString(`<body xmlns="` + NSBOSH + `" xmlns:xmpp="` + NSXBOSH + `"`)
	if ended {
		attrs = append(attrs, [2]string{"type", "terminate"})
		for _, el := range out {
			if bytes.HasPrefix(el, []byte("<stream:error")) {
				attrs = append(attrs, [2]string{"condition", "remote-stream-error"})
				break
			}
		}
	}
	for _, a := range attrs {
		b.WriteString(" " + a[0] + `="`)
		xml.EscapeText(&b, []byte(a[1]))
		b.WriteString(`"`)
	}
	if len(out) == 0 {
		b.WriteString("/>")
		return b.Bytes()
	}
	b.WriteString(">")
	for _, el := range out {
		b.Write(el)
	}
	b.WriteString("</body>")
	return b.Bytes()
}

// terminate answers with a terminal binding condition (XEP-0124 §17).
func terminate(w http.ResponseWriter, condition string) {
	writeBody(w, responseBody([][2]string{{"type", "terminate"}, {"condition", condition}}, nil, false))
}

func writeBody(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func newSID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package server

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net"
	"net/http"
	"strings"
	"time"

	"hearth/httpd"
	"hearth/stream"
	"hearth/webstream"
)

// Paths of the web services the server itself registers.
const (
	pathWebSocket = "/xmpp-websocket"
	pathHostMeta  = "/.well-known/host-meta"
	pathBOSH      = "/http-bind"
)

// websocketFramingSlack is what a WebSocket message may add to the largest
// stanza: the namespace declaration RFC 7395 requires on every element.
const websocketFramingSlack = 1 << 10

// initHTTP creates the web server when an http or https listener is
// configured, with the server's own services on it (XMPP over WebSocket
// and BOSH, XEP-0156 host-meta); modules add theirs through module.Host.HTTP.
func (s *Server) initHTTP() error {
	if len(s.cfg.Listen.HTTP) == 0 && len(s.cfg.Listen.HTTPS) == 0 {
		return nil
	}
	hc := s.cfg.HTTP
	s.web = httpd.New(httpd.Config{
		TLS:               s.liveTLS(),
		ExternalURL:       hc.ExternalURL,
		BehindProxy:       hc.BehindProxy,
		ReadHeaderTimeout: time.Duration(hc.ReadHeaderTimeout) * time.Second,
		IdleTimeout:       time.Duration(hc.IdleTimeout) * time.Second,
		Log:               s.logFor("server"),
	})
	cfg := s.c2sConfig(true)
	// TLS, if any, is the web server's: the stream sees an encrypted
	// connection without a TLS state (no channel binding: the TLS session
	// belongs to HTTP and may carry other requests).
	cfg.TLS = nil
	opts := webstream.Options{
		Serve: func(nc net.Conn) {
			stream.ServeC2S(s.ctx, nc, cfg)
		},
		Go: func(fn func()) {
			if !s.addConn() {
				return
			}
			go func() {
				defer s.conns.Done()
				fn()
			}()
		},
		Secure:          s.web.Secure,
		RemoteAddr:      s.web.ClientAddr,
		MaxMessageBytes: int64(s.cfg.Limits.MaxStanzaSize) + websocketFramingSlack,
		BOSHMaxWait:     time.Duration(hc.BOSHMaxWait) * time.Second,
		BOSHInactivity:  time.Duration(hc.BOSHInactivity) * time.Second,
		MaxQueueBytes:   s.cfg.Limits.MaxQueueSize,
		Stopping:        s.web.Stopping(),
		Log:             s.logFor("stream"),
	}
	if err := s.web.Handle("GET "+pathWebSocket, s.trackConn(webstream.WebSocket(opts))); err != nil {
		return err
	}
	if err := s.web.Handle(pathBOSH, webstream.BOSH(opts)); err != nil {
		return err
	}
	if err := s.web.Handle("GET /{$}", http.HandlerFunc(s.landing)); err != nil {
		return err
	}
	if err := s.web.Handle("GET "+pathHostMeta, http.HandlerFunc(s.hostMeta)); err != nil {
		return err
	}
	return s.web.Handle("GET "+pathHostMeta+".json", http.HandlerFunc(s.hostMeta))
}

// trackConn counts a handler that takes its connection over (WebSocket)
// among the server's connections, so Shutdown waits for it. It counts from
// before the takeover: the web server's Shutdown waits for requests that
// have not been taken over yet, so none can start counting after
// Shutdown's conns.Wait began.
func (s *Server) trackConn(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.addConn() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		defer s.conns.Done()
		h.ServeHTTP(w, r)
	})
}

// addConn counts one more connection for Shutdown to wait for, unless the
// server is stopping. Shutdown takes s.mu after cancelling s.ctx, so every
// addConn that saw the server running has added before conns.Wait.
func (s *Server) addConn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.conns.Add(1)
	return true
}

// serveHTTP serves a web listener.
func (s *Server) serveHTTP(l listener) {
	s.web.Serve(l.ln, l.kind == "https")
}

// stopHTTP stops the web server, giving requests in progress the
// configured shutdown timeout.
func (s *Server) stopHTTP() {
	if s.web == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.HTTP.ShutdownTimeout)*time.Second)
	defer cancel()
	s.web.Shutdown(ctx)
}

// hostMetaLink is one link of XEP-0156 host-meta.
type hostMetaLink struct {
	Rel  string `xml:"rel,attr" json:"rel"`
	Href string `xml:"href,attr" json:"href"`
}

// Link relations of XEP-0156.
const (
	relWebSocket = "urn:xmpp:alt-connections:websocket"
	relBOSH      = "urn:xmpp:alt-connections:xbosh"
)

// hostMeta answers /.well-known/host-meta (XRD, RFC 6415) and
// host-meta.json (JRD) with the connection methods of XEP-0156: the
// WebSocket and BOSH endpoints, at the address the request came to (or the
// external URL). Any page may read it (CORS), as web clients must.
func (s *Server) hostMeta(w http.ResponseWriter, r *http.Request) {
	base := s.web.RequestBase(r)
	if !s.web.Secure(r) {
		// Plain-http WebSocket is refused: point at the https listener.
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		base = s.web.BaseURL(host)
	}
	wsURL := "wss://" + strings.TrimPrefix(base, "https://")
	if strings.HasPrefix(base, "http://") {
		wsURL = "ws://" + strings.TrimPrefix(base, "http://")
	}
	links := []hostMetaLink{{Rel: relWebSocket, Href: wsURL + pathWebSocket}, {Rel: relBOSH, Href: base + pathBOSH}}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "max-age=3600")
	if strings.HasSuffix(r.URL.Path, ".json") {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(struct {
			Links []hostMetaLink `json:"links"`
		}{links})
		return
	}
	w.Header().Set("Content-Type", "application/xrd+xml")
	doc := struct {
		XMLName xml.Name       `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
		Links   []hostMetaLink `xml:"Link"`
	}{Links: links}
	out, _ := xml.MarshalIndent(doc, "", "  ")
	w.Write([]byte(xml.Header))
	w.Write(out)
	w.Write([]byte("\n"))
}

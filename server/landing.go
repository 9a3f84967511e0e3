package server

import (
	"html/template"
	"net"
	"net/http"
)

// landingPage is what a browser sees at the web server's root: what this
// server is and which apps connect to it. It names no user and no count.
var landingPage = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Host}} — XMPP chat server</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;line-height:1.5}code{background:#eee;padding:0 .2em}</style>
</head>
<body>
<h1>{{.Host}}</h1>
<p>This is an <a href="https://xmpp.org/">XMPP</a> chat server (hearth).
Addresses on it look like <code>name@{{.Host}}</code>; you can chat with
people on any other XMPP server as well.</p>
<p>To use it, install an XMPP app and log in with your address and password:</p>
<ul>
<li>Android: <a href="https://conversations.im/">Conversations</a></li>
<li>iPhone and iPad: <a href="https://monal-im.org/">Monal</a></li>
<li>Linux: <a href="https://dino.im/">Dino</a> or <a href="https://gajim.org/">Gajim</a></li>
<li>Windows: <a href="https://gajim.org/">Gajim</a></li>
<li>macOS: <a href="https://monal-im.org/">Monal</a></li>
<li>In a browser: any web client that finds servers by
<a href="/.well-known/host-meta">host-meta</a>, such as <a href="https://conversejs.org/">Converse.js</a></li>
</ul>
<p>Ask the administrator of {{.Host}} for an account.</p>
</body>
</html>
`))

// landing serves the landing page for the virtual host the request names,
// or the first host.
func (s *Server) landing(w http.ResponseWriter, r *http.Request) {
	host := s.cfg.Hosts[0]
	name := r.Host
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	if s.router.Host(name) != nil {
		host = name
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Cache-Control", "max-age=3600")
	landingPage.Execute(w, struct{ Host string }{host})
}

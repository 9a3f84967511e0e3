package invite

import (
	"errors"
	"html/template"
	"net"
	"net/http"
	"strings"

	"hearth/stanza"
)

// maxFormBytes bounds the body of a registration form post.
const maxFormBytes = 4 << 10

// Handler serves the invitation pages under /invite/<token>: GET shows the
// invitation (open in an app, get an app, or register here with a
// username and password); POST registers with that form. lookup returns
// the Service of the host named by the request (its Host header, without
// port), or nil. The handler is mounted by the HTTP server.
func Handler(lookup func(domain string) *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, "/invite/")
		if !ok || token == "" || strings.Contains(token, "/") {
			http.NotFound(w, r)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		s := lookup(strings.ToLower(host))
		if s == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.servePage(w, r, token, "", "")
		case http.MethodPost:
			s.serveRegister(w, r, token)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

func (s *Service) servePage(w http.ResponseWriter, r *http.Request, token, username, problem string) {
	inv, err := s.Lookup(r.Context(), token)
	if err == nil && inv.Inviter == "" && !s.canRegister() {
		err = ErrInvalid // an account invitation, but registration by invitation is off
	}
	if err != nil {
		status := http.StatusNotFound
		if !errors.Is(err, ErrInvalid) {
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		pageTemplate.Execute(w, pageData{Domain: s.Domain(), Invalid: true})
		return
	}
	uri := inv.RegisterURI()
	if !s.canRegister() {
		uri = inv.RosterURI()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if problem != "" {
		w.WriteHeader(http.StatusBadRequest)
	}
	pageTemplate.Execute(w, pageData{
		Domain: s.Domain(), Inviter: inv.Inviter, URI: template.URL(uri),
		Username: username, Problem: problem, CanRegister: s.canRegister(),
	})
}

func (s *Service) serveRegister(w http.ResponseWriter, r *http.Request, token string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	username, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	if password != r.PostForm.Get("password-verify") {
		s.servePage(w, r, token, username, "The two passwords differ.")
		return
	}
	addr := r.RemoteAddr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	user, err := s.Register(r.Context(), username, password, addr, token)
	if err != nil {
		var se *stanza.Error
		if errors.As(err, &se) {
			msg := se.Text
			if msg == "" {
				msg = se.Condition
			}
			s.servePage(w, r, token, username, strings.ToUpper(msg[:1])+msg[1:]+".")
			return
		}
		s.h.Logger().Error("web registration failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pageTemplate.Execute(w, pageData{Domain: s.Domain(), Registered: user.String()})
}

type pageData struct {
	Domain, Inviter string
	URI             template.URL
	Username        string
	Problem         string
	Invalid         bool
	Registered      string
	CanRegister     bool // account creation by invitation is on
}

// clients are the apps the page suggests, by platform.
var clients = []struct{ Name, Platform, URL string }{
	{"Conversations", "Android", "https://conversations.im/"},
	{"Monal", "iPhone, iPad and Mac", "https://monal-im.org/"},
	{"Gajim", "Windows and Linux", "https://gajim.org/"},
	{"Dino", "Linux", "https://dino.im/"},
}

var pageTemplate = template.Must(template.New("invite").Funcs(template.FuncMap{"clients": func() any { return clients }}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Registered}}Welcome{{else}}Invitation to {{.Domain}}{{end}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;line-height:1.5}
a.button,button{display:inline-block;padding:.6em 1.2em;border-radius:.4em;background:#2a6;color:#fff;text-decoration:none;border:0;font-size:1em}
.problem{color:#a00}label{display:block;margin-top:.8em}input{font-size:1em;padding:.3em;width:100%;box-sizing:border-box}</style></head><body>
{{- if .Invalid}}
<h1>This invitation is not valid</h1>
<p>It does not exist, has expired or has been used already. Ask for a new one.</p>
{{- else if .Registered}}
<h1>Welcome!</h1>
<p>Your account <strong id="account">{{.Registered}}</strong> is ready. Log in with it and your password from any XMPP app:</p>
<ul>{{range clients}}<li><a href="{{.URL}}">{{.Name}}</a> ({{.Platform}})</li>{{end}}</ul>
{{- else}}
<h1>{{if .Inviter}}{{.Inviter}} invites you to chat{{else}}You are invited to {{.Domain}}{{end}}</h1>
<p>{{.Domain}} is a chat server. With an account there you can talk with {{if .Inviter}}{{.Inviter}} and {{end}}anyone on the XMPP network.</p>
<h2>1. Get an app</h2>
<ul>{{range clients}}<li><a href="{{.URL}}">{{.Name}}</a> ({{.Platform}})</li>{{end}}</ul>
<h2>2. Open the invitation in it</h2>
<p><a class="button" id="open" href="{{.URI}}">Open in your app</a></p>
<p>{{if .CanRegister}}The app creates your account{{if .Inviter}} and adds {{.Inviter}} to your contacts{{end}}.{{else}}The app adds {{.Inviter}} to your contacts.{{end}}</p>
{{- if .CanRegister}}
<h2>Or register here</h2>
{{if .Problem}}<p class="problem" id="problem">{{.Problem}}</p>{{end}}
<form method="post">
<label>Username <input name="username" required autocomplete="username" value="{{.Username}}"></label>
<label>Password <input name="password" type="password" required autocomplete="new-password"></label>
<label>Password again <input name="password-verify" type="password" required autocomplete="new-password"></label>
<p><button type="submit">Create my account on {{.Domain}}</button></p>
</form>
{{- end}}
{{- end}}
</body></html>
`))

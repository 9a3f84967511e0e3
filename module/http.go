package module

import "net/http"

// HTTP is the server's web server as a module sees it: the one multiplexer
// of the http and https listeners ([listen] http, https), shared by every
// module on every virtual host.
type HTTP interface {
	// Handle registers handler for pattern (net/http.ServeMux syntax). The
	// multiplexer is server-wide: a module started on several hosts must
	// use a pattern per host (e.g. one that contains its domain). An
	// invalid or conflicting pattern is an error.
	Handle(pattern string, handler http.Handler) error
	// BaseURL returns the URL (scheme://host[:port], no trailing slash)
	// under which clients reach the web server for the virtual host
	// domain. It is known once the server listens, so call it when
	// building a URL, not in a start function.
	BaseURL(domain string) string
}

// SetHTTP gives the registry's modules the web server; call it before
// modules start, and only when an http or https listener is configured.
func (r *Registry) SetHTTP(h HTTP) { r.http = h }

// HTTP returns the web server, or nil when the server has no http or https
// listener; a module that serves HTTP then registers nothing that depends
// on it (a service it advertised would not work).
func (h *Host) HTTP() HTTP { return h.reg.http }

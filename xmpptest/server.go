// Package xmpptest runs hearth in-process on loopback ports and speaks XMPP
// to it over real TCP and TLS, as clients do. It is imported only by tests.
package xmpptest

import (
	"context"
	"strings"
	"testing"

	"hearth/config"
	"hearth/jid"
	"hearth/sasl"
	"hearth/server"
)

// Server is an in-process hearth listening on 127.0.0.1 ports.
type Server struct {
	*server.Server
	Domain  string // first host
	DataDir string
	C2S     string // STARTTLS listener address
	C2STLS  string // direct TLS listener address
	HTTP    string // plain http listener address ("" without [listen] http)
	HTTPS   string // https listener address ("" without [listen] https)
	Config  *config.File
}

// NewServer starts a server for the test. extraTOML is added to a base
// configuration that sets data_dir (a temporary folder), loopback
// listeners on free ports and, unless extraTOML sets them, hosts =
// ["localhost"]. The server stops at the end of the test and Cleanup fails
// the test if it does not stop in time.
func NewServer(t testing.TB, extraTOML string) *Server {
	t.Helper()
	s, _ := NewServerAt(t, t.TempDir(), extraTOML)
	return s
}

// AddUser creates the account user (a bare JID or a localpart on Domain).
func (s *Server) AddUser(t testing.TB, user, password string) jid.JID {
	t.Helper()
	if !strings.Contains(user, "@") {
		user += "@" + s.Domain
	}
	j, err := jid.Parse(user)
	if err != nil {
		t.Fatalf("AddUser %q: %v", user, err)
	}
	cred, err := sasl.NewCredentials(password, 4096)
	if err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	if err := s.Store().Accounts().Create(context.Background(), j.Domain(), j.Local(), cred); err != nil {
		t.Fatalf("AddUser %s: %v", j, err)
	}
	return j
}

package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
	"hearth/xmpptest"
)

const password = "correct horse"

// openRegistration is the configuration of a server that lets anyone
// register, as the benchmark's provisioning needs.
const openRegistration = "[registration]\nmode = \"open\"\nmax_per_ip_per_hour = 0\n"

func dial(t *testing.T, cfg client.Config) *client.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial %s: %v", cfg.JID, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ping(t *testing.T, s *client.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iq := stanza.New(stanza.NSClient, "iq", "type", stanza.Get, "to", s.Domain()).
		Append(stanza.New("urn:xmpp:ping", "ping"))
	res, err := s.SendIQ(ctx, iq)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if res.Get("type") != stanza.Result {
		t.Fatalf("ping: got %s", res)
	}
}

func TestLogin(t *testing.T) {
	srv := xmpptest.NewServer(t, "")
	user := srv.AddUser(t, "alice", password)
	for _, tc := range []struct {
		name string
		mech string
		sec  client.Security
	}{
		{"starttls-scram-sha-1", client.SCRAMSHA1, client.StartTLS},
		{"starttls-scram-sha-256", client.SCRAMSHA256, client.StartTLS},
		{"starttls-plain", client.Plain, client.StartTLS},
		{"directtls-default", "", client.DirectTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := srv.C2S
			if tc.sec == client.DirectTLS {
				addr = srv.C2STLS
			}
			s := dial(t, client.Config{
				Addr: addr, JID: user, Password: password, Resource: "r1",
				Security: tc.sec, Insecure: true, Mechanism: tc.mech,
			})
			if s.JID().Bare() != user || s.JID().Resource() != "r1" {
				t.Errorf("bound %s, want %s/r1", s.JID(), user)
			}
			ping(t, s)
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			select {
			case <-s.Done():
			default:
				t.Errorf("Done not closed after Close")
			}
			if err := s.Send(stanza.New(stanza.NSClient, "presence")); !errors.Is(err, client.ErrClosed) {
				t.Errorf("Send after Close: %v, want ErrClosed", err)
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	srv := xmpptest.NewServer(t, "")
	user := srv.AddUser(t, "bob", password)
	ctx := context.Background()

	_, err := client.Dial(ctx, client.Config{Addr: srv.C2S, JID: user, Password: "wrong password", Insecure: true, Mechanism: client.SCRAMSHA1})
	var ae *client.AuthError
	if !errors.As(err, &ae) || ae.Condition != "not-authorized" {
		t.Errorf("wrong password: %v, want not-authorized AuthError", err)
	}

	// The harness's certificate is self-signed: refused unless Insecure.
	_, err = client.Dial(ctx, client.Config{Addr: srv.C2S, JID: user, Password: password})
	if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("self-signed certificate without Insecure: %v, want a TLS handshake error", err)
	}

	_, err = client.Dial(ctx, client.Config{Addr: srv.C2S, JID: user, Password: password, Insecure: true, Mechanism: "DIGEST-MD5"})
	if err == nil || !strings.Contains(err.Error(), "does not offer DIGEST-MD5") {
		t.Errorf("unoffered mechanism: %v", err)
	}

	// Registration is closed by default.
	err = client.Register(ctx, client.Config{Addr: srv.C2S, JID: jid.MustParse("carol@" + srv.Domain), Password: password, Insecure: true})
	if !errors.Is(err, client.ErrNoRegistration) {
		t.Errorf("Register on a closed server: %v, want ErrNoRegistration", err)
	}
}

func TestTimeout(t *testing.T) {
	// A server that accepts and then says nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second)
		}
	}()
	start := time.Now()
	_, err = client.Dial(context.Background(), client.Config{
		Addr: ln.Addr().String(), JID: jid.MustParse("a@localhost"), Password: password,
		Timeout: 200 * time.Millisecond,
	})
	if err == nil || time.Since(start) > time.Second {
		t.Errorf("Dial to a silent server: %v after %v, want a timeout within 1s", err, time.Since(start))
	}
}

func TestRegister(t *testing.T) {
	srv := xmpptest.NewServer(t, openRegistration)
	ctx := context.Background()
	user := jid.MustParse("dave@" + srv.Domain)
	cfg := client.Config{Addr: srv.C2S, JID: user, Password: password, Insecure: true}
	if err := client.Register(ctx, cfg); err != nil {
		t.Fatalf("Register: %v", err)
	}
	var se *stanza.Error
	if err := client.Register(ctx, cfg); !errors.As(err, &se) || se.Condition != "conflict" {
		t.Errorf("second Register: %v, want conflict", err)
	}
	ping(t, dial(t, cfg))

	// Register in Dial: a new account, then an existing one.
	erin := cfg
	erin.JID = jid.MustParse("erin@" + srv.Domain)
	erin.Register = true
	ping(t, dial(t, erin))
	ping(t, dial(t, erin))
}

func TestMessagesAndIQs(t *testing.T) {
	srv := xmpptest.NewServer(t, "")
	alice := srv.AddUser(t, "alice", password)
	bob := srv.AddUser(t, "bob", password)
	got := make(chan *stanza.Element, 10)
	recv := client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
		if el.Name.Local == "message" {
			got <- el
		}
	})
	a := dial(t, client.Config{Addr: srv.C2S, JID: alice, Password: password, Insecure: true})
	b := dial(t, client.Config{Addr: srv.C2STLS, Security: client.DirectTLS, JID: bob, Password: password, Insecure: true, Handler: recv, LocalAddr: net.IPv4(127, 0, 0, 2)})

	msg := stanza.New(stanza.NSClient, "message", "to", b.JID().String(), "type", "chat", "id", "m1").
		Append(stanza.New(stanza.NSClient, "body").AppendText("hello <&> bob"))
	if err := a.Send(msg); err != nil {
		t.Fatal(err)
	}
	raw := "<message to='" + b.JID().String() + "' type='chat' id='m2'><body>raw</body></message>"
	if err := a.SendRaw([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hello <&> bob", "raw"} {
		select {
		case el := <-got:
			if el.ChildText("", "body") != want || el.Get("from") != a.JID().String() {
				t.Errorf("got %s, want body %q from %s", el, want, a.JID())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %q not delivered", want)
		}
	}

	// An IQ nobody handles comes back as a *stanza.Error.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.SendIQ(ctx, stanza.New(stanza.NSClient, "iq", "type", stanza.Get, "to", srv.Domain).
		Append(stanza.New("urn:example:nothing", "query")))
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != "service-unavailable" {
		t.Errorf("unhandled IQ: %v, want service-unavailable", err)
	}

	// Many concurrent IQs are matched to their callers.
	errs := make(chan error, 50)
	for range 50 {
		go func() {
			_, err := a.SendIQ(ctx, stanza.New(stanza.NSClient, "iq", "type", stanza.Get).
				Append(stanza.New("jabber:iq:roster", "query")))
			errs <- err
		}()
	}
	for range 50 {
		if err := <-errs; err != nil {
			t.Errorf("roster get: %v", err)
		}
	}

	// A pending IQ fails when the session ends.
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := b.SendIQ(ctx, stanza.New(stanza.NSClient, "iq", "type", stanza.Get).
		Append(stanza.New("jabber:iq:roster", "query"))); err == nil {
		t.Errorf("SendIQ after Close succeeded")
	}
}

// TestRaw checks that Config.Raw sees elements before they are parsed:
// the ones it takes do not reach the Handler, the others do, and SendIQ
// still gets its response.
func TestRaw(t *testing.T) {
	srv := xmpptest.NewServer(t, "")
	alice := srv.AddUser(t, "alice", password)
	bob := srv.AddUser(t, "bob", password)
	taken := make(chan string, 10)
	parsed := make(chan *stanza.Element, 10)
	raw := func(_ *client.Session, b []byte) bool {
		if strings.HasPrefix(string(b), "<message") && strings.Contains(string(b), "<body>take</body>") {
			taken <- string(b)
			return true
		}
		return false
	}
	recv := client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
		if el.Name.Local == "message" {
			parsed <- el
		}
	})
	a := dial(t, client.Config{Addr: srv.C2S, JID: alice, Password: password, Insecure: true})
	b := dial(t, client.Config{Addr: srv.C2S, JID: bob, Password: password, Insecure: true, Handler: recv, Raw: raw})
	for _, body := range []string{"take", "parse", "take"} {
		if err := a.SendRaw([]byte("<message to='" + b.JID().String() + "' type='chat'><body>" + body + "</body></message>")); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case s := <-taken:
			if !strings.Contains(s, "from='"+a.JID().String()+"'") && !strings.Contains(s, `from="`+a.JID().String()+`"`) {
				t.Errorf("raw element %q lacks the sender", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Raw did not see a message")
		}
	}
	select {
	case el := <-parsed:
		if el.ChildText("", "body") != "parse" {
			t.Errorf("Handler got %s, want only the message Raw left", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the message Raw left was not parsed")
	}
	ping(t, b)
	select {
	case el := <-parsed:
		t.Errorf("Handler got %s too", el)
	default:
	}
}

package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"hearth/client"
	"hearth/stanza"
	"hearth/xmpptest"
)

// TestResume enables stream management, drops the connection and resumes
// the session; an unknown session id is refused with a ResumeError.
func TestResume(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	user := srv.AddUser(t, "dana", password)
	enabled := make(chan *stanza.Element, 1)
	cfg := client.Config{Addr: srv.C2S, JID: user, Password: password, Resource: "r1", Insecure: true,
		Handler: client.HandlerFunc(func(_ *client.Session, el *stanza.Element) {
			if el.Name.Space == client.NSSM && el.Name.Local == "enabled" {
				enabled <- el.DeepCopy()
			}
		})}
	s := dial(t, cfg)
	if s.Features().Child(client.NSSM, "sm") == nil || len(s.Mechanisms()) == 0 {
		t.Fatalf("features not kept: %v %v", s.Features(), s.Mechanisms())
	}
	s.Send(stanza.New(client.NSSM, "enable", "resume", "true"))
	var id string
	select {
	case el := <-enabled:
		id = el.Get("id")
	case <-time.After(5 * time.Second):
		t.Fatal("no <enabled/>")
	}
	full := s.JID()
	s.Abort()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg.Handler = nil
	if _, err := client.Resume(ctx, cfg, full, "no-such-session", 0); !errors.As(err, new(*client.ResumeError)) {
		t.Errorf("resuming an unknown session: %v, want a ResumeError", err)
	}
	r, err := client.Resume(ctx, cfg, full, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.JID() != full || r.Resumed().Get("previd") != id {
		t.Errorf("resumed as %s with %v", r.JID(), r.Resumed())
	}
	ping(t, r)
}

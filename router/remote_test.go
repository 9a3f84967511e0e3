package router

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"hearth/jid"
	"hearth/module"
	"hearth/stanza"
	"hearth/storage/memstore"
)

type recorded struct {
	st       *stanza.Element
	from, to jid.JID
}

type recorder struct {
	mu  sync.Mutex
	got []recorded
}

func (r *recorder) add(st *stanza.Element, from, to jid.JID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, recorded{st, from, to})
}

func (r *recorder) RouteRemote(_ context.Context, st *stanza.Element, from, to jid.JID) {
	r.add(st, from, to)
}

// newTestRouter returns a router serving example.org, whose one module
// serves the service domain svc.example.org into svc.
func newTestRouter(t *testing.T, svc *recorder) *Router {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := New(memstore.New(), log)
	reg := module.NewRegistry("example.org")
	var wg sync.WaitGroup
	h := module.NewHost(context.Background(), "svc", reg, r, memstore.New(), log, &wg)
	h.AddService("svc.example.org", "Test service", func(_ context.Context, st *stanza.Element, from, to jid.JID) {
		svc.add(st, from, to)
	})
	h.AddService("example.org", "the host itself", nil)
	if err := h.Err(); err == nil {
		t.Fatal("serving the host's own domain as a service was accepted")
	}
	if err := reg.Freeze(); err != nil {
		t.Fatal(err)
	}
	r.AddHost(reg)
	return r
}

func TestServiceAndRemoteRouting(t *testing.T) {
	svc, remote := &recorder{}, &recorder{}
	r := newTestRouter(t, svc)
	ctx := context.Background()

	if !r.IsService("svc.example.org") || r.IsService("example.org") || r.IsLocal("svc.example.org") {
		t.Fatal("IsService/IsLocal disagree with the registered service")
	}
	if got := r.Host("example.org").Registry().Services(); len(got) != 1 || got[0].Name != "Test service" {
		t.Fatalf("registry services = %+v", got)
	}

	msg := stanza.New(stanza.NSClient, "message", "from", "alice@example.org/phone", "to", "room@svc.example.org/nick", "type", "groupchat")
	if err := r.Route(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if len(svc.got) != 1 || svc.got[0].to.String() != "room@svc.example.org/nick" || svc.got[0].from.String() != "alice@example.org/phone" {
		t.Fatalf("service received %+v", svc.got)
	}

	// Without a remote router, a stanza to a remote domain bounces and
	// nothing else happens (the sender has no session here to see it).
	out := stanza.New(stanza.NSClient, "message", "from", "alice@example.org/phone", "to", "bob@remote.example", "type", "chat")
	if err := r.Route(ctx, out); err != nil {
		t.Fatal(err)
	}

	r.SetRemote(remote)
	if err := r.Route(ctx, out); err != nil {
		t.Fatal(err)
	}
	// From a service too (a room's message to a remote occupant).
	fromSvc := stanza.New(stanza.NSClient, "message", "from", "room@svc.example.org/nick", "to", "carol@remote.example/x", "type", "groupchat")
	if err := r.Route(ctx, fromSvc); err != nil {
		t.Fatal(err)
	}
	// Never relayed between two remote domains.
	relay := stanza.New(stanza.NSClient, "message", "from", "eve@evil.example", "to", "carol@remote.example", "type", "chat")
	if err := r.Route(ctx, relay); err != nil {
		t.Fatal(err)
	}
	if len(remote.got) != 2 || remote.got[0].to.String() != "bob@remote.example" || remote.got[1].from.String() != "room@svc.example.org/nick" {
		t.Fatalf("remote router received %+v", remote.got)
	}
}

func TestServiceIQReplyTakenBySendIQ(t *testing.T) {
	svc := &recorder{}
	r := newTestRouter(t, svc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A module of the service sends an IQ to the service's own domain; its
	// reply comes back addressed to the service and must reach SendIQ,
	// not the service handler.
	done := make(chan error, 1)
	go func() {
		iq := stanza.New(stanza.NSClient, "iq", "type", "get", "id", "q1", "from", "example.org", "to", "svc.example.org")
		iq.Append(stanza.New("urn:xmpp:ping", "ping"))
		_, err := r.SendIQ(ctx, iq)
		done <- err
	}()
	for {
		svc.mu.Lock()
		n := len(svc.got)
		svc.mu.Unlock()
		if n > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("SendIQ returned early: %v", err)
		default:
		}
		<-timeAfter()
	}
	reply := stanza.New(stanza.NSClient, "iq", "type", "result", "id", "q1", "from", "svc.example.org", "to", "svc.example.org")
	if err := r.Route(ctx, reply); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("SendIQ: %v", err)
	}
	if len(svc.got) != 1 {
		t.Fatalf("the service handler also got the reply: %+v", svc.got)
	}
}

func timeAfter() <-chan time.Time { return time.After(5 * time.Millisecond) }

package offline_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/mod/internal/modtest"
	"hearth/module"
	"hearth/stanza"
)

// trackedSession is a session that reports, when the test says so,
// whether its client has what it was sent (module.Tracker).
type trackedSession struct {
	*modtest.Session

	mu    sync.Mutex
	sent  []*stanza.Element
	dones []func(bool)
	asks  int
}

func (s *trackedSession) SendTracked(st *stanza.Element, done func(bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, st)
	s.dones = append(s.dones, done)
}

func (s *trackedSession) AskAck() {
	s.mu.Lock()
	s.asks++
	s.mu.Unlock()
}

// settle answers the first n unanswered sends with ok.
func (s *trackedSession) settle(n int, ok bool) {
	s.mu.Lock()
	var fns []func(bool)
	for i := range s.dones {
		if s.dones[i] != nil && len(fns) < n {
			fns = append(fns, s.dones[i])
			s.dones[i] = nil
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(ok)
	}
}

func (s *trackedSession) bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bodies(s.sent)
}

func loginTracked(t *testing.T, env *modtest.Env, resource string) *trackedSession {
	t.Helper()
	s := &trackedSession{Session: env.Router.Bind(t, "bob@example.com/"+resource)}
	s.SetPresence(stanza.New(stanza.NSClient, "presence"))
	env.Registry.RunSessionAvailable(context.Background(), s)
	return s
}

// eventually polls cond for a second.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bigChat is a stored message of about 60 KiB: the default window (256
// KiB without a known queue size) holds five.
func bigChat(i int) string {
	return `<message xmlns='jabber:client' from='alice@example.com/laptop' to='bob@example.com' type='chat'><body>` +
		fmt.Sprintf("m%02d", i) + strings.Repeat(" ", 60<<10) + `</body></message>`
}

func trimmed(bs []string) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = strings.TrimSpace(b)
	}
	return out
}

func TestDeliveryWaitsForConfirmation(t *testing.T) {
	env := newEnv(t, -1)
	for i := range 10 {
		if !offer(t, env, bigChat(i)) {
			t.Fatal("not stored")
		}
	}
	phone := loginTracked(t, env, "phone")
	// The window: five sent, none deleted.
	if got := trimmed(phone.bodies()); !slices.Equal(got, []string{"m00", "m01", "m02", "m03", "m04"}) {
		t.Fatalf("first window %v", got)
	}
	if n := len(stored(t, env)); n != 10 {
		t.Fatalf("%d stored before any confirmation, want 10", n)
	}
	if phone.asks == 0 {
		t.Errorf("no acknowledgement asked for with the window full")
	}
	// Two confirmed: deleted, and two more go out.
	phone.settle(2, true)
	eventually(t, "7 sent, 8 stored", func() bool { return len(phone.bodies()) == 7 && len(stored(t, env)) == 8 })
	// The session ends with five unconfirmed (it leaves the table first,
	// as in the router): they stay stored, nothing more is sent to it.
	env.Router.Unbind(phone.Session)
	phone.settle(5, false)
	eventually(t, "the delivery stops", func() bool {
		time.Sleep(20 * time.Millisecond)
		return len(phone.bodies()) == 7
	})
	if n := len(stored(t, env)); n != 8 {
		t.Fatalf("%d stored after the session ended, want 8", n)
	}
	// The next session gets the eight left, in order, each once.
	tablet := loginTracked(t, env, "tablet")
	for len(tablet.bodies()) < 8 {
		before := len(tablet.bodies())
		tablet.settle(10, true)
		eventually(t, "progress", func() bool { return len(tablet.bodies()) > before || len(tablet.bodies()) == 8 })
	}
	tablet.settle(10, true)
	want := []string{"m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09"}
	if got := trimmed(tablet.bodies()); !slices.Equal(got, want) {
		t.Errorf("second session got %v, want %v", got, want)
	}
	eventually(t, "all deleted", func() bool { return len(stored(t, env)) == 0 })
}

// Two sessions logging in at once share the stored messages: each goes to
// exactly one of them.
func TestConcurrentDeliveriesClaim(t *testing.T) {
	env := newEnv(t, -1)
	for i := range 40 {
		offer(t, env, chat(fmt.Sprintf("c%02d", i)))
	}
	a := &trackedSession{Session: env.Router.Bind(t, "bob@example.com/a")}
	b := &trackedSession{Session: env.Router.Bind(t, "bob@example.com/b")}
	for _, s := range []*trackedSession{a, b} {
		s.SetPresence(stanza.New(stanza.NSClient, "presence"))
	}
	var wg sync.WaitGroup
	for _, s := range []module.Session{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env.Registry.RunSessionAvailable(context.Background(), s)
		}()
	}
	wg.Wait()
	a.settle(100, true)
	b.settle(100, true)
	eventually(t, "all deleted", func() bool { return len(stored(t, env)) == 0 })
	seen := map[string]int{}
	for _, s := range []*trackedSession{a, b} {
		for _, body := range s.bodies() {
			seen[body]++
		}
	}
	for i := range 40 {
		if n := seen[fmt.Sprintf("c%02d", i)]; n != 1 {
			t.Errorf("c%02d sent %d times", i, n)
		}
	}
}

// Messages a session did not confirm before it ended go to another
// available session of the account at once.
func TestReleasedGoToLiveSession(t *testing.T) {
	env := newEnv(t, -1)
	for i := range 3 {
		offer(t, env, chat(fmt.Sprintf("r%d", i)))
	}
	phone := loginTracked(t, env, "phone")
	if got := phone.bodies(); len(got) != 3 {
		t.Fatalf("phone got %v", got)
	}
	// The desk is available (it logged in when there was nothing left).
	desk := env.Router.Bind(t, "bob@example.com/desk")
	desk.SetPresence(stanza.New(stanza.NSClient, "presence"))
	phone.settle(1, true)
	env.Router.Unbind(phone.Session)
	phone.settle(2, false)
	eventually(t, "the desk gets r1 and r2", func() bool { return slices.Equal(bodies(desk.Sent()), []string{"r1", "r2"}) })
	eventually(t, "all deleted", func() bool { return len(stored(t, env)) == 0 })
}

package module

import (
	"errors"
	"testing"
)

func TestShare(t *testing.T) {
	shared := NewShared()
	hostOf := func(domain, module string) *Host {
		reg := NewRegistry(domain)
		reg.SetShared(shared)
		return newTestHost(t, reg, module)
	}
	calls := 0
	create := func() (*int, error) { calls++; v := calls; return &v, nil }

	a, created, err := Share(hostOf("a.example", "relay"), create)
	if err != nil || !created || *a != 1 {
		t.Fatalf("first host: %v %v %v", *a, created, err)
	}
	b, created, err := Share(hostOf("b.example", "relay"), create)
	if err != nil || created || b != a || calls != 1 {
		t.Errorf("second host: same value %v, created %v, err %v, %d calls", b == a, created, err, calls)
	}
	// Another module shares its own value.
	if c, created, _ := Share(hostOf("a.example", "other"), create); !created || c == a {
		t.Errorf("another module got the first module's value")
	}
	if _, _, err := Share(hostOf("c.example", "relay"), func() (string, error) { return "", nil }); err == nil {
		t.Error("a value of another type was returned")
	}

	// A failed create keeps nothing: the next host tries again.
	boom := errors.New("port in use")
	if _, _, err := Share(hostOf("a.example", "flaky"), func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("create error: %v", err)
	}
	if v, created, err := Share(hostOf("b.example", "flaky"), func() (int, error) { return 7, nil }); v != 7 || !created || err != nil {
		t.Errorf("after a failure: %v %v %v", v, created, err)
	}

	// Without a Shared (a registry outside a server) every host creates.
	lone := newTestHost(t, NewRegistry("d.example"), "relay")
	if v, created, _ := Share(lone, create); !created || v == a {
		t.Error("a registry without SetShared got the server's value")
	}
}

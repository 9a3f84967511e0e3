package module

import (
	"fmt"
	"sync"
)

// Shared holds what the instances of a module on the virtual hosts of one
// server share: a listener, or a table that must span the hosts. The
// server makes one and gives it to every host's registry (SetShared).
type Shared struct {
	mu     sync.Mutex
	values map[string]any // by module name
}

// NewShared returns an empty Shared for one server.
func NewShared() *Shared { return &Shared{values: map[string]any{}} }

// SetShared gives the registry's modules the server's Shared; call it
// before modules start, with the same Shared on every host.
func (r *Registry) SetShared(s *Shared) { r.shared = s }

// Share returns the value the module of h shares between the virtual
// hosts of its server. The first call of the module, on whichever host
// starts first, runs create, keeps its result and reports created; later
// calls, on other hosts, return it without calling create. An error from
// create is returned and nothing is kept. A registry without SetShared
// (one built outside a server) shares nothing: every call runs create.
//
// The value lives as long as the server. A module whose value holds
// resources (a listener, connections) releases them when the context of
// a goroutine it started with Host.Go ends; only the call that created
// the value starts that goroutine.
func Share[T any](h *Host, create func() (T, error)) (value T, created bool, err error) {
	s := h.reg.shared
	if s == nil {
		v, err := create()
		return v, err == nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[h.module]; ok {
		t, ok := v.(T)
		if !ok {
			return value, false, fmt.Errorf("module %s: shared value is a %T, not a %T", h.module, v, value)
		}
		return t, false, nil
	}
	v, err := create()
	if err != nil {
		return value, false, err
	}
	s.values[h.module] = v
	return v, true, nil
}

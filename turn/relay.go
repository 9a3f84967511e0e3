package turn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// relayLookupInterval is how long a resolved relay address is used before
// the name is resolved again: a home server's address may change, and a
// stale one breaks every relayed call.
const relayLookupInterval = time.Minute

// relayPortAttempts is how many random ports of the range are tried before
// an allocation fails (the range may be nearly full).
const relayPortAttempts = 16

// relayLookupTimeout bounds one lookup of the relay address's name.
const relayLookupTimeout = 5 * time.Second

var errTCPRelay = errors.New("turn: TCP relays (RFC 6062) are not offered")

// relays opens the relay sockets of allocations: a UDP port of
// [min, max] on bind, announced to peers at the public address.
type relays struct {
	bind     netip.Addr
	min, max int
	public   *publicAddr
}

// Validate implements pion's RelayAddressGenerator.
func (r *relays) Validate() error {
	if r.min < 1 || r.max > 65535 || r.min > r.max {
		return fmt.Errorf("turn: relay port range %d-%d", r.min, r.max)
	}
	return nil
}

// AllocatePacketConn implements pion's RelayAddressGenerator: it opens a
// UDP socket for a relay, on requestedPort when it is in the range and free
// (an EVEN-PORT reservation), else on a random free port of the range.
func (r *relays) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	ip, err := r.public.get()
	if err != nil {
		return nil, nil, err
	}
	try := func(port int) (net.PacketConn, net.Addr, error) {
		pc, err := net.ListenPacket(network, netip.AddrPortFrom(r.bind, uint16(port)).String())
		if err != nil {
			return nil, nil, err
		}
		return pc, &net.UDPAddr{IP: ip, Port: port}, nil
	}
	if requestedPort >= r.min && requestedPort <= r.max {
		return try(requestedPort)
	}
	err = errors.New("turn: no relay port")
	for range relayPortAttempts {
		var pc net.PacketConn
		var addr net.Addr
		if pc, addr, err = try(r.min + rand.IntN(r.max-r.min+1)); err == nil {
			return pc, addr, nil
		}
	}
	return nil, nil, fmt.Errorf("turn: no free relay port in %d-%d: %w", r.min, r.max, err)
}

// AllocateConn implements pion's RelayAddressGenerator; TCP relays are not
// offered, calls use UDP.
func (r *relays) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, errTCPRelay
}

// publicAddr is the IPv4 address relays are announced at: a literal, or a
// name resolved at most once per relayLookupInterval. When a lookup fails
// the last address found is kept.
type publicAddr struct {
	name   string
	static bool // name is an address literal
	lookup func(ctx context.Context, network, host string) ([]net.IP, error)

	mu   sync.Mutex
	ip   net.IP
	when time.Time
}

func newPublicAddr(name string) *publicAddr {
	p := &publicAddr{name: name, lookup: net.DefaultResolver.LookupIP}
	if ip, err := netip.ParseAddr(name); err == nil && ip.Is4() {
		p.ip, p.static = ip.AsSlice(), true
	}
	return p
}

func (p *publicAddr) get() (net.IP, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.static || p.ip != nil && time.Since(p.when) < relayLookupInterval {
		return p.ip, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), relayLookupTimeout)
	defer cancel()
	ips, err := p.lookup(ctx, "ip4", p.name)
	if err == nil && len(ips) > 0 {
		p.ip, p.when = ips[0], time.Now()
		return p.ip, nil
	}
	if p.ip != nil {
		p.when = time.Now() // retry in a while, not at every allocation
		return p.ip, nil
	}
	if err == nil {
		err = errors.New("no IPv4 address")
	}
	return nil, fmt.Errorf("turn: relay address %s: %w", strconv.Quote(p.name), err)
}

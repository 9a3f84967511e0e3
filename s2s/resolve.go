package s2s

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Resolver is the DNS a Pool uses; *net.Resolver implements it.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (cname string, addrs []*net.SRV, err error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// target is one place to try to reach a remote domain.
type target struct {
	host      string
	port      uint16
	directTLS bool // XEP-0368: TLS from the first byte
}

func (t target) String() string {
	s := net.JoinHostPort(t.host, strconv.Itoa(int(t.port)))
	if t.directTLS {
		s = "tls://" + s
	}
	return s
}

// defaultPort is the s2s port tried when a domain publishes no SRV record.
const defaultPort = 5269

// errNoService is a domain whose SRV records say it does not federate.
var errNoService = errors.New("s2s: domain offers no xmpp-server service")

// targets returns where to reach domain, in the order to try them: a
// pinned address; else the _xmpps-server._tcp (XEP-0368) and
// _xmpp-server._tcp records (RFC 6120 §3.2.1) ordered by RFC 2782
// (priority, then weighted random), direct TLS first within one priority;
// else domain:5269.
func (p *Pool) targets(ctx context.Context, domain string) ([]target, error) {
	p.mu.Lock()
	pinned, ok := p.static[domain]
	p.mu.Unlock()
	if ok {
		host, port, err := net.SplitHostPort(pinned)
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, err
		}
		return []target{{host: host, port: uint16(n)}}, nil
	}
	r := p.cfg.Resolver
	_, direct, derr := r.LookupSRV(ctx, "xmpps-server", "tcp", domain)
	_, plain, perr := r.LookupSRV(ctx, "xmpp-server", "tcp", domain)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, offered := orderTargets(direct, plain, rand.IntN)
	switch {
	case len(out) > 0:
		return out, nil
	case !offered:
		return nil, errNoService
	case isTemporary(derr) || isTemporary(perr):
		// COMPAT: a broken DNS server is not a domain without SRV
		// records; trying domain:5269 still is the best guess.
		p.cfg.Log.Debug("srv lookup failed", "domain", domain, "err", cmp.Or(derr, perr))
	}
	return []target{{host: domain, port: defaultPort}}, nil
}

func isTemporary(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && !de.IsNotFound
}

// orderTargets merges the SRV records of both services into the order to
// try them. offered is false when the records decline the service: a
// single record with target "." (RFC 6120 §3.2.1, RFC 2782).
func orderTargets(direct, plain []*net.SRV, intn func(int) int) (out []target, offered bool) {
	type rec struct {
		*net.SRV
		directTLS bool
	}
	var recs []rec
	declined := 0
	for _, set := range []struct {
		srvs      []*net.SRV
		directTLS bool
	}{{direct, true}, {plain, false}} {
		if len(set.srvs) == 1 && strings.TrimSuffix(set.srvs[0].Target, ".") == "" {
			declined++
			continue
		}
		for _, s := range set.srvs {
			if strings.TrimSuffix(s.Target, ".") == "" || s.Port == 0 {
				continue
			}
			recs = append(recs, rec{s, set.directTLS})
		}
	}
	// Group by priority, direct TLS before STARTTLS within a priority.
	slices.SortStableFunc(recs, func(a, b rec) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		if a.directTLS != b.directTLS {
			if a.directTLS {
				return -1
			}
			return 1
		}
		return 0
	})
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Priority == recs[i].Priority && recs[j].directTLS == recs[i].directTLS {
			j++
		}
		group := make([]*net.SRV, 0, j-i)
		for _, r := range recs[i:j] {
			group = append(group, r.SRV)
		}
		for _, s := range weightedOrder(group, intn) {
			out = append(out, target{host: strings.TrimSuffix(s.Target, "."), port: s.Port, directTLS: recs[i].directTLS})
		}
		i = j
	}
	return out, len(out) > 0 || declined == 0
}

// weightedOrder orders records of one priority as RFC 2782 says: records
// of weight 0 first, then repeatedly pick a record with probability
// proportional to its weight among those left. intn(n) returns a number
// in [0, n).
func weightedOrder(srvs []*net.SRV, intn func(int) int) []*net.SRV {
	left := slices.Clone(srvs)
	slices.SortStableFunc(left, func(a, b *net.SRV) int {
		return cmp.Compare(min(a.Weight, 1), min(b.Weight, 1))
	})
	out := make([]*net.SRV, 0, len(left))
	for len(left) > 0 {
		total := 0
		for _, s := range left {
			total += int(s.Weight)
		}
		// RFC 2782: a uniform number in [0, total]; the first record
		// whose running sum reaches it is taken.
		pick := intn(total + 1)
		sum, k := 0, 0
		for k = range left {
			sum += int(left[k].Weight)
			if sum >= pick {
				break
			}
		}
		out = append(out, left[k])
		left = slices.Delete(left, k, k+1)
	}
	return out
}

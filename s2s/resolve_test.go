package s2s

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
)

// fakeResolver answers SRV lookups from a table; names not in it are
// NXDOMAIN.
type fakeResolver struct {
	srv  map[string][]*net.SRV // "_service._proto.name"
	fail error                 // returned for every SRV lookup when set
	ips  map[string][]net.IPAddr
}

func (f *fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	if f.fail != nil {
		return "", nil, f.fail
	}
	key := "_" + service + "._" + proto + "." + name
	recs, ok := f.srv[key]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
	}
	return key, recs, nil
}

func (f *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if ips, ok := f.ips[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func testPool(r Resolver) *Pool {
	return New(Config{Resolver: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func targetStrings(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

func TestTargetsOrder(t *testing.T) {
	r := &fakeResolver{srv: map[string][]*net.SRV{
		"_xmpp-server._tcp.b.example": {
			{Target: "late.b.example.", Port: 5269, Priority: 20, Weight: 0},
			{Target: "s1.b.example.", Port: 5269, Priority: 10, Weight: 0},
			{Target: "s2.b.example.", Port: 5270, Priority: 10, Weight: 0},
		},
		"_xmpps-server._tcp.b.example": {
			{Target: "tls.b.example.", Port: 443, Priority: 10, Weight: 5},
			{Target: "first.b.example.", Port: 5223, Priority: 5, Weight: 5},
		},
	}}
	got, err := testPool(r).targets(context.Background(), "b.example")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tls://first.b.example:5223", "tls://tls.b.example:443", "s1.b.example:5269", "s2.b.example:5270", "late.b.example:5269"}
	if !slices.Equal(targetStrings(got), want) {
		t.Errorf("targets = %v, want %v", targetStrings(got), want)
	}
}

func TestTargetsFallbackAndDecline(t *testing.T) {
	p := testPool(&fakeResolver{})
	got, err := p.targets(context.Background(), "plain.example")
	if err != nil || !slices.Equal(targetStrings(got), []string{"plain.example:5269"}) {
		t.Errorf("no SRV: %v, %v; want plain.example:5269", targetStrings(got), err)
	}

	p = testPool(&fakeResolver{fail: &net.DNSError{Err: "server misbehaving", IsTemporary: true}})
	got, err = p.targets(context.Background(), "flaky.example")
	if err != nil || !slices.Equal(targetStrings(got), []string{"flaky.example:5269"}) {
		t.Errorf("DNS failure: %v, %v; want the fallback", targetStrings(got), err)
	}

	p = testPool(&fakeResolver{srv: map[string][]*net.SRV{
		"_xmpp-server._tcp.no.example": {{Target: ".", Port: 0}},
	}})
	if got, err := p.targets(context.Background(), "no.example"); !errors.Is(err, errNoService) {
		t.Errorf("SRV target '.': %v, %v; want errNoService", targetStrings(got), err)
	}

	p = testPool(&fakeResolver{})
	p.Pin("pinned.example", "127.0.0.3:5999")
	got, err = p.targets(context.Background(), "pinned.example")
	if err != nil || !slices.Equal(targetStrings(got), []string{"127.0.0.3:5999"}) {
		t.Errorf("pinned: %v, %v", targetStrings(got), err)
	}
}

// TestWeightedOrder checks RFC 2782's selection with a scripted random
// source: weight 0 records sit first, then each pick takes the first
// record whose running sum of weights reaches the random number.
func TestWeightedOrder(t *testing.T) {
	recs := []*net.SRV{
		{Target: "a", Weight: 10},
		{Target: "b", Weight: 0},
		{Target: "c", Weight: 30},
		{Target: "d", Weight: 60},
	}
	names := func(rs []*net.SRV) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Target)
		}
		return out
	}
	for _, c := range []struct {
		picks []int
		want  []string
	}{
		// Running sums b:0 a:10 c:40 d:100.
		{[]int{0, 0, 0, 0}, []string{"b", "a", "c", "d"}},
		{[]int{100, 40, 10, 0}, []string{"d", "c", "a", "b"}},
		{[]int{11, 0, 0, 0}, []string{"c", "b", "a", "d"}},
	} {
		i := 0
		intn := func(n int) int {
			v := c.picks[i]
			i++
			if v >= n {
				t.Fatalf("pick %d out of [0, %d)", v, n)
			}
			return v
		}
		if got := names(weightedOrder(recs, intn)); !slices.Equal(got, c.want) {
			t.Errorf("picks %v: order %v, want %v", c.picks, got, c.want)
		}
	}
	// Over many runs the heavier record comes first more often.
	first := map[string]int{}
	for range 2000 {
		first[weightedOrder([]*net.SRV{{Target: "light", Weight: 1}, {Target: "heavy", Weight: 9}}, rand.IntN)[0].Target]++
	}
	if first["heavy"] < 1500 || first["light"] == 0 {
		t.Errorf("first picks over 2000 runs: %v (want about 1800 heavy)", first)
	}
}

func TestDialbackKey(t *testing.T) {
	p := New(Config{DialbackSecret: []byte("s3cr3tf0rd1a1back")})
	// Only this server checks the keys it issues: what matters is that a
	// key is bound to its secret, both domains and the stream id.
	key := p.dialbackKey("example.net", "example.com", "D60000229F")
	if len(key) != 64 || !p.checkKey("example.net", "example.com", "D60000229F", key) {
		t.Errorf("key %q does not check", key)
	}
	for _, c := range [][3]string{
		{"example.org", "example.com", "D60000229F"},
		{"example.net", "example.org", "D60000229F"},
		{"example.net", "example.com", "D60000229G"},
	} {
		if p.checkKey(c[0], c[1], c[2], key) {
			t.Errorf("key for another stream accepted: %v", c)
		}
	}
	other := New(Config{DialbackSecret: []byte("another secret")})
	if other.checkKey("example.net", "example.com", "D60000229F", key) {
		t.Error("a key from another secret accepted")
	}
}

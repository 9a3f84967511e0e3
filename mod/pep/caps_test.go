package pep

import (
	"context"
	"crypto/sha1"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hearth/jid"
	"hearth/mod/internal/modtest"
	"hearth/stanza"
	"hearth/storage/memstore"
)

// XEP-0115 §5.2 and §5.3 examples.
const (
	simpleInfo = `<query xmlns='http://jabber.org/protocol/disco#info'>
  <identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
</query>`
	simpleVer  = "QgayPKawpkPSDYmwT/WM94uAlu0="
	complexVer = "q07IKJEyjvHSyhy//CH0CxmKi8w="
)

var complexInfo = `<query xmlns='http://jabber.org/protocol/disco#info'>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
    <field var='software_version'><value>0.11</value></field>
  </x>
</query>`

func TestVerString(t *testing.T) {
	for _, tc := range []struct{ name, xml, want string }{
		{"simple", simpleInfo, simpleVer},
		{"complex", complexInfo, complexVer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ver, feats, err := verString(modtest.Parse(t, tc.xml), sha1.New())
			if err != nil || ver != tc.want {
				t.Fatalf("verString = %q, %v; want %q", ver, err, tc.want)
			}
			if !feats["http://jabber.org/protocol/muc"] || len(feats) != 4 {
				t.Errorf("features %v", feats)
			}
		})
	}
}

// TestVerStringRejects checks the XEP-0115 §5.4 rules.
func TestVerStringRejects(t *testing.T) {
	for name, xml := range map[string]string{
		"duplicate feature":  strings.Replace(simpleInfo, "</query>", "<feature var='http://jabber.org/protocol/muc'/></query>", 1),
		"duplicate identity": strings.Replace(simpleInfo, "</query>", "<identity category='client' name='Exodus 0.9.1' type='pc'/></query>", 1),
		"duplicate form": strings.Replace(complexInfo, "</query>",
			"<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field></x></query>", 1),
	} {
		if _, _, err := verString(modtest.Parse(t, xml), sha1.New()); !errors.Is(err, errBadInfo) {
			t.Errorf("%s: err = %v, want errBadInfo", name, err)
		}
	}
}

func TestParseCaps(t *testing.T) {
	for xml, want := range map[string]caps{
		"<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>":   {"n", "sha-1", "v"},
		"<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' hash='sha-256' node='n' ver='v'/></presence>": {"n", "sha-256", "v"},
		"<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' node='n' ver='1.0' ext='x'/></presence>":      {}, // legacy
		"<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' hash='md5' node='n' ver='v'/></presence>":     {},
		"<presence xmlns='jabber:client'/>": {},
	} {
		if got := parseCaps(modtest.Parse(t, xml)); got != want {
			t.Errorf("parseCaps(%s) = %v, want %v", xml, got, want)
		}
	}
}

// TestResolver checks that an unknown verification string is asked for
// once, that every waiter hears of the answer, and that a wrong answer is
// never asked for again.
func TestResolver(t *testing.T) {
	env := modtest.New(t, "example.org", memstore.New())
	var queries atomic.Int32
	release := make(chan struct{})
	env.Router.HandleSendIQ(func(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
		queries.Add(1)
		<-release
		q := iq.Child(NSDiscoInfo, "query")
		if strings.HasSuffix(q.Get("node"), "#"+simpleVer) {
			return modtest.Parse(t, "<iq xmlns='jabber:client' type='result'>"+simpleInfo+"</iq>"), nil
		}
		return modtest.Parse(t, "<iq xmlns='jabber:client' type='result'>"+simpleInfo+"</iq>"), nil // wrong for any other ver
	})
	type call struct {
		w     waiter
		feats map[string]bool
	}
	calls := make(chan call, 10)
	r := newResolver(env.Host("pep"), Config{CapsQueryTimeout: 5, CapsRetry: 600, CapsCacheSize: 10},
		func(_ context.Context, w waiter, _ caps, f map[string]bool) { calls <- call{w, f} })
	owner, _ := jid.Parse("alice@example.org")
	a, _ := jid.Parse("bob@example.net/a")
	b, _ := jid.Parse("carol@example.net/b")
	good := caps{"https://client", "sha-1", simpleVer}
	if _, ok := r.lookup(good, waiter{owner, a}); ok {
		t.Fatal("unknown caps reported known")
	}
	r.lookup(good, waiter{owner, b})
	close(release)
	got := map[jid.JID]bool{}
	for range 2 {
		select {
		case c := <-calls:
			if !c.feats["http://jabber.org/protocol/muc"] {
				t.Errorf("features %v", c.feats)
			}
			got[c.w.entity] = true
		case <-time.After(5 * time.Second):
			t.Fatal("waiters not called")
		}
	}
	if !got[a] || !got[b] || queries.Load() != 1 {
		t.Fatalf("waiters %v, %d queries", got, queries.Load())
	}
	if _, ok := r.lookup(good, waiter{owner, a}); !ok {
		t.Fatal("resolved caps not cached")
	}

	bad := caps{"https://client", "sha-1", "bogus"}
	r.lookup(bad, waiter{owner, a})
	deadline := time.Now().Add(5 * time.Second)
	for queries.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// Wait until the failure is recorded, then ask again: no new query.
	for {
		r.mu.Lock()
		_, pending := r.pending[bad.key()]
		r.mu.Unlock()
		if !pending || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := r.lookup(bad, waiter{owner, b}); ok {
		t.Fatal("mismatching caps accepted")
	}
	if _, ok := r.features(bad); ok {
		t.Fatal("mismatching caps cached")
	}
	if n := queries.Load(); n != 2 {
		t.Fatalf("%d queries, want 2 (one per verification string)", n)
	}
	select {
	case c := <-calls:
		t.Fatalf("waiter called for mismatching caps: %v", c)
	default:
	}
}

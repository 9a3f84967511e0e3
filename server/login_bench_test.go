package server_test

import (
	"context"
	"testing"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
	"hearth/xmpptest"
)

// BenchmarkLogin measures one client start-up over loopback, as
// hearth-bench's login scenario does it: TCP, STARTTLS, SCRAM-SHA-1
// (the client's salted password cached, so PBKDF2 runs on neither side),
// bind, roster get, initial presence, and the close, its session's end
// included. The client runs in the same process, so ns/op and allocs/op
// count both sides (the TLS client costs about what the server does);
// bench/compare.sh measures the server alone. "pq" is hearth's default
// key exchange (X25519MLKEM768 with Go's client), "classical" is
// [tls] curves = ["X25519", "P-256"].
func BenchmarkLogin(b *testing.B) {
	for _, bc := range []struct{ name, toml string }{
		{"pq", ""},
		{"classical", "[tls]\ncurves = [\"X25519\", \"P-256\"]"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := xmpptest.NewServer(b, bc.toml)
			srv.AddUser(b, "alice", "pw-alice-1")
			cfg := client.Config{
				Addr:      srv.C2S,
				JID:       jid.MustParse("alice@localhost"),
				Password:  "pw-alice-1",
				Resource:  "bench",
				Insecure:  true,
				Mechanism: client.SCRAMSHA1,
				Keys:      &client.KeyCache{},
			}
			ctx := context.Background()
			roster := stanza.New(stanza.NSClient, "iq", "type", stanza.Get).Append(stanza.New("jabber:iq:roster", "query"))
			login := func() {
				s, err := client.Dial(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.SendIQ(ctx, roster.Copy()); err != nil {
					b.Fatal(err)
				}
				if err := s.SendRaw([]byte("<presence/>")); err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
			login() // the salted password enters the cache
			b.ReportAllocs()
			for b.Loop() {
				login()
			}
		})
	}
}

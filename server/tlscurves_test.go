package server_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"hearth/config"
	"hearth/xmpptest"
)

// TestTLSCurves checks the key exchange a client offering Go's defaults
// (the hybrid X25519MLKEM768 and X25519 key shares) gets: the post-quantum
// hybrid by default, X25519 when [tls] curves names classical curves only,
// on the STARTTLS and the direct TLS listener alike.
func TestTLSCurves(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, toml string
		want       tls.CurveID
	}{
		{"default", "", tls.X25519MLKEM768},
		{"classical", "[tls]\ncurves = [\"X25519\", \"P-256\"]", tls.X25519},
		{"p256 only", "[tls]\ncurves = [\"P-256\"]", tls.CurveP256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.NewServer(t, tc.toml)
			c, _ := secureConn(t, srv)
			if got := c.TLSState().CurveID; got != tc.want {
				t.Errorf("STARTTLS: key exchange %v, want %v", got, tc.want)
			}
			d, err := xmpptest.DialTLSConfig(t, srv.C2STLS, srv.Domain, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.TLSState().CurveID; got != tc.want {
				t.Errorf("direct TLS: key exchange %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTLSCurvesConfig(t *testing.T) {
	t.Parallel()
	for toml, want := range map[string]string{
		`curves = ["X25519", "Curve448"]`: `unknown group "Curve448"`,
		`curves = ["X25519", "X25519"]`:   `"X25519" named twice`,
	} {
		_, err := config.Parse("hosts = [\"localhost\"]\n[tls]\n" + toml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %s", toml, err, want)
		}
	}
}

package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	d := Default()
	if got := strings.Join(d.Hosts, ","); got != "localhost" {
		t.Errorf("hosts = %q, want localhost", got)
	}
	if d.DataDir != "./hearth-data" || d.Storage.Driver != "sqlite" || d.Storage.DSN != filepath.Join("hearth-data", "hearth.db") {
		t.Errorf("storage defaults: data_dir %q, driver %q, dsn %q", d.DataDir, d.Storage.Driver, d.Storage.DSN)
	}
	if strings.Join(d.Listen.C2S, ",") != ":5222" || len(d.Listen.C2STLS) != 0 || len(d.Listen.HTTP) != 0 || strings.Join(d.Listen.HTTPS, ",") != ":5281" {
		t.Errorf("listen defaults: %+v", d.Listen)
	}
	if d.Limits.MaxStanzaSize != 256<<10 || d.Auth.SCRAMIterations != 4096 {
		t.Errorf("limits %+v auth %+v", d.Limits, d.Auth)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, text string
		wantErr    string // "" = valid
		check      func(t *testing.T, f *File)
	}{
		{name: "issue example", text: `
hosts    = ["example.org"]
data_dir = "/var/lib/hearth"
[listen]
c2s     = ["0.0.0.0:5222"]
c2s_tls = ["0.0.0.0:5223"]
[tls]
cert = "/etc/hearth/fullchain.pem"
key  = "/etc/hearth/privkey.pem"
[storage]
driver = "sqlite"
dsn    = ""
[registration]
mode = "closed"
`, check: func(t *testing.T, f *File) {
			if f.DataDir != "/var/lib/hearth" || f.Storage.DSN != "/var/lib/hearth/hearth.db" || f.Listen.C2STLS[0] != "0.0.0.0:5223" {
				t.Errorf("parsed %+v", f.Config)
			}
			if f.Section("registration") == nil || f.Section("muc") != nil {
				t.Errorf("sections: registration present, muc absent expected")
			}
			if err := f.Check([]string{"registration"}); err == nil {
				t.Errorf("Check passed although nothing decoded registration.mode")
			}
			var reg struct{ Mode string }
			if err := f.Section("registration")(&reg); err != nil || reg.Mode != "closed" {
				t.Errorf("section decode: %v %+v", err, reg)
			}
			if err := f.Check([]string{"registration"}); err != nil {
				t.Errorf("Check after decoding: %v", err)
			}
		}},
		{name: "unknown key", text: "hostz = []", wantErr: `unknown key "hostz"`},
		{name: "unknown nested key", text: "[tls]\ncrt = \"x\"", wantErr: "tls.crt"},
		{name: "cert without key", text: "[tls]\ncert = \"x\"", wantErr: "cert and key"},
		{name: "few iterations", text: "[auth]\nscram_iterations = 100", wantErr: "scram_iterations"},
		{name: "bad host", text: "hosts = [\"a@b\"]", wantErr: "invalid domain"},
		{name: "wrong type", text: "hosts = \"example.org\"", wantErr: "hosts"},
		{name: "postgres needs dsn", text: "[storage]\ndriver = \"postgres\"", wantErr: "storage.dsn"},
		{name: "bad log level", text: "[log]\nlevel = \"loud\"", wantErr: "log.level"},
		{name: "storage pool and mysql tls", text: `
[storage]
driver            = "mysql"
dsn               = "hearth@tcp(db:3306)/hearth?tls=custom"
max_open_conns    = 20
max_idle_conns    = 5
conn_max_lifetime = 300
tls_ca            = "/etc/hearth/db-ca.pem"
tls_cert          = "/etc/hearth/db-client.pem"
tls_key           = "/etc/hearth/db-client.key"
`, check: func(t *testing.T, f *File) {
			s := f.Storage
			if s.MaxOpenConns != 20 || s.MaxIdleConns != 5 || s.ConnMaxLifetime != 300 ||
				s.TLSCA != "/etc/hearth/db-ca.pem" || s.TLSCert != "/etc/hearth/db-client.pem" || s.TLSKey != "/etc/hearth/db-client.key" {
				t.Errorf("storage = %+v", s)
			}
		}},
		{name: "unknown storage key", text: "[storage]\nmax_conns = 3", wantErr: "storage.max_conns"},
		{name: "negative pool size", text: "[storage]\nmax_open_conns = -1", wantErr: "storage.max_open_conns"},
		{name: "tls files for postgres", text: "[storage]\ndriver = \"postgres\"\ndsn = \"postgres://db/hearth\"\ntls_ca = \"ca.pem\"", wantErr: "mysql only"},
		{name: "client cert without key", text: "[storage]\ndriver = \"mysql\"\ndsn = \"x@tcp(db)/h\"\ntls_cert = \"c.pem\"", wantErr: "tls_cert and tls_key"},
		{name: "web listeners and [http]", text: `
[listen]
http  = ["127.0.0.1:5280"]
https = [":5281"]
[http]
external_url = "https://chat.example.org"
behind_proxy = true
bosh_max_wait = 30
`, check: func(t *testing.T, f *File) {
			h := f.HTTP
			if f.Listen.HTTP[0] != "127.0.0.1:5280" || f.Listen.HTTPS[0] != ":5281" || h.ExternalURL != "https://chat.example.org" ||
				!h.BehindProxy || h.BOSHMaxWait != 30 || h.BOSHInactivity != 60 || h.ReadHeaderTimeout != 10 || h.ShutdownTimeout != 5 {
				t.Errorf("listen %+v http %+v", f.Listen, h)
			}
		}},
		{name: "external url without scheme", text: "[http]\nexternal_url = \"chat.example.org\"", wantErr: "http.external_url"},
		{name: "negative http timeout", text: "[http]\nidle_timeout = -1", wantErr: "timeouts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tc.check(t, f)
		})
	}
}

func TestCheckUnknownSection(t *testing.T) {
	f, err := Parse("[frobnicator]\nx = 1")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(nil); err == nil || !strings.Contains(err.Error(), "[frobnicator]") {
		t.Errorf("Check = %v, want unknown section [frobnicator]", err)
	}
}

func TestS2S(t *testing.T) {
	d := Default()
	if len(d.Listen.S2S) != 0 || !d.S2S.ValidCertsRequired() || d.S2S.ConnectTimeout != 30 || d.S2S.IdleTimeout != 600 || d.S2S.QueueLimit != 1000 {
		t.Errorf("s2s defaults: listen %v, %+v", d.Listen.S2S, d.S2S)
	}
	f, err := Parse(`
[listen]
s2s = [":5269"]
s2s_tls = [":5270"]
[s2s]
require_valid_certs = false
ca_file = "/etc/hearth/ca.pem"
static = { "b.example" = "127.0.0.3:5269", "c.example" = "[::1]:5999" }
connect_timeout = 5
`)
	if err != nil {
		t.Fatal(err)
	}
	if f.S2S.ValidCertsRequired() || f.S2S.CAFile != "/etc/hearth/ca.pem" || f.S2S.Static["c.example"] != "[::1]:5999" || f.S2S.ConnectTimeout != 5 || f.S2S.IdleTimeout != 600 || f.Listen.S2STLS[0] != ":5270" {
		t.Errorf("parsed %+v, listen %+v", f.S2S, f.Listen)
	}
	for _, c := range []struct{ text, wantErr string }{
		{`[s2s]` + "\n" + `static = { "b.example" = "127.0.0.3" }`, "s2s.static"},
		{`[s2s]` + "\n" + `static = { "b.example" = "h:0" }`, "invalid port"},
		{`[s2s]` + "\n" + `idle_timeout = -1`, "s2s.idle_timeout"},
		{`[s2s]` + "\n" + `static = { "u@b.example" = "h:1" }`, "not a domain"},
		{`[s2s]` + "\n" + `secret = "x"`, "s2s.secret"},
	} {
		if _, err := Parse(c.text); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%q: err %v, want one naming %s", c.text, err, c.wantErr)
		}
	}
}

func TestComponents(t *testing.T) {
	f, err := Parse(`
hosts = ["example.org"]
[listen]
component = ["127.0.0.1:5347"]
[components]
"irc.example.org" = "secret"
`)
	if err != nil || f.Components["irc.example.org"] != "secret" || f.Listen.Component[0] != "127.0.0.1:5347" {
		t.Fatalf("parsed %v, %v", f, err)
	}
	for _, c := range []struct{ text, wantErr string }{
		{"hosts = [\"example.org\"]\n[components]\n\"example.org\" = \"s\"", "not a domain of its own"},
		{"[components]\n\"irc.example.org\" = \"\"", "secret of irc.example.org is empty"},
	} {
		if _, err := Parse(c.text); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%q: err %v, want %s", c.text, err, c.wantErr)
		}
	}
}

func TestACMEAndAdmins(t *testing.T) {
	f, err := Parse("admins = [\"boss@example.org\"]\n[listen]\nc2s_tls = [\":443\"]\n[acme]\nenabled = true\nrenew_before = \"30d\"\n")
	if err != nil {
		t.Fatal(err)
	}
	a := f.ACME
	if a.Directory != LetsEncrypt || a.Challenge != "tls-alpn-01" || time.Duration(a.RenewBefore) != 30*24*time.Hour ||
		time.Duration(a.CheckInterval) != time.Hour || time.Duration(a.OrderTimeout) != 5*time.Minute {
		t.Errorf("acme defaults: %+v", a)
	}
	if f.Admins[0] != "boss@example.org" || time.Duration(f.TLS.Watch) != time.Minute {
		t.Errorf("admins %v, tls.watch %v", f.Admins, f.TLS.Watch)
	}
	if f, err := Parse("[acme]\nenabled = true\nchallenge = \"http-01\"\n"); err != nil || f.ACME.HTTP != ":80" {
		t.Errorf("http-01 default listener: %v %v", f, err)
	}
	for _, bad := range []string{
		"[acme]\nenabled = true\n",                                       // tls-alpn-01 without a listener for it
		"[acme]\nenabled = true\nchallenge = \"dns-01\"\ntls = \":443\"", // unknown challenge
		"[acme]\nenabled = true\nhttp = \":80\"\nchallenge = \"http-01\"\n[tls]\ncert = \"a\"\nkey = \"b\"",
		"[acme]\nrenew_before = \"soon\"",
		"[acme]\nrenew_before = \"-1h\"",
		"[acme]\nfrobnicate = 1",
		"admins = [\"example.org\"]",
		"admins = [\"a@example.org/phone\"]",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// TestMemory: the [memory] keys, their defaults, and sizes written as
// integers or with units.
func TestMemory(t *testing.T) {
	if m := Default().Memory; m.Headroom != 16<<20 || m.HeadroomPercent != 25 || m.Limit != 0 {
		t.Errorf("defaults %+v, want 16 MiB, 25%%, no limit", m)
	}
	tests := []struct {
		text    string
		want    Memory
		wantErr string
	}{
		{text: "", want: Memory{Headroom: 16 << 20, HeadroomPercent: 25}},
		{text: `headroom = "8MiB"` + "\nheadroom_percent = 0\nlimit = \"1GiB\"", want: Memory{Headroom: 8 << 20, Limit: 1 << 30}},
		{text: `headroom = 1048576` + "\nlimit = \"500 MB\"", want: Memory{Headroom: 1 << 20, HeadroomPercent: 25, Limit: 500e6}},
		{text: `headroom = "64KiB"`, want: Memory{Headroom: 64 << 10, HeadroomPercent: 25}},
		{text: `headroom = 0`, want: Memory{HeadroomPercent: 25}},
		{text: `headroom = "lots"`, wantErr: "invalid size"},
		{text: `headroom = "-1MiB"`, wantErr: "invalid size"},
		{text: `limit = -5`, wantErr: "invalid size"},
		{text: `headroom_percent = -1`, wantErr: "headroom_percent"},
		{text: `gogc = 50`, wantErr: "memory.gogc"},
	}
	for _, tt := range tests {
		f, err := Parse("[memory]\n" + tt.text)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one with %q", tt.text, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.text, err)
			continue
		}
		if f.Memory != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.text, f.Memory, tt.want)
		}
	}
}

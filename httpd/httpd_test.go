package httpd

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHandleConflict(t *testing.T) {
	s := New(Config{})
	h := http.NotFoundHandler()
	if err := s.Handle("GET /a/{x}", h); err != nil {
		t.Fatal(err)
	}
	if err := s.Handle("GET /a/{y}", h); err == nil {
		t.Error("a conflicting pattern was accepted")
	}
	if err := s.Handle("BAD PATTERN WITH SPACES", h); err == nil {
		t.Error("an invalid pattern was accepted")
	}
}

func TestBaseURL(t *testing.T) {
	s := New(Config{})
	if got := s.BaseURL("example.org"); got != "" {
		t.Errorf("before listening: %q", got)
	}
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(plain, false)
	_, port, _ := net.SplitHostPort(plain.Addr().String())
	if got, want := s.BaseURL("example.org"), "http://example.org:"+port; got != want {
		t.Errorf("plain only: %q, want %q", got, want)
	}
	tlsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(tlsLn, true)
	_, tport, _ := net.SplitHostPort(tlsLn.Addr().String())
	if got, want := s.BaseURL("example.org"), "https://example.org:"+tport; got != want {
		t.Errorf("with https: %q, want %q", got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Shutdown(ctx)
	select {
	case <-s.Stopping():
	default:
		t.Error("Stopping not closed by Shutdown")
	}

	ext := New(Config{ExternalURL: "https://chat.example.org/"})
	if got := ext.BaseURL("example.org"); got != "https://chat.example.org" {
		t.Errorf("external: %q", got)
	}
}

func TestClientAddrAndSecure(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.org/", nil)
	r.RemoteAddr = "10.0.0.1:4000"
	r.Header.Add("X-Forwarded-For", "6.6.6.6, 192.0.2.7")
	direct := New(Config{})
	if direct.ClientAddr(r) != "10.0.0.1:4000" || direct.Secure(r) {
		t.Errorf("direct: %s %v", direct.ClientAddr(r), direct.Secure(r))
	}
	proxied := New(Config{BehindProxy: true})
	if proxied.ClientAddr(r) != "192.0.2.7" || !proxied.Secure(r) {
		t.Errorf("behind a proxy: %s %v", proxied.ClientAddr(r), proxied.Secure(r))
	}
	if got := proxied.RequestBase(r); got != "https://example.org" {
		t.Errorf("RequestBase behind a proxy: %q", got)
	}
}

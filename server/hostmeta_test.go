package server_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"hearth/xmpptest"
)

func TestHostMeta(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)

	resp, body := doHTTP(t, "GET", "https://"+srv.HTTPS+"/.well-known/host-meta", nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Content-Type") != "application/xrd+xml" {
		t.Fatalf("host-meta: %s %v", resp.Status, resp.Header)
	}
	var xrd struct {
		XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
		Links   []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 Link"`
	}
	if err := xml.Unmarshal(body, &xrd); err != nil {
		t.Fatalf("host-meta is not XRD: %v\n%s", err, body)
	}
	want := "wss://" + srv.HTTPS + "/xmpp-websocket"
	wantBOSH := "https://" + srv.HTTPS + "/http-bind"
	if len(xrd.Links) != 2 || xrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" || xrd.Links[0].Href != want ||
		xrd.Links[1].Rel != "urn:xmpp:alt-connections:xbosh" || xrd.Links[1].Href != wantBOSH {
		t.Errorf("host-meta links %+v, want websocket %s and BOSH %s", xrd.Links, want, wantBOSH)
	}

	resp, body = doHTTP(t, "GET", "https://"+srv.HTTPS+"/.well-known/host-meta.json", nil, nil)
	var jrd struct {
		Links []struct{ Rel, Href string } `json:"links"`
	}
	if err := json.Unmarshal(body, &jrd); err != nil || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("host-meta.json: %v %v\n%s", err, resp.Header, body)
	}
	if len(jrd.Links) != 2 || jrd.Links[0].Href != want || jrd.Links[1].Href != wantBOSH {
		t.Errorf("host-meta.json links %+v", jrd.Links)
	}
	// The advertised endpoint works.
	c, _, err := dialWS(t, jrd.Links[0].Href)
	if err != nil {
		t.Fatalf("dial advertised WebSocket: %v", err)
	}
	c.open("localhost")

	// Asked over plain http, it still points at wss on the https listener.
	_, body = doHTTP(t, "GET", "http://"+srv.HTTP+"/.well-known/host-meta.json", nil, nil)
	if err := json.Unmarshal(body, &jrd); err != nil || len(jrd.Links) != 2 || jrd.Links[0].Href[:6] != "wss://" || jrd.Links[1].Href[:8] != "https://" {
		t.Errorf("host-meta over http: %s", body)
	}
}

func TestLandingPage(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, webTOML)
	resp, body := doHTTP(t, "GET", "https://"+srv.HTTPS+"/", nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(string(body), "name@localhost") || !strings.Contains(string(body), "Conversations") {
		t.Errorf("landing page: %s %v\n%s", resp.Status, resp.Header, body)
	}
	if resp, _ := doHTTP(t, "GET", "https://"+srv.HTTPS+"/no-such-page", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %s", resp.Status)
	}
}

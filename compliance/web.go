package compliance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
)

// Link relations of XEP-0156 §3.
const (
	relWebSocket = "urn:xmpp:alt-connections:websocket"
	relBOSH      = "urn:xmpp:alt-connections:xbosh"
	nsHTTPBind   = "http://jabber.org/protocol/httpbind"
	nsXBOSH      = "urn:xmpp:xbosh"
)

// maxHostMeta bounds what is read of a host-meta document.
const maxHostMeta = 64 << 10

// bigRID bounds the random first request id of a BOSH session
// (XEP-0124 §14.1: well below 2^53).
var bigRID = big.NewInt(1 << 40)

// webLink is an endpoint found in host-meta.
type webLink struct{ rel, href string }

// hostMeta reads /.well-known/host-meta.json, then the XML host-meta
// (XEP-0156 §3), once per run.
func (p *prober) hostMeta(ctx context.Context) ([]webLink, error) {
	if p.webDone {
		return p.webLinks, p.webErr
	}
	p.webDone = true
	base := strings.TrimSuffix(p.cfg.HTTPBase, "/")
	var errs []string
	for _, doc := range []string{"/.well-known/host-meta.json", "/.well-known/host-meta"} {
		b, err := p.get(ctx, base+doc)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		links := parseHostMeta(b, strings.HasSuffix(doc, ".json"))
		if len(links) > 0 {
			p.webLinks = links
			return links, nil
		}
		errs = append(errs, doc+" lists no XMPP connection methods")
	}
	p.webErr = errorf("%s", strings.Join(errs, "; "))
	return nil, p.webErr
}

func (p *prober) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxHostMeta))
}

// parseHostMeta returns the XMPP links of a host-meta document (JRD when
// isJSON, else XRD).
func parseHostMeta(b []byte, isJSON bool) []webLink {
	type link struct {
		Rel  string `json:"rel" xml:"rel,attr"`
		Href string `json:"href" xml:"href,attr"`
	}
	var doc struct {
		Links []link `json:"links" xml:"Link"`
	}
	var err error
	if isJSON {
		err = json.Unmarshal(b, &doc)
	} else {
		err = xml.Unmarshal(b, &doc)
	}
	if err != nil {
		return nil
	}
	var out []webLink
	for _, l := range doc.Links {
		if (l.Rel == relWebSocket || l.Rel == relBOSH) && l.Href != "" {
			out = append(out, webLink{l.Rel, l.Href})
		}
	}
	return out
}

func probeWebDiscovery(ctx context.Context, p *prober) (string, error) {
	links, err := p.hostMeta(ctx)
	if err != nil {
		return "", err
	}
	var hrefs []string
	for _, l := range links {
		hrefs = append(hrefs, l.href)
	}
	return strings.Join(hrefs, ", "), nil
}

// probeWeb opens a session on each endpoint host-meta lists, or, without
// host-meta, on the conventional paths /xmpp-websocket and /http-bind;
// one working endpoint passes.
func probeWeb(ctx context.Context, p *prober) (string, error) {
	links, _ := p.hostMeta(ctx)
	note := ""
	if len(links) == 0 {
		base := strings.TrimSuffix(p.cfg.HTTPBase, "/")
		links = []webLink{{relWebSocket, base + "/xmpp-websocket"}, {relBOSH, base + "/http-bind"}}
		note = " (not listed in host-meta)"
	}
	var ok, errs []string
	for _, l := range links {
		var err error
		if l.rel == relWebSocket {
			err = p.webSocket(ctx, l.href)
		} else {
			err = p.bosh(ctx, l.href)
		}
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			ok = append(ok, l.href)
		}
	}
	if len(ok) == 0 {
		return "", errorf("%s", strings.Join(errs, "; "))
	}
	return strings.Join(ok, ", ") + note, nil
}

// webSocket performs the opening handshake of RFC 7395 §3.3 and checks
// the server accepted the "xmpp" subprotocol.
func (p *prober) webSocket(ctx context.Context, url string) error {
	httpURL := url
	switch {
	case strings.HasPrefix(url, "wss://"):
		httpURL = "https://" + strings.TrimPrefix(url, "wss://")
	case strings.HasPrefix(url, "ws://"):
		httpURL = "http://" + strings.TrimPrefix(url, "ws://")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, httpURL, nil)
	if err != nil {
		return fmt.Errorf("WebSocket %s: %v", url, err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key))
	req.Header.Set("Sec-WebSocket-Protocol", "xmpp")
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("WebSocket %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("WebSocket %s: %s", url, resp.Status)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" {
		return fmt.Errorf("WebSocket %s: the xmpp subprotocol was not accepted", url)
	}
	return nil
}

// bosh asks for a BOSH session (XEP-0124 §7.1, XEP-0206 §3) and checks
// the server created one.
func (p *prober) bosh(ctx context.Context, url string) error {
	rid, _ := rand.Int(rand.Reader, bigRID)
	body := fmt.Sprintf(`<body content='text/xml; charset=utf-8' hold='1' rid='%s' to='%s' ver='1.6' wait='5' xml:lang='en' xmpp:version='1.0' xmlns='%s' xmlns:xmpp='%s'/>`,
		rid.String(), p.cfg.JID.Domain(), nsHTTPBind, nsXBOSH)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("BOSH %s: %v", url, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("BOSH %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("BOSH %s: %s", url, resp.Status)
	}
	var got struct {
		XMLName xml.Name
		SID     string `xml:"sid,attr"`
		Type    string `xml:"type,attr"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxHostMeta))
	if err := xml.Unmarshal(b, &got); err != nil || got.XMLName.Space != nsHTTPBind || got.SID == "" {
		return fmt.Errorf("BOSH %s: no session created (%s)", url, strconv.Quote(string(b[:min(len(b), 120)])))
	}
	return nil
}

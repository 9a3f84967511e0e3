package compliance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"hearth/jid"
	"hearth/stanza"
)

const (
	nsRoster      = "jabber:iq:roster"
	nsRosterVer   = "urn:xmpp:features:rosterver"
	nsVCard       = "vcard-temp"
	nsCarbons     = "urn:xmpp:carbons:2"
	nsBlocking    = "urn:xmpp:blocking"
	nsMUC         = "http://jabber.org/protocol/muc"
	nsMUCUser     = "http://jabber.org/protocol/muc#user"
	nsMUCOwner    = "http://jabber.org/protocol/muc#owner"
	nsMAM         = "urn:xmpp:mam:2"
	nsRSM         = "http://jabber.org/protocol/rsm"
	nsUpload      = "urn:xmpp:http:upload:0"
	nsExtDisco    = "urn:xmpp:extdisco:2"
	nsBytestreams = "http://jabber.org/protocol/bytestreams"
	nsPrivate     = "jabber:iq:private"
	nsRegFeature  = "http://jabber.org/features/iq-register"
	nsServerInfo  = "http://jabber.org/network/serverinfo"
)

func probeRoster(ctx context.Context, p *prober) (string, error) {
	res, err := p.iq(ctx, p.s, stanza.Get, jid.JID{}, stanza.New(nsRoster, "query"))
	if err != nil {
		return "", errorf("roster get: %v", err)
	}
	q := res.Child(nsRoster, "query")
	if q == nil {
		return "", errorf("the roster result has no <query/>")
	}
	return fmt.Sprintf("%d contacts", len(q.Elements())), nil
}

func probeRosterVer(ctx context.Context, p *prober) (string, error) {
	if p.s.Features().Child(nsRosterVer, "ver") == nil {
		return "", errorf("no <ver xmlns='%s'/> in stream features", nsRosterVer)
	}
	res, err := p.iq(ctx, p.s, stanza.Get, jid.JID{}, stanza.New(nsRoster, "query", "ver", ""))
	if err != nil {
		return "", errorf("roster get with ver='': %v", err)
	}
	q := res.Child(nsRoster, "query")
	if q == nil || q.Get("ver") == "" {
		return "", errorf("a roster get with ver='' was answered without a version")
	}
	return "version " + q.Get("ver"), nil
}

func probeVCard(ctx context.Context, p *prober) (string, error) {
	_, err := p.iq(ctx, p.s, stanza.Get, jid.JID{}, stanza.New(nsVCard, "vCard"))
	switch {
	case err == nil:
		return "the account's vCard was returned", nil
	case isCondition(err, "item-not-found"):
		// XEP-0054 §3.1: an account without a vCard.
		return "the account has no vCard yet (item-not-found)", nil
	}
	return "", errorf("vCard get: %v", err)
}

func probeCarbons(ctx context.Context, p *prober) (string, error) {
	d, err := p.server(ctx)
	if err != nil {
		return "", err
	}
	if !d.has(nsCarbons) {
		return "", errNotFeature(p.domain(), nsCarbons)
	}
	if _, err := p.iq(ctx, p.s, stanza.Set, jid.JID{}, stanza.New(nsCarbons, "enable")); err != nil {
		return "", errorf("enabling carbons: %v", err)
	}
	return "enabled", nil
}

func probeBlocking(ctx context.Context, p *prober) (string, error) {
	d, err := p.server(ctx)
	if err != nil {
		return "", err
	}
	if !d.has(nsBlocking) {
		return "", errNotFeature(p.domain(), nsBlocking)
	}
	res, err := p.iq(ctx, p.s, stanza.Get, jid.JID{}, stanza.New(nsBlocking, "blocklist"))
	if err != nil {
		return "", errorf("blocklist get: %v", err)
	}
	l := res.Child(nsBlocking, "blocklist")
	if l == nil {
		return "", errorf("the blocklist result has no <blocklist/>")
	}
	return fmt.Sprintf("%d blocked", len(l.Elements())), nil
}

// probeMUC joins a new room on the first MUC service, configures it as
// an instant room, asks its disco#info (kept for probeMUCMAM) and
// destroys it.
func probeMUC(ctx context.Context, p *prober) (string, error) {
	svc, err := p.service(ctx, "conference", "text", nsMUC)
	if err != nil {
		return "", err
	}
	room, err := jid.New("hearth-compliance-"+randomToken(4), svc.jid.Domain(), "")
	if err != nil {
		return "", err
	}
	occupant, _ := room.WithResource("compliance")
	p.s.Send(stanza.New(stanza.NSClient, "presence", "to", occupant.String()).Append(stanza.New(nsMUC, "x")))
	pres, err := p.in.wait(ctx, func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == occupant.String()
	})
	if err != nil {
		return "", errorf("no presence from %s after joining: %v", occupant, err)
	}
	if pres.Get("type") == stanza.ErrorType {
		return "", errorf("joining %s: %v", room, stanza.ParseError(pres))
	}
	x := pres.Child(nsMUCUser, "x")
	var codes []string
	if x != nil {
		for _, st := range x.Elements() {
			if st.Name.Local == "status" {
				codes = append(codes, st.Get("code"))
			}
		}
	}
	if !slices.Contains(codes, "110") {
		return "", errorf("the self-presence from %s lacks status 110", occupant)
	}
	created := slices.Contains(codes, "201")
	defer func() {
		cctx := context.WithoutCancel(ctx)
		if created {
			p.iq(cctx, p.s, stanza.Set, room, stanza.New(nsMUCOwner, "query").Append(stanza.New(nsMUCOwner, "destroy")))
		}
		p.s.Send(stanza.New(stanza.NSClient, "presence", "to", occupant.String(), "type", "unavailable"))
	}()
	if created {
		// XEP-0045 §10.1.2: accept the default configuration.
		form := (&stanza.Form{Type: "submit"}).Element()
		if _, err := p.iq(ctx, p.s, stanza.Set, room, stanza.New(nsMUCOwner, "query").Append(form)); err != nil {
			return "", errorf("creating an instant room: %v", err)
		}
	}
	p.roomInfo, p.roomInfoErr = p.info(ctx, room, "")
	return "joined and destroyed a room on " + svc.jid.String(), nil
}

func probeMUCMAM(ctx context.Context, p *prober) (string, error) {
	svc, err := p.service(ctx, "conference", "text", nsMUC)
	if err != nil {
		return "", err
	}
	if svc.info.has(nsMAM) {
		return svc.jid.String() + " advertises " + nsMAM, nil
	}
	if p.roomInfo != nil && p.roomInfo.has(nsMAM) {
		return "a new room advertises " + nsMAM, nil
	}
	if p.roomInfoErr != nil {
		return "", errorf("disco#info of a new room: %v", p.roomInfoErr)
	}
	return "", errorf("neither %s nor a new room advertises %s", svc.jid, nsMAM)
}

func probeMAM(ctx context.Context, p *prober) (string, error) {
	d, err := p.account(ctx)
	if err != nil {
		return "", err
	}
	if !d.has(nsMAM) {
		return "", errNotFeature(p.cfg.JID, nsMAM)
	}
	q := stanza.New(nsMAM, "query", "queryid", "compliance-"+randomToken(4)).Append(
		stanza.New(nsRSM, "set").Append(stanza.New(nsRSM, "max").AppendText("1")))
	res, err := p.iq(ctx, p.s, stanza.Set, jid.JID{}, q)
	if err != nil {
		return "", errorf("archive query: %v", err)
	}
	if res.Child(nsMAM, "fin") == nil {
		return "", errorf("the archive query result has no <fin/>")
	}
	return "queried the archive", nil
}

// probeUpload asks for a slot, uploads a small file and downloads it.
func probeUpload(ctx context.Context, p *prober) (string, error) {
	svc, err := p.service(ctx, "store", "file", nsUpload)
	if err != nil {
		return "", err
	}
	body := []byte("hearth compliance test " + randomToken(8) + "\n")
	res, err := p.iq(ctx, p.s, stanza.Get, svc.jid, stanza.New(nsUpload, "request",
		"filename", "hearth-compliance-"+randomToken(4)+".txt",
		"size", strconv.Itoa(len(body)),
		"content-type", "text/plain"))
	if err != nil {
		return "", errorf("slot request to %s: %v", svc.jid, err)
	}
	put, get := path(res, nsUpload, "slot", "put"), path(res, nsUpload, "slot", "get")
	if put == nil || get == nil || put.Get("url") == "" || get.Get("url") == "" {
		return "", errorf("the slot from %s lacks put or get URLs", svc.jid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, put.Get("url"), bytes.NewReader(body))
	if err != nil {
		return "", errorf("the put URL: %v", err)
	}
	req.Header.Set("Content-Type", "text/plain")
	for _, h := range put.Elements() {
		// XEP-0363 §5: only these headers may be passed on.
		switch name := h.Get("name"); strings.ToLower(name) {
		case "authorization", "cookie", "expires":
			req.Header.Set(name, strings.ReplaceAll(h.Text(), "\n", ""))
		}
	}
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return "", errorf("PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", errorf("PUT %s: %s", put.Get("url"), resp.Status)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, get.Get("url"), nil)
	if req == nil {
		return "", errorf("the get URL %q is not valid", get.Get("url"))
	}
	resp, err = p.httpClient().Do(req)
	if err != nil {
		return "", errorf("GET: %v", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, int64(len(body))+1))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		return "", errorf("GET %s: %s, %d bytes (want the %d uploaded)", get.Get("url"), resp.Status, len(got), len(body))
	}
	return fmt.Sprintf("uploaded and downloaded %d bytes via %s", len(body), svc.jid), nil
}

// probeExtDisco asks for the external services and checks that a TURN
// relay is among them with credentials, as Conversations needs them: in
// the list, or else (restricted='1') by a <credentials/> request (XEP-0215
// §3.3). STUN alone does not make calls work behind most NATs.
func probeExtDisco(ctx context.Context, p *prober) (string, error) {
	res, err := p.iq(ctx, p.s, stanza.Get, p.domain(), stanza.New(nsExtDisco, "services"))
	if err != nil {
		return "", errorf("services request: %v", err)
	}
	var kinds []string
	relays := 0
	if l := res.Child(nsExtDisco, "services"); l != nil {
		for _, s := range l.Elements() {
			kinds = append(kinds, s.Get("type")+" "+s.Get("host")+":"+s.Get("port")+"/"+s.Get("transport"))
			if t := s.Get("type"); t != "turn" && t != "turns" {
				continue
			}
			if s.Get("username") == "" && s.Get("restricted") != "" {
				req := stanza.New(nsExtDisco, "credentials").Append(stanza.New(nsExtDisco, "service", "host", s.Get("host"), "type", s.Get("type")))
				c, err := p.iq(ctx, p.s, stanza.Get, p.domain(), req)
				if err != nil {
					return "", errorf("credentials for %s %s: %v", s.Get("type"), s.Get("host"), err)
				}
				s = path(c, nsExtDisco, "credentials", "service")
			}
			if s != nil && s.Get("username") != "" && s.Get("password") != "" {
				relays++
			}
		}
	}
	if len(kinds) == 0 {
		return "", errorf("no STUN/TURN services listed")
	}
	if relays == 0 {
		return "", errorf("no TURN service with credentials among %s", strings.Join(kinds, ", "))
	}
	return strings.Join(kinds, ", "), nil
}

func probeProxy65(ctx context.Context, p *prober) (string, error) {
	svc, err := p.service(ctx, "proxy", "bytestreams", nsBytestreams)
	if err != nil {
		return "", err
	}
	res, err := p.iq(ctx, p.s, stanza.Get, svc.jid, stanza.New(nsBytestreams, "query"))
	if err != nil {
		return "", errorf("asking %s for its address: %v", svc.jid, err)
	}
	sh := path(res, nsBytestreams, "query", "streamhost")
	if sh == nil || sh.Get("host") == "" {
		return "", errorf("%s gave no streamhost", svc.jid)
	}
	return fmt.Sprintf("%s at %s:%s", svc.jid, sh.Get("host"), sh.Get("port")), nil
}

func probePrivate(ctx context.Context, p *prober) (string, error) {
	_, err := p.iq(ctx, p.s, stanza.Get, jid.JID{}, stanza.New(nsPrivate, "query").
		Append(stanza.New(nsComplianceScratch, "probe")))
	if err != nil {
		return "", errorf("private storage get: %v", err)
	}
	return "private storage answered", nil
}

func probeRegister(_ context.Context, p *prober) (string, error) {
	if p.s.PreAuthFeatures().Child(nsRegFeature, "register") == nil {
		return "", errorf("not offered (accounts are created by the operator)")
	}
	return "offered before authentication", nil
}

func probeContact(ctx context.Context, p *prober) (string, error) {
	d, err := p.server(ctx)
	if err != nil {
		return "", err
	}
	for _, f := range d.forms {
		if f.FormType() != nsServerInfo {
			continue
		}
		var set []string
		for _, fd := range f.Fields {
			if strings.HasSuffix(fd.Var, "-addresses") && len(fd.Values) > 0 {
				set = append(set, fd.Var)
			}
		}
		if !slices.Contains(set, "abuse-addresses") {
			return "", errorf("contact addresses without abuse-addresses (%s)", strings.Join(set, ", "))
		}
		return strings.Join(set, ", "), nil
	}
	return "", errorf("no %s form in the server's disco#info", nsServerInfo)
}

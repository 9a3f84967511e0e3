package s2s

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"hearth/stanza"
)

// dialbackKey is the key this server issues, as the originating server,
// for the stream with the given id that receiving opened to it:
// HEX(HMAC-SHA256(HEX(SHA256(secret)), receiving ' ' originating ' ' id))
// (XEP-0185 §3). Only this server, knowing the secret, can confirm it.
func (p *Pool) dialbackKey(receiving, originating, id string) string {
	k := sha256.Sum256(p.cfg.DialbackSecret)
	m := hmac.New(sha256.New, []byte(hex.EncodeToString(k[:])))
	m.Write([]byte(receiving + " " + originating + " " + id))
	return hex.EncodeToString(m.Sum(nil))
}

// checkKey reports whether key is the one this server issued.
func (p *Pool) checkKey(receiving, originating, id, key string) bool {
	return hmac.Equal([]byte(p.dialbackKey(receiving, originating, id)), []byte(key))
}

// verifyKey asks the authoritative server of originating, over a stream
// of its own, whether key is the one it issued for the stream id that it
// opened to receiving (XEP-0220 §2.3). The verifying stream is subject to
// RequireValidCerts like any outbound stream.
func (p *Pool) verifyKey(receiving, originating, id, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.ConnectTimeout)
	defer cancel()
	w, err := p.connect(ctx, receiving, originating, true)
	if err != nil {
		return false, err
	}
	defer w.close(nil)
	verify := stanza.New(NSDialback, "verify", "from", receiving, "to", originating, "id", id).AppendText(key)
	if err := w.writeElement(verify); err != nil {
		return false, err
	}
	deadline, _ := ctx.Deadline()
	stop := context.AfterFunc(ctx, func() { w.nc.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		el, err := w.next(deadline)
		if err != nil {
			return false, err
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			return false, streamErrorFrom(el)
		}
		if el.Name.Space != NSDialback || el.Name.Local != "verify" || el.Get("id") != id {
			continue
		}
		switch el.Get("type") {
		case "valid":
			return true, nil
		case "invalid":
			return false, nil
		}
		return false, errors.New("dialback verification failed (type " + el.Get("type") + ")")
	}
}

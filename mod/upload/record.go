package upload

import (
	"encoding/json"
	"mime"
	"time"
)

// record is what the service keeps about one slot, in the "upload" map
// under the uploader's bare JID and the slot id.
type record struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Type is the content type: the one the slot request named ("" when
	// it named none), then the one the upload was stored with.
	Type    string    `json:"type,omitempty"`
	Created time.Time `json:"created"`
	// Uploaded is when the file was stored; zero while the slot waits.
	Uploaded time.Time `json:"uploaded,omitzero"`
}

func (r record) encode() []byte {
	b, _ := json.Marshal(r)
	return b
}

func decodeRecord(b []byte) (record, error) {
	var r record
	err := json.Unmarshal(b, &r)
	return r, err
}

// expired reports whether rec's file (or its unused slot) is past its
// lifetime at now.
func (s *service) expired(rec record, now time.Time) bool {
	if rec.Uploaded.IsZero() {
		return now.Sub(rec.Created) > time.Duration(s.cfg.SlotTimeout)*time.Second
	}
	return now.Sub(rec.Uploaded) > time.Duration(s.cfg.ExpireAfter)*time.Second
}

// expires returns when rec's uploaded file expires.
func (s *service) expires(rec record) time.Time {
	return rec.Uploaded.Add(time.Duration(s.cfg.ExpireAfter) * time.Second)
}

// validContentType reports whether t is a media type a header can carry.
func validContentType(t string) bool {
	if len(t) > 255 {
		return false
	}
	_, _, err := mime.ParseMediaType(t)
	return err == nil
}

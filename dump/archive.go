package dump

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"hearth/jid"
	"hearth/mod/mam"
	"hearth/mod/offline"
	"hearth/stanza"
	"hearth/storage"
)

// Namespaces of the elements the archive sections write.
const (
	nsMAM     = "urn:xmpp:mam:2"
	nsForward = "urn:xmpp:forward:0"
	nsDelay   = "urn:xmpp:delay"
)

// archivePage is how many items an export reads per query.
const archivePage = 500

// stampLayout writes archive times with the microseconds storage keeps,
// in UTC (XEP-0082).
const stampLayout = "2006-01-02T15:04:05.000000Z"

// eachItem calls fn with every item of owner in archive name, oldest
// first, reading a page at a time.
func eachItem(ctx context.Context, st storage.Store, name, owner string, fn func(storage.Item) error) error {
	arch := st.Archive(name)
	q := storage.Query{Limit: archivePage, CountLimit: 1}
	for {
		res, err := arch.Query(ctx, owner, q)
		if err != nil {
			return err
		}
		for _, it := range res.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if res.Complete || len(res.Items) == 0 {
			return nil
		}
		q.AfterID = res.Items[len(res.Items)-1].ID
	}
}

// parseStanza parses one serialised stanza.
func parseStanza(b []byte) (*stanza.Element, error) {
	return stanza.NewDecoder(strings.NewReader(string(b)), stanza.Limits{}).Next()
}

// MAMSection returns the section of the message archive (XEP-0313, kept
// by hearth/mod/mam): XEP-0227's
//
//	<archive xmlns='urn:xmpp:pie:0#mam'>
//	  <result xmlns='urn:xmpp:mam:2' id='STANZA-ID'><forwarded xmlns='urn:xmpp:forward:0'>
//	    <delay xmlns='urn:xmpp:delay' stamp='TIME'/><message xmlns='jabber:client' .../>
//	  </forwarded></result>...
//	</archive>
//
// oldest first. The id is the archive's stanza-id and survives the move,
// and so does the time, to the microsecond. The peer an item is filed
// under is what the message's addresses give (its 'from', or its 'to'
// for a message the user sent); when it is not, hearth writes it as the
// attribute with of its own namespace on <result/>.
func MAMSection() Section {
	archive := xml.Name{Space: NSMAM, Local: "archive"}
	return Section{
		Name:     mam.ArchiveName,
		Elements: []xml.Name{archive},
		Export: func(ctx context.Context, st storage.Store, user jid.JID) ([]*stanza.Element, error) {
			owner := user.Bare().String()
			a := stanza.New(NSMAM, "archive")
			err := eachItem(ctx, st, mam.ArchiveName, owner, func(it storage.Item) error {
				msg, err := parseStanza(it.Data)
				if err != nil {
					return fmt.Errorf("item %s: %w", it.ID, err)
				}
				res := stanza.New(nsMAM, "result", "id", it.ID)
				if peer(msg, owner) != it.With {
					res.Attr = append(res.Attr, xml.Attr{Name: xml.Name{Space: NSHearth, Local: "with"}, Value: it.With})
				}
				a.Append(res.Append(stanza.New(nsForward, "forwarded").Append(
					stanza.New(nsDelay, "delay", "stamp", it.Time.UTC().Format(stampLayout)), msg)))
				return nil
			})
			if err != nil || len(a.Elements()) == 0 {
				return nil, err
			}
			return []*stanza.Element{a}, nil
		},
		Import: func(ctx context.Context, st storage.Store, user jid.JID, els []*stanza.Element) error {
			owner := user.Bare().String()
			arch := st.Archive(mam.ArchiveName)
			for _, a := range els {
				for _, res := range a.Elements() {
					if res.Name != (xml.Name{Space: nsMAM, Local: "result"}) {
						continue
					}
					fwd := res.Child(nsForward, "forwarded")
					if fwd == nil {
						return fmt.Errorf("archive result %q without <forwarded/>", res.Get("id"))
					}
					msg := fwd.Child(stanza.NSClient, "message")
					if msg == nil {
						return fmt.Errorf("archive result %q without a jabber:client <message/>", res.Get("id"))
					}
					var t time.Time
					if d := fwd.Child(nsDelay, "delay"); d != nil {
						var err error
						if t, err = time.Parse(time.RFC3339Nano, d.Get("stamp")); err != nil {
							return fmt.Errorf("archive result %q: bad delay stamp: %w", res.Get("id"), err)
						}
					}
					with := peer(msg, owner)
					for _, at := range res.Attr {
						if at.Name == (xml.Name{Space: NSHearth, Local: "with"}) {
							with = at.Value
						}
					}
					it := storage.Item{ID: res.Get("id"), Time: t, With: with, Data: []byte(msg.String())}
					if _, err := arch.Append(ctx, owner, it); err != nil {
						if errors.Is(err, storage.ErrExists) {
							return fmt.Errorf("archive result %q: id already in the store", it.ID)
						}
						return err
					}
				}
			}
			return nil
		},
	}
}

// peer returns the address mod/mam files msg under in owner's archive:
// its sender, or its recipient for a message owner sent.
func peer(msg *stanza.Element, owner string) string {
	from := msg.Get("from")
	if j, err := jid.Parse(from); err == nil && from != "" && j.Bare().String() != owner {
		return j.String()
	}
	if j, err := jid.Parse(msg.Get("to")); err == nil {
		return j.String()
	}
	return msg.Get("to")
}

// OfflineSection returns the section of offline messages (XEP-0160, kept
// by hearth/mod/offline): XEP-0227's <offline-messages/> of the stored
// <message/>s, oldest first, each with the XEP-0203 <delay/> the server
// stamped when it stored it. Import keeps them in that order and takes
// their storage time from that stamp (whole seconds; hearth's is finer
// but only orders them); item ids are internal and new.
func OfflineSection() Section {
	return Section{
		Name:     offline.ArchiveName,
		Elements: []xml.Name{{Space: NS, Local: "offline-messages"}},
		Export: func(ctx context.Context, st storage.Store, user jid.JID) ([]*stanza.Element, error) {
			om := stanza.New(NS, "offline-messages")
			err := eachItem(ctx, st, offline.ArchiveName, user.Bare().String(), func(it storage.Item) error {
				msg, err := parseStanza(it.Data)
				if err != nil {
					return fmt.Errorf("item %s: %w", it.ID, err)
				}
				om.Append(msg)
				return nil
			})
			if err != nil || len(om.Elements()) == 0 {
				return nil, err
			}
			return []*stanza.Element{om}, nil
		},
		Import: func(ctx context.Context, st storage.Store, user jid.JID, els []*stanza.Element) error {
			owner := user.Bare().String()
			arch := st.Archive(offline.ArchiveName)
			for _, om := range els {
				for _, msg := range om.Elements() {
					if msg.Name != (xml.Name{Space: stanza.NSClient, Local: "message"}) {
						continue
					}
					t := delayTime(msg, user.Domain())
					if t.IsZero() {
						t = time.Now()
					}
					if _, err := arch.Append(ctx, owner, storage.Item{Time: t, With: msg.Get("from"), Data: []byte(msg.String())}); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

// delayTime returns the stamp of msg's <delay/> from domain, else of its
// first <delay/>, else the zero time.
func delayTime(msg *stanza.Element, domain string) time.Time {
	var first time.Time
	for _, d := range msg.Elements() {
		if d.Name != (xml.Name{Space: nsDelay, Local: "delay"}) {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, d.Get("stamp"))
		if err != nil {
			continue
		}
		if d.Get("from") == domain {
			return t
		}
		if first.IsZero() {
			first = t
		}
	}
	return first
}

package stream

import (
	"errors"
	"net"
	"time"

	"hearth/internal/rate"
	"hearth/stanza"
)

// NSPing is XEP-0199's namespace, used to probe idle streams.
const NSPing = "urn:xmpp:ping"

// Liveness configures how a bound stream's reading is watched (zero
// values disable each part). The stream reads with a deadline:
//
//   - IdleTimeout after the last element read with nothing partly
//     received, the server sends an XEP-0199 ping; any input answers it.
//     PingTimeout later, a stream still silent ends with connection-timeout.
//   - An element still incomplete when the deadline passes gets
//     StanzaTimeout more; still incomplete then (a slowloris sender), the
//     stream ends with policy-violation.
//
// The rates bound what one connection may send, as token buckets: bytes
// and stanzas per second with bursts. A connection over its budget is not
// read until the bucket refills, which slows the sender through TCP
// without dropping anything.
type Liveness struct {
	IdleTimeout   time.Duration
	PingTimeout   time.Duration
	StanzaTimeout time.Duration

	BytesPerSecond   int
	BurstBytes       int
	StanzasPerSecond int
	BurstStanzas     int
}

// reader reads a bound stream's elements under a Liveness.
type reader struct {
	c   *Conn
	cfg Liveness

	pinged bool      // a ping was sent since the last element
	grace  bool      // the incomplete element got its StanzaTimeout
	last   time.Time // when the last element was read

	bytes, stanzas rate.Bucket
	lastOffset     int64
	now            func() time.Time
	sleep          func(time.Duration)
}

func newReader(c *Conn, cfg Liveness) *reader {
	r := &reader{c: c, cfg: cfg, now: time.Now, sleep: time.Sleep}
	r.bytes = rate.NewBucket(cfg.BytesPerSecond, cfg.BurstBytes)
	r.stanzas = rate.NewBucket(cfg.StanzasPerSecond, cfg.BurstStanzas)
	r.lastOffset = c.dec.InputOffset()
	if cfg.IdleTimeout > 0 {
		r.last = r.now()
		c.nc.SetReadDeadline(r.last.Add(cfg.IdleTimeout))
	}
	return r
}

// next returns the next element of the stream, pinging an idle peer and
// ending a silent or stalled one with a stream error.
//
// The read deadline is not moved at every element, which would cost a
// timer update per stanza on the hottest path: when it passes, an element
// read since then re-arms it from that element's time, and only a stream
// that really was silent (or stalled) that long is pinged (or cut).
func (r *reader) next() (*stanza.Element, error) {
	for {
		el, err := r.c.dec.Next()
		if err == nil {
			r.pinged, r.grace = false, false
			now := r.now()
			if r.cfg.IdleTimeout > 0 {
				r.last = now
			}
			r.throttle(now)
			return el, nil
		}
		if r.cfg.IdleTimeout <= 0 || !isTimeout(err) {
			return nil, err
		}
		now := r.now()
		if due := r.last.Add(r.cfg.IdleTimeout); !r.pinged && !r.grace && now.Before(due) {
			r.c.nc.SetReadDeadline(due) // traffic since the deadline was set
			continue
		}
		switch {
		case r.c.dec.Partial():
			if r.grace || r.cfg.StanzaTimeout <= 0 {
				return nil, &stanza.StreamError{Condition: "policy-violation", Text: "element not completed in time"}
			}
			r.grace = true
			r.c.nc.SetReadDeadline(now.Add(r.cfg.StanzaTimeout))
		case r.pinged:
			return nil, &stanza.StreamError{Condition: "connection-timeout", Text: "no answer to a ping"}
		default:
			r.pinged = true
			r.c.Send(stanza.New(stanza.NSClient, "iq", "type", stanza.Get, "id", "idle-"+stanza.NewID(), "from", r.c.domain, "to", r.c.jid.String()).
				Append(stanza.New(NSPing, "ping")))
			r.c.nc.SetReadDeadline(now.Add(r.cfg.PingTimeout))
		}
	}
}

// throttle takes the element just read from the buckets and waits while
// either is empty.
func (r *reader) throttle(now time.Time) {
	off := r.c.dec.InputOffset()
	n := off - r.lastOffset
	r.lastOffset = off
	if d := max(r.bytes.Take(float64(n), now), r.stanzas.Take(1, now)); d > 0 {
		r.sleep(d)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hearth/client"
)

// maxSamples bounds the latency samples kept in memory (8 bytes each):
// beyond it, deliveries are counted but their latency is not recorded.
const maxSamples = 20_000_000

// Phases of a flow measurement.
const (
	warmUp int32 = iota
	measuring
	finished
)

// flowMeter counts the messages of chat and muc. A message's id carries
// its send time, so a receiver in this process knows its latency without
// any clock shared with the server.
type flowMeter struct {
	base      time.Time
	idPrefix  string
	phase     atomic.Int32
	sent      atomic.Int64
	delivered atomic.Int64
	samples   atomic.Int64
}

func newFlowMeter(runID string) *flowMeter {
	return &flowMeter{base: time.Now(), idPrefix: "hb" + runID + "-"}
}

// stamp appends a fresh message id to buf.
func (m *flowMeter) stamp(buf []byte) []byte {
	buf = append(buf, m.idPrefix...)
	return strconv.AppendInt(buf, int64(time.Since(m.base)), 36)
}

// sentOne counts a message sent.
func (m *flowMeter) sentOne() {
	if m.phase.Load() == measuring {
		m.sent.Add(1)
	}
}

// ours reports whether id is the id of a message this run sent.
func (m *flowMeter) ours(id string) bool { return strings.HasPrefix(id, m.idPrefix) }

// received records the delivery of the message with id to rec; it
// reports false for an id this run did not send.
func (m *flowMeter) received(rec *recorder, id string) bool {
	return m.receivedRaw(rec, []byte(id))
}

// receivedRaw is received for an id still in the bytes it was read from.
func (m *flowMeter) receivedRaw(rec *recorder, id []byte) bool {
	rest, ok := bytes.CutPrefix(id, []byte(m.idPrefix))
	if !ok {
		return false
	}
	ns, ok := parseBase36(rest)
	if !ok {
		return false
	}
	if m.phase.Load() != measuring {
		return true
	}
	m.delivered.Add(1)
	if m.samples.Add(1) <= maxSamples {
		rec.add(time.Since(m.base) - time.Duration(ns))
	}
	return true
}

// parseBase36 parses the non-negative base-36 number stamp wrote.
func parseBase36(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'z':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		n = n*36 + int64(d)
	}
	return n, true
}

// recorder holds the latencies one receiver saw.
type recorder struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

// measure runs the warm-up, then measures for d: it fills f with the
// counts, rates, latencies of recs and server CPU. It returns false when
// ctx ended first.
func (b *bench) measure(ctx context.Context, m *flowMeter, recs []*recorder, f *flow) bool {
	if !sleep(ctx, b.opts.settle) {
		return false
	}
	cpu := startCPU(b.opts.pid)
	self := startCPU(os.Getpid())
	start := time.Now()
	m.phase.Store(measuring)
	completed := sleep(ctx, b.opts.duration)
	m.phase.Store(finished)
	elapsed := time.Since(start)
	used, measured := cpu.stop()
	selfUsed, selfMeasured := self.stop()

	f.DurationS = round3(elapsed.Seconds())
	f.Sent, f.Delivered = m.sent.Load(), m.delivered.Load()
	f.DeliveredPerS = round3(float64(f.Delivered) / elapsed.Seconds())
	if measured && f.Delivered > 0 {
		f.CPUSPer100k = ptr(round3(used.Seconds() / float64(f.Delivered) * 100_000))
	}
	if selfMeasured && f.Delivered > 0 {
		f.BenchCPUSPer100k = ptr(round3(selfUsed.Seconds() / float64(f.Delivered) * 100_000))
	}
	var all []time.Duration
	for _, r := range recs {
		r.mu.Lock()
		all = append(all, r.lat...)
		r.mu.Unlock()
	}
	sortDurations(all)
	f.LatP50MS, f.LatP99MS, f.LatP999MS = percentile(all, 0.5), percentile(all, 0.99), percentile(all, 0.999)
	return completed
}

// sender sends one message each time a slot is free, until stop is
// closed. Slots start full (the window) and are given back when the
// message is known delivered (or bounced). With batch, the messages of
// all the slots free at once go out in one write, as a client catching
// up writes; without, each message is a write of its own.
type sender struct {
	s     *client.Session
	batch bool
	slots chan struct{}
	// head and tail surround the id: head ends with id=' and tail
	// starts with the closing quote.
	head, tail []byte
}

func newSender(s *client.Session, window int, batch bool, head, tail string) *sender {
	sd := &sender{s: s, batch: batch, slots: make(chan struct{}, window), head: []byte(head), tail: []byte(tail)}
	for range window {
		sd.slots <- struct{}{}
	}
	return sd
}

// release gives back one slot; it never blocks (a duplicate delivery
// cannot overfill the window).
func (sd *sender) release() {
	select {
	case sd.slots <- struct{}{}:
	default:
	}
}

// run is the sender's loop; it returns the first send error.
func (sd *sender) run(m *flowMeter, stop <-chan struct{}) error {
	buf := make([]byte, 0, cap(sd.slots)*(len(sd.head)+len(sd.tail)+32))
	for {
		select {
		case <-stop:
			return nil
		case <-sd.slots:
		}
		n := 1
	more:
		for sd.batch && n < cap(sd.slots) {
			select {
			case <-sd.slots:
				n++
			default:
				break more
			}
		}
		buf = buf[:0]
		for range n {
			buf = append(buf, sd.head...)
			buf = m.stamp(buf)
			buf = append(buf, sd.tail...)
		}
		if err := sd.s.SendRaw(buf); err != nil {
			return err
		}
		for range n {
			m.sentOne()
		}
	}
}

// rawMessage returns the start tag of a <message/> element read by
// client.Config.Raw, or false for anything else.
func rawMessage(raw []byte) ([]byte, bool) {
	if !bytes.HasPrefix(raw, []byte("<message")) || len(raw) < 9 || !isXMLSpace(raw[8]) && raw[8] != '>' && raw[8] != '/' {
		return nil, false
	}
	var quote byte
	for i, c := range raw {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			return raw[:i], true
		}
	}
	return nil, false
}

// rawAttr returns the value of the unprefixed attribute name in the start
// tag, as written (the values the bench looks at need no unescaping).
func rawAttr(tag []byte, name string) ([]byte, bool) {
	for i := 0; i < len(tag); {
		j := bytes.Index(tag[i:], []byte(name))
		if j < 0 {
			return nil, false
		}
		j += i
		k := j + len(name)
		for k < len(tag) && isXMLSpace(tag[k]) {
			k++
		}
		if j > 0 && isXMLSpace(tag[j-1]) && k < len(tag) && tag[k] == '=' {
			k++
			for k < len(tag) && isXMLSpace(tag[k]) {
				k++
			}
			if k < len(tag) && (tag[k] == '\'' || tag[k] == '"') {
				end := bytes.IndexByte(tag[k+1:], tag[k])
				if end < 0 {
					return nil, false
				}
				return tag[k+1 : k+1+end], true
			}
		}
		i = k
	}
	return nil, false
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// padding returns a body text that brings a stanza whose other parts
// take fixed bytes to about size bytes; the id's length is estimated.
func padding(size, fixed int) string {
	const idEstimate = 24
	return strings.Repeat("x", max(1, size-fixed-idEstimate))
}

// drain waits, bounded, until every sender has its full window back:
// the messages in flight have arrived.
func drain(ctx context.Context, senders []*sender, window int, bound time.Duration) {
	deadline := time.Now().Add(bound)
	for _, sd := range senders {
		for len(sd.slots) < window && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

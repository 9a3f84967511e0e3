package main

import (
	"context"
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
	rest, ok := strings.CutPrefix(id, m.idPrefix)
	if !ok {
		return false
	}
	ns, err := strconv.ParseInt(rest, 36, 64)
	if err != nil {
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
	start := time.Now()
	m.phase.Store(measuring)
	completed := sleep(ctx, b.opts.duration)
	m.phase.Store(finished)
	elapsed := time.Since(start)
	used, measured := cpu.stop()

	f.DurationS = round3(elapsed.Seconds())
	f.Sent, f.Delivered = m.sent.Load(), m.delivered.Load()
	f.DeliveredPerS = round3(float64(f.Delivered) / elapsed.Seconds())
	if measured && f.Delivered > 0 {
		f.CPUSPer100k = ptr(round3(used.Seconds() / float64(f.Delivered) * 100_000))
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
// message is known delivered (or bounced).
type sender struct {
	s     *client.Session
	slots chan struct{}
	// head and tail surround the id: head ends with id=' and tail
	// starts with the closing quote.
	head, tail []byte
}

func newSender(s *client.Session, window int, head, tail string) *sender {
	sd := &sender{s: s, slots: make(chan struct{}, window), head: []byte(head), tail: []byte(tail)}
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
	buf := make([]byte, 0, len(sd.head)+len(sd.tail)+32)
	for {
		select {
		case <-stop:
			return nil
		case <-sd.slots:
		}
		buf = append(buf[:0], sd.head...)
		buf = m.stamp(buf)
		buf = append(buf, sd.tail...)
		if err := sd.s.SendRaw(buf); err != nil {
			return err
		}
		m.sentOne()
	}
}

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

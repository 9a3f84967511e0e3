package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"hearth/client"
	"hearth/stanza"
)

// provision creates accounts first .. first+n-1 by in-band registration
// (XEP-0077), c at a time, one registration per connection. Accounts that
// exist already count as provisioned.
func (b *bench) provision(ctx context.Context) result {
	o := b.opts
	r := &provisionResult{N: o.n, Concurrency: o.concurrency}
	var registered, existing atomic.Int64
	var errs tally
	start := time.Now()
	forEach(ctx, o.n, o.concurrency, func(i int) {
		cfg, err := b.config(i, "", nil, nil)
		if err != nil {
			errs.add(err)
			return
		}
		err = client.Register(ctx, cfg)
		var se *stanza.Error
		switch {
		case err == nil:
			registered.Add(1)
		case errors.As(err, &se) && se.Condition == "conflict":
			existing.Add(1)
		default:
			errs.add(fmt.Errorf("register %s: %w", cfg.JID, err))
		}
	})
	elapsed := time.Since(start)
	r.Registered, r.Existing = registered.Load(), existing.Load()
	r.OK = r.Registered + r.Existing
	r.PerS = round3(float64(r.OK) / elapsed.Seconds())
	var err error
	if ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	errs.fill(&r.header, err)
	b.say("provision: %d registered, %d existed, %d failed, %.1f/s", r.Registered, r.Existing, r.Errors, r.PerS)
	return r
}

// login logs in n times, c at a time, each login a full client start-up
// (TLS, SASL, bind, roster, presence) followed by a clean close; login i
// uses account i modulo -users.
func (b *bench) login(ctx context.Context) result {
	o := b.opts
	r := &loginResult{N: o.n, Concurrency: o.concurrency}
	bound := make([]time.Duration, o.n)
	ready := make([]time.Duration, o.n)
	var ok atomic.Int64
	var errs tally
	cpu := startCPU(o.pid)
	start := time.Now()
	forEach(ctx, o.n, o.concurrency, func(i int) {
		s, t, err := b.connect(ctx, i%o.users, o.resource+strconv.Itoa(i), nil, nil)
		if err != nil {
			errs.add(err)
			return
		}
		if err := s.Close(); err != nil {
			errs.add(fmt.Errorf("close %s: %w", s.JID(), err))
			return
		}
		bound[i], ready[i] = t.bound, t.ready
		ok.Add(1)
	})
	elapsed := time.Since(start)
	r.OK = ok.Load()
	if used, measured := cpu.stop(); measured && r.OK > 0 {
		r.CPUMSPerLogin = ptr(round3(float64(used) / float64(time.Millisecond) / float64(r.OK)))
	}
	r.LoginsPerS = round3(float64(r.OK) / elapsed.Seconds())
	bound, ready = nonZero(bound), nonZero(ready)
	r.BoundP50MS, r.BoundP99MS = percentile(bound, 0.5), percentile(bound, 0.99)
	r.ReadyP50MS, r.ReadyP99MS = percentile(ready, 0.5), percentile(ready, 0.99)
	var err error
	if ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	errs.fill(&r.header, err)
	b.say("login: %d ok, %d failed, %.1f logins/s, bound p50 %.2f ms p99 %.2f ms, ready p50 %.2f ms, server CPU %s per login",
		r.OK, r.Errors, r.LoginsPerS, r.BoundP50MS, r.BoundP99MS, r.ReadyP50MS, fmtMS(r.CPUMSPerLogin))
	return r
}

// idle holds n logged-in sessions and reports the server's RSS growth per
// session.
func (b *bench) idle(ctx context.Context) result {
	o := b.opts
	r := &idleResult{N: o.n, Concurrency: o.concurrency}
	var errs tally
	var before int64
	var rssErr error
	if o.pid > 0 {
		before, rssErr = processRSS(o.pid)
	}
	sessions := make([]*client.Session, o.n)
	defer closeAll(sessions, o.concurrency)
	forEach(ctx, o.n, o.concurrency, func(i int) {
		s, _, err := b.connect(ctx, i%o.users, o.resource+strconv.Itoa(i), nil, nil)
		if err != nil {
			errs.add(err)
			return
		}
		sessions[i] = s
	})
	var err error
	if !sleep(ctx, o.settle) {
		err = ctxErr(ctx)
	}
	// Sessions that ended while idle do not count.
	for i, s := range sessions {
		if s == nil {
			continue
		}
		select {
		case <-s.Done():
			errs.add(fmt.Errorf("session %s ended while idle: %v", s.JID(), s.Err()))
			sessions[i] = nil
		default:
			r.Sessions++
		}
	}
	r.OK = r.Sessions
	if o.pid > 0 && rssErr == nil {
		var after int64
		if after, rssErr = processRSS(o.pid); rssErr == nil {
			r.RSSBeforeKiB, r.RSSAfterKiB = ptr(before), ptr(after)
			if r.Sessions > 0 {
				r.KiBPerSession = ptr(round3(float64(after-before) / float64(r.Sessions)))
			}
		}
	}
	if rssErr != nil {
		errs.add(fmt.Errorf("reading the server's RSS: %w", rssErr))
	}
	if err == nil && !sleep(ctx, o.hold) {
		err = ctxErr(ctx)
	}
	errs.fill(&r.header, err)
	b.say("idle: %d sessions held, %d failed, server RSS %s KiB per session", r.Sessions, r.Errors, fmtMS(r.KiBPerSession))
	return r
}

func nonZero(d []time.Duration) []time.Duration {
	out := d[:0]
	for _, x := range d {
		if x > 0 {
			out = append(out, x)
		}
	}
	return sortDurations(out)
}

// fmtMS prints an optional figure, "n/a" without -pid.
func fmtMS(p *float64) string {
	if p == nil {
		return "n/a (no -pid)"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

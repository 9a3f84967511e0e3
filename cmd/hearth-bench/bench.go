package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hearth/client"
	"hearth/jid"
	"hearth/stanza"
)

// bench is one invocation: the options and what the scenarios share.
type bench struct {
	opts *options
	out  io.Writer
	// keys caches SCRAM salted passwords, as a client remembering its
	// accounts does: only the server's work is being measured.
	keys    client.KeyCache
	nextSrc atomic.Uint64
	// runID makes room names and message ids of this run unique, so
	// leftovers of an earlier run are not counted.
	runID string
}

// run parses args, runs the scenarios in order and writes their lines to
// stdout. It returns an error for bad flags, for a failed scenario (after
// its JSON line) or when -maxtime passed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.maxTime, fmt.Errorf("-maxtime %v reached", o.maxTime))
	defer cancel()
	b := &bench{opts: o, out: stdout, runID: strconv.FormatInt(time.Now().UnixNano()%1e10, 36)}
	var failed []string
	for _, name := range o.scenarios {
		r := b.runScenario(ctx, name)
		h := r.base()
		line := encodeResult(r)
		fmt.Fprintf(stdout, "%s\n", line)
		if o.jsonFile != "" {
			if err := appendLine(o.jsonFile, line); err != nil {
				return err
			}
		}
		if h.Error != "" {
			failed = append(failed, name)
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("scenarios with errors: %v", failed)
	}
	return nil
}

// runScenario runs one scenario and fills in the common fields.
func (b *bench) runScenario(ctx context.Context, name string) result {
	start := time.Now()
	self := startCPU(os.Getpid())
	b.say("%s: start", name)
	var r result
	switch name {
	case "provision":
		r = b.provision(ctx)
	case "login":
		r = b.login(ctx)
	case "idle":
		r = b.idle(ctx)
	case "chat":
		r = b.chat(ctx)
	case "offline":
		r = b.offline(ctx)
	case "muc":
		r = b.muc(ctx)
	}
	h := r.base()
	h.Tool = "hearth-bench"
	h.Scenario = name
	h.Label = b.opts.label
	h.Addr = b.opts.addr
	h.Domain = b.opts.domain
	h.TLS = "starttls"
	if b.opts.directTLS {
		h.TLS = "direct"
	}
	h.Mechanism = b.opts.mechanism
	h.ServerPID = b.opts.pid
	h.Started = start.UTC().Format(time.RFC3339)
	h.ElapsedS = round3(time.Since(start).Seconds())
	if used, ok := self.stop(); ok {
		h.BenchCPUS = round3(used.Seconds())
	}
	if h.Error != "" {
		b.say("%s: ERROR %s", name, h.Error)
	}
	return r
}

// say prints one human-readable line.
func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.out, "# "+format+"\n", args...)
}

func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// account returns the JID of account index i (counted from -first).
func (b *bench) account(i int) (jid.JID, error) {
	return jid.New(b.opts.prefix+strconv.Itoa(b.opts.first+i), b.opts.domain, "")
}

// config returns the client configuration for account i, with the next
// source address.
func (b *bench) config(i int, resource string, h client.Handler, raw func(*client.Session, []byte) bool) (client.Config, error) {
	j, err := b.account(i)
	if err != nil {
		return client.Config{}, err
	}
	cfg := client.Config{
		Addr:      b.opts.addr,
		JID:       j,
		Password:  b.opts.password,
		Resource:  resource,
		Insecure:  true, // loopback test servers have self-signed certificates
		Mechanism: b.opts.mechanism,
		Timeout:   b.opts.stepTimeout,
		Handler:   h,
		Raw:       raw,
		Keys:      &b.keys,
	}
	if b.opts.directTLS {
		cfg.Security = client.DirectTLS
	}
	if src := b.opts.sources; len(src) > 0 {
		cfg.LocalAddr = src[b.nextSrc.Add(1)%uint64(len(src))]
	}
	return cfg, nil
}

// loginTimes are the durations of one login, from the start of the TCP
// connection.
type loginTimes struct {
	bound time.Duration // resource bound
	ready time.Duration // roster received and initial presence sent
}

// connect logs in to account i as a client does at start-up: TLS, SASL,
// bind, roster get and initial presence (RFC 6121 §2.2, §4.2). raw, if
// not nil, sees the session's elements before they are parsed
// (client.Config.Raw).
func (b *bench) connect(ctx context.Context, i int, resource string, h client.Handler, raw func(*client.Session, []byte) bool) (*client.Session, loginTimes, error) {
	var t loginTimes
	cfg, err := b.config(i, resource, h, raw)
	if err != nil {
		return nil, t, err
	}
	start := time.Now()
	s, err := client.Dial(ctx, cfg)
	if err != nil {
		return nil, t, fmt.Errorf("login %s: %w", cfg.JID, err)
	}
	t.bound = time.Since(start)
	ctx, cancel := context.WithTimeout(ctx, b.opts.stepTimeout)
	defer cancel()
	roster := stanza.New(stanza.NSClient, "iq", "type", stanza.Get).Append(stanza.New(nsRoster, "query"))
	if _, err := s.SendIQ(ctx, roster); err != nil {
		s.Close()
		return nil, t, fmt.Errorf("roster get %s: %w", cfg.JID, err)
	}
	if err := s.SendRaw([]byte("<presence/>")); err != nil {
		s.Close()
		return nil, t, fmt.Errorf("presence %s: %w", cfg.JID, err)
	}
	t.ready = time.Since(start)
	return s, t, nil
}

const (
	nsRoster   = "jabber:iq:roster"
	nsPing     = "urn:xmpp:ping"
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCUser  = "http://jabber.org/protocol/muc#user"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
)

// forEach calls fn(i) for i in [0, n) from c goroutines, stopping early
// when ctx ends. It returns when every started call has returned.
func forEach(ctx context.Context, n, c int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(c, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// closeAll closes sessions concurrently, c at a time.
func closeAll(sessions []*client.Session, c int) {
	forEach(context.Background(), len(sessions), c, func(i int) {
		if s := sessions[i]; s != nil {
			s.Close()
		}
	})
}

// sleep waits d or until ctx ends, and reports whether it waited in full.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ctxErr is the error of a scenario cut short by ctx: the cause
// (-maxtime) rather than "context deadline exceeded".
func ctxErr(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return errors.New("cancelled")
}

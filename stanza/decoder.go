package stanza

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Default limits; see Limits.
const (
	DefaultMaxStanzaBytes = 256 << 10
	DefaultMaxDepth       = 64
	DefaultMaxAttrs       = 64
)

// Buffer sizes. The buffer starts small, grows with the element being read
// up to the stanza limit, and is given back once it holds no input, so
// that an idle connection holds no buffer: while the decoder waits for
// input with nothing buffered, it reads into its small peek array, and
// takes a buffer from a pool only when bytes arrive. The scanner and the
// parser, with their scratch slices, come and go with the buffer.
const (
	minBufSize = 4 << 10
	peekSize   = 128
)

// work is what a Decoder needs only while it holds input: a buffer of
// minBufSize and the state of the scanner and of the parser. An idle
// Decoder (one waiting for input with nothing buffered, as most of a
// server's are) holds none of it: with 10 000 idle streams that is 10 MB
// less, and no last stanza kept alive by the parser's scratch.
type work struct {
	buf []byte
	sc  scanner
	p   parser
}

// workPool holds the work of idle decoders. A buffer grown for a large
// stanza is not kept: the work keeps its minBufSize one.
var workPool = sync.Pool{New: func() any { return &work{buf: make([]byte, minBufSize)} }}

// maxEmptyReads is how many consecutive (0, nil) reads are tolerated before
// io.ErrNoProgress.
const maxEmptyReads = 100

// Decoder reads an XMPP XML stream incrementally from an io.Reader and yields
// complete top-level elements (stanzas and stream-level elements) as soon as
// their end tag is read. It accepts only the XML subset RFC 6120 §11 allows:
// no DTD, no processing instructions other than the XML declaration at the
// very start, no comments, no entity references other than the five
// predefined ones and character references, valid UTF-8 and XML characters.
//
// The Decoder calls Read only when the input it holds does not complete the
// current element, and never waits for input beyond it. Its memory is
// bounded by its Limits whatever the peer sends.
//
// Names and values in a returned tree share one string with the stanza's
// text, so keeping any of them keeps the whole stanza (at most
// MaxStanzaBytes) alive.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	r   io.Reader
	lim Limits

	buf        []byte // w.buf, or a larger one; nil when w is
	w          *work  // from workPool while input is buffered, else nil
	peek       [peekSize]byte
	rpos, wpos int   // unconsumed input is buf[rpos:wpos]
	offset     int64 // input offset of buf[rpos]
	rerr       error // read error held back until buffered bytes are used

	stream    bool      // StreamStart succeeded: stanzas are stream children
	started   bool      // something other than an XML declaration was read
	declOK    bool      // an XML declaration may come at buf[rpos]
	restarted bool      // a restarted stream: white space may precede the declaration
	ended     bool      // the stream header was an empty element
	streamTag string    // qualified name of the stream element, as written
	streamNS  []binding // declarations on the stream header
	err       error     // sticky decoding error

	inElem bool // w.sc holds a partly scanned element at buf[rpos]
	peeked int  // length of the element at buf[rpos] Peek returned, or 0
}

// NewDecoder returns a Decoder reading from r with limits lim.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	if lim.MaxStanzaBytes <= 0 {
		lim.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxAttrs <= 0 {
		lim.MaxAttrs = DefaultMaxAttrs
	}
	d := &Decoder{lim: lim}
	d.Reset(r)
	return d
}

// Reset discards all state and buffered input and reads from r, as needed
// for a stream restart after STARTTLS or SASL. The limits are kept.
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	d.rpos, d.wpos, d.offset, d.rerr = 0, 0, 0, nil
	d.restart()
	d.shrink()
}

// Restart forgets the open stream but keeps buffered input, for a stream
// restart on the same connection (after SASL success) when the peer may
// already have sent the new stream header. StreamStart is then expected;
// it restarts by itself when called between elements, so Restart is only
// needed to make the restart explicit. InputOffset keeps counting.
func (d *Decoder) Restart() {
	d.restart()
	d.restarted = true
}

func (d *Decoder) restart() {
	d.stream, d.started, d.ended = false, false, false
	d.declOK, d.restarted = true, false
	d.streamTag, d.streamNS = "", nil
	d.err = nil
	d.inElem = false
	d.peeked = 0
}

// Buffered returns the number of bytes read from the underlying reader but
// not yet consumed. A server checks it is zero before STARTTLS takes over
// the connection: bytes sent in the clear after <starttls/> must not be
// read as if they came through TLS.
func (d *Decoder) Buffered() int { return d.wpos - d.rpos }

// Partial reports whether part of an element has been read: the stream
// is in the middle of sending something.
func (d *Decoder) Partial() bool { return d.inElem || d.wpos > d.rpos }

// InputOffset returns the number of bytes consumed so far (for limits and
// metrics): the end of the last element, header or white space read.
func (d *Decoder) InputOffset() int64 { return d.offset }

func (d *Decoder) consume(n int) {
	d.rpos += n
	d.offset += int64(n)
	if d.rpos == d.wpos {
		d.rpos, d.wpos = 0, 0
	}
}

// shrink gives the buffer and the work back once it holds no input.
func (d *Decoder) shrink() {
	if d.rpos != d.wpos || d.w == nil {
		return
	}
	d.w.p.idle()
	workPool.Put(d.w)
	d.w, d.buf = nil, nil
	d.rpos, d.wpos = 0, 0
}

// fill reads more input into the buffer. It returns the error of the
// underlying reader only when no byte was added.
func (d *Decoder) fill() error {
	if d.rerr != nil {
		err := d.rerr
		d.rerr = nil
		return err
	}
	if d.rpos > 0 {
		d.wpos = copy(d.buf, d.buf[d.rpos:d.wpos])
		d.rpos = 0
	}
	if d.wpos == 0 {
		// Nothing buffered: wait for input without holding a buffer.
		d.shrink()
		return d.read(d.peek[:])
	}
	if d.wpos == len(d.buf) {
		// The scanner fails an element before it exceeds the limit, so
		// the buffer never needs more than the limit plus one byte.
		size := min(max(2*len(d.buf), minBufSize), d.lim.MaxStanzaBytes+1)
		if size <= len(d.buf) {
			return fmt.Errorf("%w: element larger than %d bytes", ErrTooLarge, d.lim.MaxStanzaBytes)
		}
		nb := make([]byte, size)
		copy(nb, d.buf[:d.wpos])
		d.buf = nb
	}
	return d.read(d.buf[d.wpos:])
}

// read reads into p, which is d.peek (with nothing buffered) or the free
// end of d.buf, and appends what it read to the buffer.
func (d *Decoder) read(p []byte) error {
	for range maxEmptyReads {
		n, err := d.r.Read(p)
		if n > 0 {
			if &p[0] == &d.peek[0] {
				d.w = workPool.Get().(*work)
				d.w.p.lim = d.lim
				d.buf = d.w.buf
				copy(d.buf, p[:n])
			}
			d.wpos += n
			d.rerr = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// fail records a final decoding error.
func (d *Decoder) fail(err error) error {
	d.err = err
	d.inElem, d.peeked = false, 0
	if d.w != nil {
		d.w.p.release()
	}
	return err
}

// need ensures n bytes are buffered at rpos. At the end of input it fails
// with io.ErrUnexpectedEOF.
func (d *Decoder) need(n int) error {
	for d.wpos-d.rpos < n {
		if err := d.fill(); err != nil {
			if err == io.EOF {
				return d.fail(io.ErrUnexpectedEOF)
			}
			return err
		}
	}
	return nil
}

// Top-level constructs found by top.
const (
	topStart = iota // a start tag at rpos
	topEnd          // an end tag at rpos
)

// top skips white space between elements and an allowed XML declaration
// and reports what begins at rpos. At the end of input it returns io.EOF
// for a standalone document sequence and io.ErrUnexpectedEOF inside a stream.
func (d *Decoder) top() (int, error) {
	for {
		i := d.rpos
		for i < d.wpos && isSpace(d.buf[i]) {
			i++
		}
		if i > d.rpos {
			// An XML declaration must come first in a document. A
			// restarted stream continues the connection's input, so
			// white space (a keepalive) may come before it.
			d.declOK = d.declOK && d.restarted && !d.started
			d.consume(i - d.rpos)
		}
		if d.rpos == d.wpos {
			d.shrink()
			if err := d.fill(); err != nil {
				if err == io.EOF && d.stream {
					return 0, d.fail(io.ErrUnexpectedEOF)
				}
				return 0, err
			}
			continue
		}
		if d.buf[d.rpos] != '<' {
			return 0, d.fail(d.errorf(ErrNotWellFormed, "character data outside stanza"))
		}
		if err := d.need(2); err != nil {
			return 0, err
		}
		switch d.buf[d.rpos+1] {
		case '/':
			return topEnd, nil
		case '!':
			if err := d.need(3); err != nil {
				return 0, err
			}
			if d.buf[d.rpos+2] == '[' {
				return 0, d.fail(d.errorf(ErrNotWellFormed, "CDATA section outside stanza"))
			}
			return 0, d.fail(d.errorf(ErrRestricted, "comment or DTD"))
		case '?':
			if err := d.xmlDecl(); err != nil {
				return 0, err
			}
		default:
			return topStart, nil
		}
	}
}

func (d *Decoder) errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", kind, fmt.Sprintf(format, args...), d.offset)
}

// xmlDecl reads the XML declaration at rpos, or fails for any other
// processing instruction.
func (d *Decoder) xmlDecl() error {
	const target = "<?xml"
	if err := d.need(len(target) + 1); err != nil {
		return err
	}
	b := d.buf[d.rpos:d.wpos]
	if !bytes.HasPrefix(b, []byte(target)) || !isSpace(b[len(target)]) || !d.declOK {
		return d.fail(d.errorf(ErrRestricted, "processing instruction"))
	}
	scanned := 0
	for {
		b = d.buf[d.rpos:d.wpos]
		if k := bytes.Index(b[scanned:], []byte("?>")); k >= 0 {
			decl := string(b[:scanned+k])
			if err := checkXMLDecl(decl[len(target):]); err != nil {
				return d.fail(d.errorf(ErrNotWellFormed, "XML declaration: %v", err))
			}
			d.consume(scanned + k + 2)
			d.declOK = false
			return nil
		}
		scanned = max(0, len(b)-1)
		if len(b) > d.lim.MaxStanzaBytes {
			return d.fail(d.errorf(ErrTooLarge, "XML declaration larger than %d bytes", d.lim.MaxStanzaBytes))
		}
		if err := d.need(len(b) + 1); err != nil {
			return err
		}
	}
}

// checkXMLDecl validates the pseudo-attributes of an XML declaration
// (XML 1.0 §2.8): version 1.0, then optionally encoding (UTF-8 only, as
// XMPP requires) and standalone.
func checkXMLDecl(s string) error {
	names := []string{"version", "encoding", "standalone"}
	first := true
	for {
		t := strings.TrimLeft(s, " \t\r\n")
		if t == "" {
			if first {
				return errors.New("missing version")
			}
			return nil
		}
		if len(t) == len(s) {
			return errors.New("expected white space")
		}
		eq := strings.IndexByte(t, '=')
		if eq < 0 {
			return errors.New("expected '='")
		}
		name := strings.TrimRight(t[:eq], " \t\r\n")
		t = strings.TrimLeft(t[eq+1:], " \t\r\n")
		if t == "" || t[0] != '"' && t[0] != '\'' {
			return errors.New("unquoted value")
		}
		end := strings.IndexByte(t[1:], t[0])
		if end < 0 {
			return errors.New("unterminated value")
		}
		value := t[1 : 1+end]
		s = t[end+2:]
		i := 0
		for i < len(names) && names[i] != name {
			i++
		}
		if i == len(names) || first && name != "version" {
			return fmt.Errorf("unexpected %q", short(name))
		}
		names = names[i+1:]
		first = false
		switch name {
		case "version":
			if value != "1.0" {
				return fmt.Errorf("unsupported version %q", short(value))
			}
		case "encoding":
			if !strings.EqualFold(value, "UTF-8") {
				return fmt.Errorf("unsupported encoding %q", short(value))
			}
		case "standalone":
			if value != "yes" && value != "no" {
				return fmt.Errorf("invalid standalone %q", short(value))
			}
		}
	}
}

// scanElement reads until the element (or, in header mode, the start tag)
// at rpos is complete and returns its length.
func (d *Decoder) scanElement(header bool) (int, error) {
	if !d.inElem {
		d.w.sc.reset(header)
		d.inElem = true
	}
	for {
		n, serr := d.w.sc.scan(d.buf[d.rpos:d.wpos], &d.lim)
		if serr != nil {
			return 0, d.fail(d.scanFailure(serr))
		}
		if n > 0 {
			d.inElem = false
			if n > d.lim.MaxStanzaBytes {
				return 0, d.fail(d.errorf(ErrTooLarge, "element larger than %d bytes", d.lim.MaxStanzaBytes))
			}
			return n, nil
		}
		if d.w.sc.pos > d.lim.MaxStanzaBytes {
			return 0, d.fail(d.errorf(ErrTooLarge, "element larger than %d bytes", d.lim.MaxStanzaBytes))
		}
		if err := d.fill(); err != nil {
			if err == io.EOF {
				return 0, d.fail(io.ErrUnexpectedEOF)
			}
			return 0, err
		}
	}
}

// scanFailure returns the error to report for an error the scanner found:
// the parser's, if it finds an earlier one in the input before it.
func (d *Decoder) scanFailure(serr *scanError) error {
	if serr.pos < 0 {
		return serr.err
	}
	p := &d.w.p
	p.reset(string(d.buf[d.rpos:d.rpos+serr.pos]), d.offset, d.streamNS)
	_, err := p.element(0, 0, 0)
	p.release()
	if err != nil && err != errTruncated {
		return err
	}
	return fmt.Errorf("%w at offset %d", serr.err, d.offset+int64(serr.pos))
}

// StreamStart reads an optional XML declaration and the opening stream tag.
// It does not check the tag's name or namespace: the caller does. The
// namespace declarations of the header are in scope for all stanzas that
// Next returns afterwards.
//
// Called again between elements, StreamStart restarts the stream (RFC 6120
// §4.3.3, after SASL success): it forgets the open stream, keeps buffered
// input and reads the new header, which may again be preceded by an XML
// declaration. After STARTTLS call Reset instead, which also discards
// buffered input.
func (d *Decoder) StreamStart() (StreamHeader, error) {
	if d.err != nil {
		return StreamHeader{}, d.err
	}
	if d.inElem && !d.w.sc.header {
		return StreamHeader{}, errors.New("stanza: StreamStart inside an element")
	}
	if d.started {
		d.Restart()
	}
	kind, err := d.top()
	if err != nil {
		if err == io.EOF {
			err = d.fail(io.ErrUnexpectedEOF)
		}
		return StreamHeader{}, err
	}
	if kind == topEnd {
		return StreamHeader{}, d.fail(d.errorf(ErrNotWellFormed, "end tag before stream header"))
	}
	n, err := d.scanElement(true)
	if err != nil {
		return StreamHeader{}, err
	}
	p := &d.w.p
	p.reset(string(d.buf[d.rpos:d.rpos+n]), d.offset, nil)
	defer p.release()
	p.elems = make([]Element, 1)
	e, err := p.startTag()
	if err == errTruncated {
		err = d.errorf(ErrNotWellFormed, "malformed stream header")
	}
	if err != nil {
		return StreamHeader{}, d.fail(err)
	}
	if p.pos != len(p.s) {
		return StreamHeader{}, d.fail(d.errorf(ErrNotWellFormed, "malformed stream header"))
	}
	if e == nil {
		f := p.stack[0]
		e = f.el
		// The Decoder keeps these for the stream's life: owned copies,
		// so that they do not pin the header's text.
		d.streamTag = own(f.qname)
		d.streamNS = make([]binding, len(p.ns))
		for i, b := range p.ns {
			d.streamNS[i] = binding{own(b.prefix), own(b.uri)}
		}
		clear(p.ns)
	} else {
		d.ended = true // <stream:stream/>: opened and closed at once
	}
	// The header's fields are owned copies too: a stream keeps its domain
	// and language for its life.
	h := StreamHeader{StreamNS: own(e.Name.Space), Local: own(e.Name.Local)}
	for _, a := range e.Attr {
		switch {
		case a.Name.Space == NSXML && a.Name.Local == "lang":
			h.Lang = own(a.Value)
		case a.Name.Space != "":
		case a.Name.Local == "to":
			h.To = own(a.Value)
		case a.Name.Local == "from":
			h.From = own(a.Value)
		case a.Name.Local == "id":
			h.ID = own(a.Value)
		case a.Name.Local == "version":
			h.Version = own(a.Value)
		default:
			h.setAttr(own(a.Name.Local), own(a.Value))
		}
	}
	for _, a := range p.raw {
		switch {
		case a.prefix == "" && a.local == "xmlns":
			h.DefaultNS = own(a.value)
		case a.prefix == "xmlns":
			h.setAttr("xmlns:"+a.local, own(a.value))
		}
	}
	d.consume(n)
	d.started, d.stream, d.declOK = true, true, false
	return h, nil
}

// own returns s in a string of its own, not a part of a stanza's text:
// the constant for the values every stream header has, a copy otherwise.
func own(s string) string {
	switch s {
	case "":
		return ""
	case NSClient:
		return NSClient
	case NSServer:
		return NSServer
	case NSStream:
		return NSStream
	case "stream":
		return "stream"
	case "stream:stream":
		return "stream:stream"
	case "1.0":
		return "1.0"
	case "en":
		return "en"
	}
	return strings.Clone(s)
}

func (h *StreamHeader) setAttr(k, v string) {
	if h.Attr == nil {
		h.Attr = make(map[string]string)
	}
	h.Attr[k] = v
}

// Next returns the next complete top-level element. After StreamStart these
// are the children of the stream element (whitespace between them is
// skipped), and ErrStreamEnd is returned when the stream's end tag is read.
// Without StreamStart, Next returns standalone top-level elements (WebSocket
// framing, each optionally preceded by an XML declaration) and io.EOF at the
// end of input; inside a stream the end of input is io.ErrUnexpectedEOF.
//
// Decoding errors (ErrNotWellFormed, ErrRestricted, ErrTooLarge,
// ErrBadNamespace, io.ErrUnexpectedEOF, ErrStreamEnd) are final: later
// calls return the same error. An error of the underlying reader is
// returned as is and is not final: the Decoder keeps what it has read, so
// Next may be called again, for example after a read deadline passed.
func (d *Decoder) Next() (*Element, error) {
	n, err := d.scanNext()
	if err != nil {
		return nil, err
	}
	d.peeked = 0
	p, sc := &d.w.p, &d.w.sc
	p.reset(string(d.buf[d.rpos:d.rpos+n]), d.offset, d.streamNS)
	e, err := p.element(sc.elems, sc.attrs, sc.elems+sc.texts)
	p.release()
	if err == errTruncated {
		err = d.errorf(ErrNotWellFormed, "malformed element")
	}
	if err != nil {
		return nil, d.fail(err)
	}
	d.consume(n)
	d.shrink()           // e shares no bytes with the buffer
	d.declOK = !d.stream // each standalone document may start with a declaration
	return e, nil
}

// Peek reads the next complete top-level element like Next but neither
// parses nor consumes it: it returns the element's bytes, valid until the
// next call of a Decoder method. The scan checks the element is complete
// and within the limits, not that it is namespace-well-formed. Next then
// parses that element without reading again, or Skip drops it; Peek
// again returns the same bytes. Errors are those of Next.
//
// A reader that needs only a few attributes of most stanzas (a load
// generator counting messages) looks at them in the bytes and parses only
// the others.
func (d *Decoder) Peek() ([]byte, error) {
	n, err := d.scanNext()
	if err != nil {
		return nil, err
	}
	d.peeked = n
	return d.buf[d.rpos : d.rpos+n], nil
}

// Skip drops the element Peek returned; without one it does nothing.
func (d *Decoder) Skip() {
	if d.peeked == 0 {
		return
	}
	d.consume(d.peeked)
	d.peeked = 0
	d.shrink()
	d.declOK = !d.stream
}

// scanNext reads until the next top-level element is complete, unless
// Peek already did, and returns its length.
func (d *Decoder) scanNext() (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.peeked > 0 {
		return d.peeked, nil
	}
	if d.ended {
		return 0, d.fail(ErrStreamEnd)
	}
	if !d.inElem {
		kind, err := d.top()
		if err != nil {
			return 0, err
		}
		if kind == topEnd {
			return 0, d.streamEnd()
		}
	}
	n, err := d.scanElement(false)
	if err != nil {
		return 0, err
	}
	d.started = true
	return n, nil
}

// streamEnd reads the end tag at rpos, which must close the stream.
func (d *Decoder) streamEnd() error {
	if !d.stream {
		return d.fail(d.errorf(ErrNotWellFormed, "unexpected end tag"))
	}
	scanned := 0
	for {
		b := d.buf[d.rpos:d.wpos]
		if k := bytes.IndexByte(b[scanned:], '>'); k >= 0 {
			name := bytes.TrimRight(b[2:scanned+k], " \t\r\n")
			if string(name) != d.streamTag {
				return d.fail(d.errorf(ErrNotWellFormed, "element <%s> closed by </%s>", short(d.streamTag), short(string(name))))
			}
			d.consume(scanned + k + 1)
			return d.fail(ErrStreamEnd)
		}
		scanned = len(b)
		if len(b) > d.lim.MaxStanzaBytes {
			return d.fail(d.errorf(ErrTooLarge, "end tag larger than %d bytes", d.lim.MaxStanzaBytes))
		}
		if err := d.need(len(b) + 1); err != nil {
			return err
		}
	}
}

package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"hearth/jid"
	"hearth/stanza"
)

// NSSM is the namespace of XEP-0198 Stream Management.
const NSSM = "urn:xmpp:sm:3"

// resumeRequest is what Resume asks the server for.
type resumeRequest struct {
	previd  string
	h       uint32
	full    jid.JID
	resumed *stanza.Element // the server's <resumed/>
}

// ResumeError is a refused resumption: the server's <failed/> (XEP-0198
// §5).
type ResumeError struct {
	Condition string // e.g. "item-not-found"
}

func (e *ResumeError) Error() string {
	return "client: stream resumption failed: " + e.Condition
}

// Resume connects as Dial does but, instead of binding a resource,
// resumes the stream management session previd that the full JID had
// (XEP-0198 §5), telling the server it handled h stanzas. The caller
// enables stream management itself, with Send, on the first stream; this
// package keeps no acknowledgement state. On success the session is
// bound to full again and Resumed returns the server's <resumed/>; a
// refusal is a *ResumeError.
func Resume(ctx context.Context, cfg Config, full jid.JID, previd string, h uint32) (*Session, error) {
	if previd == "" || full.Resource() == "" {
		return nil, errors.New("client: Resume needs the previous full JID and stream id")
	}
	r := &resumeRequest{previd: previd, h: h, full: full}
	n, err := negotiate(ctx, cfg, false, r)
	if err != nil {
		return nil, err
	}
	s := start(n, cfg)
	s.resumed = r.resumed
	return s, nil
}

// Resumed returns the <resumed/> element of a session made by Resume, or
// nil.
func (s *Session) Resumed() *stanza.Element { return s.resumed }

// Abort closes the connection without ending the stream, as a network
// failure would: the server sees the connection drop and, with stream
// management, keeps the session for resumption.
func (s *Session) Abort() {
	s.wmu.Lock()
	s.closing = true
	s.wmu.Unlock()
	s.conn.Close()
	<-s.done
}

// resumeSM sends <resume/> after authentication and reads the answer.
func (n *negotiation) resumeSM() error {
	if n.features.Child(NSSM, "sm") == nil {
		return errors.New("client: the server does not offer stream management")
	}
	err := n.send(stanza.New(NSSM, "resume", "previd", n.resume.previd, "h", strconv.FormatUint(uint64(n.resume.h), 10)))
	if err != nil {
		return err
	}
	el, err := n.next()
	if err != nil {
		return err
	}
	switch {
	case el.Name.Space == NSSM && el.Name.Local == "resumed":
		n.resume.resumed = el
		n.bound = n.resume.full
		return nil
	case el.Name.Space == NSSM && el.Name.Local == "failed":
		cond := "undefined-condition"
		if c := el.FirstElement(); c != nil {
			cond = c.Name.Local
		}
		return &ResumeError{Condition: cond}
	}
	return fmt.Errorf("client: unexpected <%s/> in answer to <resume/>", el.Name.Local)
}

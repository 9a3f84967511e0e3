package client

import (
	"context"
	"errors"

	"hearth/stanza"
)

// SendIQ sends iq (type get or set) and waits for the response with the
// same id from the iq's recipient. An empty id is filled in with NewID on
// a copy of iq. It returns the result stanza, or the *stanza.Error of an
// error response; ctx bounds the wait, and the end of the session fails
// it with the session's error (or ErrClosed).
//
// Responses are matched by id alone: the server stamps 'from', and a
// client that uses unique ids (NewID) cannot confuse two responses.
func (s *Session) SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	id := iq.Get("id")
	if id == "" {
		id = s.NewID()
		iq = iq.Copy().Set("id", id)
	}
	ch := make(chan *stanza.Element, 1)
	s.pmu.Lock()
	if s.pending == nil {
		s.pmu.Unlock()
		return nil, s.endErr()
	}
	if _, dup := s.pending[id]; dup {
		s.pmu.Unlock()
		return nil, errors.New("client: an IQ with id " + id + " is already pending")
	}
	s.pending[id] = ch
	s.pmu.Unlock()
	forget := func() {
		s.pmu.Lock()
		if s.pending != nil {
			delete(s.pending, id)
		}
		s.pmu.Unlock()
	}
	if err := s.Send(iq); err != nil {
		forget()
		return nil, err
	}
	select {
	case res, ok := <-ch:
		if !ok {
			return nil, s.endErr()
		}
		if res.Get("type") == stanza.ErrorType {
			if e := stanza.ParseError(res); e != nil {
				return res, e
			}
			return res, stanza.NewError("undefined-condition")
		}
		return res, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

// endErr is the error of a request the end of the session cut short.
func (s *Session) endErr() error {
	<-s.done
	if s.err != nil {
		return s.err
	}
	return ErrClosed
}

// deliverResponse hands a result or error IQ to its SendIQ waiter and
// reports whether there was one.
func (s *Session) deliverResponse(el *stanza.Element) bool {
	switch el.Get("type") {
	case stanza.Result, stanza.ErrorType:
	default:
		return false
	}
	id := el.Get("id")
	s.pmu.Lock()
	ch, ok := s.pending[id]
	if ok {
		delete(s.pending, id)
	}
	s.pmu.Unlock()
	if ok {
		ch <- el // buffered, one response per waiter
	}
	return ok
}

// failPending wakes every SendIQ waiter when the read loop ends and
// refuses new requests.
func (s *Session) failPending() {
	s.pmu.Lock()
	for _, ch := range s.pending {
		close(ch)
	}
	s.pending = nil
	s.pmu.Unlock()
}

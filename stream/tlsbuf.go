package stream

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"
)

// An idle TLS stream should hold no input buffer, but crypto/tls keeps
// the ones its handshake grew for the connection's life: the raw record
// buffer (sized for the client's hello, over 2 KiB with a post-quantum key
// share) and the handshake message buffer (as large). That is 3.5 KiB of
// an idle session's 10, and the Conn has no API to give them back.
//
// So between bursts of input (idle.go), when no goroutine is in the
// tls.Conn's Read and the buffers hold nothing, the stream empties them
// itself: the next burst's first record grows a new record buffer, which
// the garbage collector takes back after the burst. A buffer is never
// handed from one connection to another (a pool would save that
// allocation, but it would rely on crypto/tls keeping no other reference
// into the buffer, which a Go release could change without renaming
// anything, and then one connection's plaintext could reach another).
// The fields are found by name and type through reflect, once; should a
// Go release rename or retype them, tlsFields is nil and nothing is done
// (TestTLSBuffersFound fails, to say so).
var tlsFields = findTLSFields()

// tlsInputFields are the offsets in a tls.Conn of its raw record buffer,
// its view of the decrypted record (which points into the former), and its
// handshake message buffer.
type tlsInputFields struct{ rawInput, input, hand uintptr }

func findTLSFields() *tlsInputFields {
	t := reflect.TypeFor[tls.Conn]()
	buffer, reader := reflect.TypeFor[bytes.Buffer](), reflect.TypeFor[bytes.Reader]()
	field := func(name string, typ reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		return f.Offset, ok && f.Type == typ && len(f.Index) == 1
	}
	var tf tlsInputFields
	var ok [3]bool
	tf.rawInput, ok[0] = field("rawInput", buffer)
	tf.input, ok[1] = field("input", reader)
	tf.hand, ok[2] = field("hand", buffer)
	if ok != [3]bool{true, true, true} {
		return nil
	}
	return &tf
}

func tlsInputs(tc *tls.Conn) (rawInput *bytes.Buffer, input *bytes.Reader, hand *bytes.Buffer) {
	p := unsafe.Pointer(tc)
	return (*bytes.Buffer)(unsafe.Add(p, tlsFields.rawInput)),
		(*bytes.Reader)(unsafe.Add(p, tlsFields.input)),
		(*bytes.Buffer)(unsafe.Add(p, tlsFields.hand))
}

// releaseTLSBuffers empties tc's input buffers that hold nothing, after a
// burst of input. No goroutine may be in tc's Read or handshake.
func releaseTLSBuffers(tc *tls.Conn) {
	if tlsFields == nil {
		return
	}
	rawInput, input, hand := tlsInputs(tc)
	if input.Len() == 0 && rawInput.Len() == 0 && rawInput.Cap() != 0 {
		input.Reset(nil) // it points into rawInput's buffer
		*rawInput = bytes.Buffer{}
	}
	if hand.Len() == 0 && hand.Cap() != 0 {
		*hand = bytes.Buffer{}
	}
}

package stream

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"sync"
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
// itself, and lends the record buffer a pooled one for the next burst:
// an idle stream holds neither, a busy one allocates nothing per burst.
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

// tlsBufSize is the size of the record buffers lent to bursts: a few
// chat-sized records, with the 512 bytes of room crypto/tls asks for
// beyond each record. A larger record grows a buffer of TLS's own, which
// is dropped at the end of the burst.
const tlsBufSize = 4 << 10

var tlsBufPool = sync.Pool{New: func() any { return new([tlsBufSize]byte) }}

func tlsInputs(tc *tls.Conn) (rawInput *bytes.Buffer, input *bytes.Reader, hand *bytes.Buffer) {
	p := unsafe.Pointer(tc)
	return (*bytes.Buffer)(unsafe.Add(p, tlsFields.rawInput)),
		(*bytes.Reader)(unsafe.Add(p, tlsFields.input)),
		(*bytes.Buffer)(unsafe.Add(p, tlsFields.hand))
}

// lendTLSBuffer gives tc an empty record buffer from the pool, before a
// burst of input. No goroutine may be in tc's Read or handshake.
func lendTLSBuffer(tc *tls.Conn) {
	if tlsFields == nil {
		return
	}
	rawInput, _, _ := tlsInputs(tc)
	if rawInput.Cap() != 0 {
		return
	}
	*rawInput = *bytes.NewBuffer(tlsBufPool.Get().(*[tlsBufSize]byte)[:0])
}

// releaseTLSBuffers empties tc's input buffers that hold nothing, after a
// burst of input: a record buffer of the pooled size goes back to the
// pool. No goroutine may be in tc's Read or handshake.
func releaseTLSBuffers(tc *tls.Conn) {
	if tlsFields == nil {
		return
	}
	rawInput, input, hand := tlsInputs(tc)
	if input.Len() == 0 && rawInput.Len() == 0 && rawInput.Cap() != 0 {
		input.Reset(nil) // it points into rawInput's buffer
		rawInput.Reset()
		if b := rawInput.AvailableBuffer(); cap(b) == tlsBufSize {
			tlsBufPool.Put((*[tlsBufSize]byte)(b[:tlsBufSize]))
		}
		*rawInput = bytes.Buffer{}
	}
	if hand.Len() == 0 && hand.Cap() != 0 {
		*hand = bytes.Buffer{}
	}
}

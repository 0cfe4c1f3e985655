package fifo

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/warrenmq/warren/queue"
)

// ErrCorrupt reports an encoding that cannot be decoded: a wrong version,
// an unknown op code, a truncated or malformed body, trailing bytes, or a
// snapshot that contradicts itself. A replica that meets one stops
// applying rather than skip a committed entry.
var ErrCorrupt = errors.New("fifo: corrupt encoding")

// writer appends the fields of an encoding.
type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *writer) varint(v int64) { w.b = binary.AppendVarint(w.b, v) }

func (w *writer) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *writer) byte(c byte) { w.b = append(w.b, c) }

func (w *writer) flags(fs ...bool) {
	var f byte
	for i, on := range fs {
		if on {
			f |= 1 << i
		}
	}
	w.byte(f)
}

func (w *writer) channel(c queue.Publisher) {
	w.str(c.Node)
	w.uvarint(c.Conn)
	w.uvarint(uint64(c.Channel))
}

func (w *writer) consumer(id ConsumerID) {
	w.channel(id.Chan)
	w.str(id.Tag)
}

func (w *writer) ids(ids []uint64) {
	w.uvarint(uint64(len(ids)))
	for _, id := range ids {
		w.uvarint(id)
	}
}

// reader decodes the fields of an encoding; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// u32 reads a uvarint that must fit in 32 bits.
func (r *reader) u32() uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.fail("value past 32 bits")
		return 0
	}
	return uint32(v)
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("string past the end")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// flags decodes n booleans into out; bits beyond them are an error.
func (r *reader) flags(out ...*bool) {
	f := r.byte()
	if f>>len(out) != 0 {
		r.fail("unknown flag bits")
		return
	}
	for i, p := range out {
		*p = f&(1<<i) != 0
	}
}

func (r *reader) channel() queue.Publisher {
	c := queue.Publisher{Node: r.str(), Conn: r.uvarint()}
	ch := r.uvarint()
	if ch > 1<<16-1 {
		r.fail("channel past 16 bits")
		return c
	}
	c.Channel = uint16(ch)
	return c
}

func (r *reader) consumer() ConsumerID {
	return ConsumerID{Chan: r.channel(), Tag: r.str()}
}

// count reads a length, which cannot exceed the bytes left (every element
// takes at least one), so that a hostile count allocates nothing.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("count past the end")
		return 0
	}
	return int(n)
}

func (r *reader) ids() []uint64 {
	n := r.count()
	if n == 0 {
		return nil
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = r.uvarint()
	}
	return ids
}

// end fails unless every byte was consumed.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

package fifo

import (
	"errors"

	"github.com/warrenmq/warren/protocol/fields"
	"github.com/warrenmq/warren/queue"
)

// ErrCorrupt reports an encoding that cannot be decoded: a wrong version,
// an unknown op code, a truncated or malformed body, trailing bytes, or a
// snapshot that contradicts itself. A replica that meets one stops
// applying rather than skip a committed entry.
var ErrCorrupt = errors.New("fifo: corrupt encoding")

// writer appends the fields of an encoding.
type writer struct{ fields.Writer }

func (w *writer) channel(c queue.Publisher) {
	w.Str(c.Node)
	w.Uvarint(c.Conn)
	w.Uvarint(uint64(c.Channel))
}

func (w *writer) consumer(id ConsumerID) {
	w.channel(id.Chan)
	w.Str(id.Tag)
}

func (w *writer) ids(ids []uint64) {
	w.Uvarint(uint64(len(ids)))
	for _, id := range ids {
		w.Uvarint(id)
	}
}

// reader decodes the fields of an encoding; the first error sticks.
type reader struct{ fields.Reader }

// newReader reads b, its failures wrapping ErrCorrupt.
func newReader(b []byte) reader { return reader{fields.Reader{B: b, Corrupt: ErrCorrupt}} }

func (r *reader) channel() queue.Publisher {
	c := queue.Publisher{Node: r.Str(), Conn: r.Uvarint()}
	ch := r.Uvarint()
	if ch > 1<<16-1 {
		r.Fail("channel past 16 bits")
		return c
	}
	c.Channel = uint16(ch)
	return c
}

func (r *reader) consumer() ConsumerID {
	return ConsumerID{Chan: r.channel(), Tag: r.Str()}
}

func (r *reader) ids() []uint64 {
	n := r.Count()
	if n == 0 {
		return nil
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = r.Uvarint()
	}
	return ids
}

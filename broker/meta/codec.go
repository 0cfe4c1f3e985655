package meta

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// ErrCorrupt reports an encoding that cannot be decoded: a wrong version,
// an unknown op code, a truncated or malformed body, or trailing bytes. A
// node that meets one stops applying rather than skip a committed entry.
var ErrCorrupt = errors.New("meta: corrupt encoding")

// writer appends the fields of an encoding.
type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

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

func (w *writer) table(t protocol.Table) { w.b = protocol.AppendTable(w.b, t) }

func (w *writer) owner(o Owner) {
	w.str(o.Node)
	w.uvarint(o.Conn)
}

func (w *writer) exchange(x *ExchangeDef) {
	w.str(x.Name)
	w.str(x.Kind.String())
	w.flags(x.Durable, x.AutoDelete, x.Internal)
	w.table(x.Args)
	w.str(x.Alternate)
}

// queue writes q; a fourth flag bit says a Life follows the owner (an
// encoding without it, written before lives were recorded, reads as
// Life zero).
func (w *writer) queue(q *QueueDef) {
	w.str(q.Name)
	w.flags(q.Durable, q.Exclusive, q.AutoDelete, q.Life != 0)
	w.table(q.Args)
	w.str(q.Type)
	w.uvarint(q.Incarnation)
	w.str(q.Home)
	w.owner(q.Owner)
	if q.Life != 0 {
		w.uvarint(q.Life)
	}
}

func (w *writer) binding(b *exchange.Binding) {
	w.str(b.Source)
	w.flags(b.Destination.Exchange)
	w.str(b.Destination.Name)
	w.str(b.Key)
	w.table(b.Args)
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

// flags decodes n booleans; bits beyond them are an error.
func (r *reader) flags(n int) []bool {
	f := r.byte()
	if f>>n != 0 {
		r.fail("unknown flag bits")
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = f&(1<<i) != 0
	}
	return out
}

func (r *reader) table() protocol.Table {
	if r.err != nil {
		return nil
	}
	t, n, err := protocol.DecodeTable(r.b)
	if err != nil {
		r.fail("field table: " + err.Error())
		return nil
	}
	r.b = r.b[n:]
	return t
}

func (r *reader) owner() Owner {
	return Owner{Node: r.str(), Conn: r.uvarint()}
}

func (r *reader) exchange() ExchangeDef {
	var x ExchangeDef
	x.Name = r.str()
	kind := r.str()
	f := r.flags(3)
	x.Args = r.table()
	x.Alternate = r.str()
	if r.err != nil {
		return x
	}
	k, err := exchange.ParseKind(kind)
	if err != nil {
		r.fail(fmt.Sprintf("exchange kind %q", kind))
		return x
	}
	x.Kind = k
	x.Durable, x.AutoDelete, x.Internal = f[0], f[1], f[2]
	return x
}

func (r *reader) queue() QueueDef {
	var q QueueDef
	q.Name = r.str()
	f := r.flags(4)
	q.Args = r.table()
	q.Type = r.str()
	q.Incarnation = r.uvarint()
	q.Home = r.str()
	q.Owner = r.owner()
	if r.err == nil && f[3] {
		if q.Life = r.uvarint(); q.Life == 0 && r.err == nil {
			r.fail("queue life flagged but zero")
		}
	}
	if r.err == nil {
		q.Durable, q.Exclusive, q.AutoDelete = f[0], f[1], f[2]
	}
	return q
}

func (r *reader) binding() exchange.Binding {
	var b exchange.Binding
	b.Source = r.str()
	f := r.flags(1)
	b.Destination.Name = r.str()
	b.Key = r.str()
	b.Args = r.table()
	if r.err == nil {
		b.Destination.Exchange = f[0]
	}
	return b
}

// end fails unless every byte was consumed.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

// BindingKey appends the canonical encoding of b to k: bindings equal as
// exchange.Binding.Equal has it encode to equal bytes, since
// protocol.AppendTable sorts keys.
func BindingKey(k []byte, b exchange.Binding) []byte {
	w := writer{b: k}
	w.binding(&b)
	return w.b
}

package meta

import (
	"errors"
	"fmt"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/protocol/fields"
)

// ErrCorrupt reports an encoding that cannot be decoded: a wrong version,
// an unknown op code, a truncated or malformed body, or trailing bytes. A
// node that meets one stops applying rather than skip a committed entry.
var ErrCorrupt = errors.New("meta: corrupt encoding")

// writer appends the fields of an encoding.
type writer struct{ fields.Writer }

func (w *writer) table(t protocol.Table) { w.B = protocol.AppendTable(w.B, t) }

func (w *writer) owner(o Owner) {
	w.Str(o.Node)
	w.Uvarint(o.Conn)
}

func (w *writer) exchange(x *ExchangeDef) {
	w.Str(x.Name)
	w.Str(x.Kind.String())
	w.Flags(x.Durable, x.AutoDelete, x.Internal)
	w.table(x.Args)
	w.Str(x.Alternate)
}

// queue writes q; a fourth flag bit says a Life follows the owner (an
// encoding without it, written before lives were recorded, reads as
// Life zero), a fifth that the Members follow.
func (w *writer) queue(q *QueueDef) {
	w.Str(q.Name)
	w.Flags(q.Durable, q.Exclusive, q.AutoDelete, q.Life != 0, len(q.Members) > 0)
	w.table(q.Args)
	w.Str(q.Type)
	w.Uvarint(q.Incarnation)
	w.Str(q.Home)
	w.owner(q.Owner)
	if q.Life != 0 {
		w.Uvarint(q.Life)
	}
	if len(q.Members) > 0 {
		w.Uvarint(uint64(len(q.Members)))
		for _, m := range q.Members {
			w.Str(m)
		}
	}
}

// strs writes a count, then each string.
func (w *writer) strs(ss []string) {
	w.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.Str(s)
	}
}

func (w *writer) binding(b *exchange.Binding) {
	w.Str(b.Source)
	w.Flags(b.Destination.Exchange)
	w.Str(b.Destination.Name)
	w.Str(b.Key)
	w.table(b.Args)
}

// reader decodes the fields of an encoding; the first error sticks.
type reader struct{ fields.Reader }

// newReader reads b, its failures wrapping ErrCorrupt.
func newReader(b []byte) reader { return reader{fields.Reader{B: b, Corrupt: ErrCorrupt}} }

func (r *reader) table() protocol.Table {
	if r.Err != nil {
		return nil
	}
	t, n, err := protocol.DecodeTable(r.B)
	if err != nil {
		r.Fail("field table: " + err.Error())
		return nil
	}
	r.B = r.B[n:]
	return t
}

func (r *reader) owner() Owner {
	return Owner{Node: r.Str(), Conn: r.Uvarint()}
}

func (r *reader) exchange() ExchangeDef {
	var x ExchangeDef
	x.Name = r.Str()
	kind := r.Str()
	r.Flags(&x.Durable, &x.AutoDelete, &x.Internal)
	x.Args = r.table()
	x.Alternate = r.Str()
	if r.Err != nil {
		return x
	}
	k, err := exchange.ParseKind(kind)
	if err != nil {
		r.Fail(fmt.Sprintf("exchange kind %q", kind))
		return x
	}
	x.Kind = k
	return x
}

func (r *reader) queue() QueueDef {
	var q QueueDef
	q.Name = r.Str()
	var hasLife, hasMembers bool
	r.Flags(&q.Durable, &q.Exclusive, &q.AutoDelete, &hasLife, &hasMembers)
	q.Args = r.table()
	q.Type = r.Str()
	q.Incarnation = r.Uvarint()
	q.Home = r.Str()
	q.Owner = r.owner()
	if r.Err == nil && hasLife {
		if q.Life = r.Uvarint(); q.Life == 0 && r.Err == nil {
			r.Fail("queue life flagged but zero")
		}
	}
	if r.Err == nil && hasMembers {
		n := r.Count()
		if n == 0 && r.Err == nil {
			r.Fail("queue members flagged but none")
		}
		for i := 0; i < n && r.Err == nil; i++ {
			q.Members = append(q.Members, r.Str())
		}
	}
	return q
}

// strs reads what writer.strs wrote; none reads as nil.
func (r *reader) strs() []string {
	n := r.Count()
	var out []string
	for i := 0; i < n && r.Err == nil; i++ {
		out = append(out, r.Str())
	}
	return out
}

func (r *reader) binding() exchange.Binding {
	var b exchange.Binding
	b.Source = r.Str()
	r.Flags(&b.Destination.Exchange)
	b.Destination.Name = r.Str()
	b.Key = r.Str()
	b.Args = r.table()
	return b
}

// BindingKey appends the canonical encoding of b to k: bindings equal as
// exchange.Binding.Equal has it encode to equal bytes, since
// protocol.AppendTable sorts keys.
func BindingKey(k []byte, b exchange.Binding) []byte {
	w := writer{fields.Writer{B: k}}
	w.binding(&b)
	return w.B
}

package exchange

import (
	"cmp"
	"strings"

	"github.com/warrenmq/warren/protocol"
)

// Destination is what a binding routes to: a queue, or another exchange
// (an exchange-to-exchange binding).
type Destination struct {
	// Name is the queue's or the exchange's name.
	Name string
	// Exchange is true when Name is an exchange, false for a queue.
	Exchange bool
}

// String returns the destination as RabbitMQ names resources in its
// messages: "queue 'q'" or "exchange 'x'".
func (d Destination) String() string {
	if d.Exchange {
		return "exchange '" + d.Name + "'"
	}
	return "queue '" + d.Name + "'"
}

// Binding is one binding from a source exchange to a destination. Two
// bindings are the same binding when source, destination, key and
// arguments are equal; arguments are compared by value, field order does
// not matter, and types must match (a 32-bit 1 is not a 64-bit 1), as in
// RabbitMQ.
type Binding struct {
	// Source is the exchange the binding routes from.
	Source string
	// Destination is the queue or exchange the binding routes to.
	Destination Destination
	// Key is the binding key: a routing key for direct exchanges, a
	// pattern for topic exchanges, ignored by fanout and headers.
	Key string
	// Args are the binding arguments; a headers exchange matches on them.
	// The router keeps the table: do not change it after binding.
	Args protocol.Table
}

// Equal reports whether b and o are the same binding.
func (b Binding) Equal(o Binding) bool {
	return b.Source == o.Source && b.Destination == o.Destination &&
		b.Key == o.Key && tablesEqual(b.Args, o.Args)
}

// binding is a binding as the router stores it.
type binding struct {
	Binding
	seq     uint64 // order of creation, for a stable listing
	target  target
	headers *headersMatcher // for bindings of headers exchanges
}

// compareBindings orders bindings for listing: by source, destination
// (queues before exchanges), name, key, then creation.
func compareBindings(a, b *binding) int {
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	if a.Destination.Exchange != b.Destination.Exchange {
		if a.Destination.Exchange {
			return 1
		}
		return -1
	}
	if c := strings.Compare(a.Destination.Name, b.Destination.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

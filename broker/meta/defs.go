package meta

import (
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// Owner identifies a connection across the nodes of a cluster: the node it
// is connected to and its id there. The zero Owner is nobody's: that of a
// shared queue.
type Owner struct {
	Node string
	Conn uint64
}

// ExchangeDef is an exchange's definition as declared.
type ExchangeDef struct {
	Name       string
	Kind       exchange.Kind
	Durable    bool
	AutoDelete bool
	Internal   bool
	Args       protocol.Table
	// Alternate is the alternate-exchange argument, validated when the
	// exchange was declared; "" for none.
	Alternate string
}

// QueueDef is a queue's definition as declared.
type QueueDef struct {
	Name       string
	Durable    bool
	Exclusive  bool
	AutoDelete bool
	Args       protocol.Table
	// Type is the queue's x-queue-type, as the node parsed it.
	Type string
	// Incarnation is unique per declare: a delete names the instance it
	// deletes, so that it cannot delete a queue redeclared since.
	Incarnation uint64
	// Home is the node whose queue holds the messages (a classic queue:
	// the declaring node).
	Home string
	// Owner is the exclusive owner, zero for a shared queue.
	Owner Owner
	// Life is the declaring node's life (its start time in nanoseconds,
	// the first of its connection ids), so that a NodeDown for a life
	// that ended spares what a later life declared; zero for a queue
	// declared before lives were recorded, which belongs to every life.
	Life uint64
	// Members are the nodes holding a replica of a quorum queue (its Raft
	// group's initial voters), chosen by the declaring node; nil for
	// other types and on a single node.
	Members []string
}

// LockedFor reports whether the queue is exclusive to a connection other
// than by.
func (q *QueueDef) LockedFor(by Owner) bool {
	return q.Owner != (Owner{}) && q.Owner != by
}

package queue

import (
	"context"
	"fmt"
	"slices"
)

// Type is a queue type, registered under its x-queue-type name: it declares
// queues of its kind, recovers them when the node starts, and states what
// they support so that the broker's generic checks need not know the type.
// A Type is safe for concurrent use.
type Type interface {
	// Name is the type's x-queue-type name, such as TypeClassic.
	Name() string
	// Capabilities states what queues of this type support.
	Capabilities() Capabilities
	// Declare creates the queue d describes. A durable queue whose state
	// the type keeps comes back with it (a classic queue recovers its
	// messages from its log). The error is an AMQP exception.
	Declare(ctx context.Context, d Declaration, h Hooks) (Queue, error)
	// Recover runs once at start-up, before any Declare, with every saved
	// durable queue of this type, recreatable or not. The type drops what
	// belongs to no queue listed (a classic type deletes the logs of
	// queues deleted while their files stayed); each listed queue comes
	// back through Declare.
	Recover(ctx context.Context, saved []Ref) error
	// Close releases what the type holds for the whole node (a classic
	// type's store). The broker calls it once every queue of the type is
	// closed.
	Close() error
}

// Capabilities are what queues of a type support. The zero value supports
// nothing optional: such a queue must be durable, not exclusive and not
// auto-delete, as RabbitMQ's quorum and stream queues.
type Capabilities struct {
	// GlobalQoS: the type honours basic.qos with global set (a prefetch
	// shared by the channel's consumers).
	GlobalQoS bool
	// Priorities: the type honours x-max-priority and message priorities.
	Priorities bool
	// Exclusive, AutoDelete and NonDurable say which queue.declare flags
	// the type allows; a declare asking for another is refused with
	// RabbitMQ's "invalid property" 406.
	Exclusive, AutoDelete, NonDurable bool
	// ConditionalDelete: the type decides queue.delete with if-unused or
	// if-empty; without it such a delete is refused (540, as RabbitMQ's
	// quorum queues refuse it).
	ConditionalDelete bool
	// ServerNamed: a queue of the type may be declared with an empty
	// name for the server to choose (RabbitMQ allows it for classic
	// queues only).
	ServerNamed bool
	// Args are the declare arguments the type accepts, which are also the
	// ones a redeclare compares; a declare carrying an argument another
	// type knows is refused (ParseArgsWith).
	Args []string
}

// Declaration is what a queue is declared with.
type Declaration struct {
	// VHost and Name name the queue.
	VHost, Name string
	// Durable, Exclusive and AutoDelete are the queue.declare flags.
	Durable, Exclusive, AutoDelete bool
	// Args are the parsed declare arguments.
	Args Args
	// Members are the nodes holding a replica of a replicated queue, as
	// its definition records them; nil on a single node.
	Members []string
}

// Ref names a saved queue.
type Ref struct {
	VHost, Name string
}

// Hooks are what a queue hands back to the broker. The queue calls them
// without any of its locks held, so they may call back into it; it calls
// none after Close has returned.
type Hooks struct {
	// DeadLetter receives dead-lettered copies of messages, each with
	// Exchange set to the dead-letter exchange and RoutingKey to the key to
	// route it by (see DeadLettered). Nil drops them.
	DeadLetter func(ms []*Message)
	// DeadLetterConfirmed dead-letters as DeadLetter does and calls done
	// once every target queue took the messages (true) or one refused
	// them (false), for a queue that settles a dead-lettered message only
	// then (a quorum queue's at-least-once strategy). Nil: use DeadLetter
	// and do not wait.
	DeadLetterConfirmed func(ms []*Message, done func(ok bool))
	// Expired asks the broker to delete the queue: x-expires ran out, or
	// the last consumer of an auto-delete queue went. It is called at most
	// once.
	Expired func()
}

// Registry holds a node's queue types by name. It is built once, when the
// node starts, and never changes.
type Registry struct {
	byName map[string]Type
	order  []Type
}

// NewRegistry returns a registry of types, in that order; the first is the
// one declares without x-queue-type use, and must be classic. Two types
// with one name are refused.
func NewRegistry(types ...Type) (*Registry, error) {
	if len(types) == 0 || types[0].Name() != TypeClassic {
		return nil, fmt.Errorf("queue: the first registered type must be %s", TypeClassic)
	}
	r := &Registry{byName: make(map[string]Type, len(types))}
	for _, t := range types {
		if _, dup := r.byName[t.Name()]; dup {
			return nil, fmt.Errorf("queue: type %s registered twice", t.Name())
		}
		r.byName[t.Name()] = t
		r.order = append(r.order, t)
	}
	return r, nil
}

// Lookup returns the type registered as name, or nil.
func (r *Registry) Lookup(name string) Type {
	return r.byName[name]
}

// Types returns the registered types in registration order.
func (r *Registry) Types() []Type {
	return slices.Clone(r.order)
}

// Known reports whether RabbitMQ has a queue type called name, whether or
// not a node runs it: x-queue-type may name it, and its arguments are
// validated as RabbitMQ does.
func Known(name string) bool {
	_, ok := argsByType[name]
	return ok
}

// TypeArgs returns the declare arguments RabbitMQ 4 lets queues of type
// name carry (rabbit_*_queue:capabilities/0), or nil for an unknown type.
func TypeArgs(name string) []string {
	return slices.Clone(argsByType[name])
}

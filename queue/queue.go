package queue

import (
	"context"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// Message is one published message. A message routed to several queues is
// shared by all of them, so it is never modified after it has been
// published: per-queue state (delivery id, redelivered flag, expiry) lives in
// the queue, and dead-lettering makes a new Message.
type Message struct {
	// Exchange and RoutingKey are the exchange the message was published to
	// and its routing key, as reported in basic.deliver and basic.get-ok.
	Exchange   string
	RoutingKey string
	// Props are the decoded content-header properties.
	Props protocol.Properties
	// RawProps are the property flags and list exactly as the publisher sent
	// them, forwarded to consumers without re-encoding. Nil when Props was
	// changed after decoding: encode Props instead.
	RawProps []byte
	// Body is the whole message body.
	Body []byte
	// Timestamp is when the broker received the message; TTLs count from it.
	Timestamp time.Time
}

// Persistent reports whether the publisher asked for the message to survive
// a broker restart (delivery mode 2).
func (m *Message) Persistent() bool { return m.Props.DeliveryMode == 2 }

// Delivery is a message handed out by a queue, to a consumer or in reply to
// basic.get.
type Delivery struct {
	// ID identifies the message within its queue; settle it with this id.
	ID uint64
	// Message is the message itself, shared and read-only.
	Message *Message
	// Redelivered is true when the message was delivered before and came back.
	Redelivered bool
	// DeliveryCount is how many times the message was delivered and came
	// back before this delivery: 0 on the first (RabbitMQ 4's quorum
	// queues expose it as x-delivery-count).
	DeliveryCount uint32
}

// Confirmer receives the outcome of a publish for publisher confirms.
type Confirmer interface {
	// Confirmed reports that the queue has taken responsibility for the
	// publish numbered seq (ok, for an ack) or refused it (a nack). It may be
	// called from inside Publish, and from any goroutine.
	Confirmed(seq uint64, ok bool)
}

// Publisher names where publishes come from: the node, the connection id
// (unique on its node) and the channel id.
type Publisher struct {
	Node    string
	Conn    uint64
	Channel uint16
}

// Confirm names who to tell about a publish, and who made it. The zero
// value asks for no confirmation and names no publisher.
type Confirm struct {
	// To, when set, hears the outcome of the publish numbered Seq in the
	// channel's confirm numbering.
	To  Confirmer
	Seq uint64
	// From is the publisher, and Num the publish's number on its channel
	// (every publish counts, confirmed or not, from 1), so that a
	// replicated queue can drop a publish resent after a leader change.
	// Nil for messages the broker makes itself (dead-lettered copies).
	From *Publisher
	Num  uint64
}

// Settlement is what the holder of a delivery decided about it.
type Settlement uint8

// The settlements of a delivery.
const (
	// Ack removes the message for good.
	Ack Settlement = iota
	// Requeue puts the message back in its original place, marked redelivered.
	Requeue
	// Reject discards the message, dead-lettering it (reason "rejected")
	// when the queue has a dead-letter exchange.
	Reject
)

// ConsumeOptions are the consumer's choices from basic.consume.
type ConsumeOptions struct {
	// Tag is the consumer tag, unique on its channel (not on its queue).
	Tag string
	// NoAck consumers settle every message as it is delivered.
	NoAck bool
	// Exclusive asks to be the queue's only consumer.
	Exclusive bool
	// Priority is the consumer's x-priority; higher goes first.
	Priority int32
	// Args are the consume arguments as sent.
	Args protocol.Table
	// Prefetch is the consumer's own limit (basic.qos with global unset):
	// the queue delivers no more than Prefetch messages that the consumer
	// has not settled yet. 0 is unlimited; a no-ack consumer has none.
	Prefetch uint16
	// Limiter, when set, is the channel's shared limit: the queue asks it
	// before each delivery. Only types with Capabilities.GlobalQoS are
	// given one with a channel-wide prefetch.
	Limiter *Limiter
}

// Consumer is the broker's side of a subscription. The queue calls its
// methods while holding the queue's lock, so they must be quick and must not
// call back into the queue.
type Consumer interface {
	// Deliver hands d to the consumer, which always takes it: the queue
	// keeps the credit (Prefetch, Limiter) and never delivers past it.
	Deliver(d Delivery)
	// Cancelled tells the consumer the queue ended its subscription (the
	// queue was deleted), so the client can be sent basic.cancel.
	Cancelled()
}

// Stats are a queue's counters.
type Stats struct {
	Ready     uint32 // messages waiting to be delivered
	Unacked   uint32 // messages delivered and not yet settled
	Consumers uint32
}

// Queue is the contract every queue type implements: the operations on
// the queue as a whole, while a channel's operations go through its
// Session. Every method is safe for concurrent use; see the package
// documentation for the threading rules. The methods that take a context are the ones a queue living on
// another node or in a Raft group will answer late: the context bounds the
// wait (classic queues answer at once and ignore it).
type Queue interface {
	// Name is the queue's name, unique in its vhost.
	Name() string
	// NewSession opens a channel's session with the queue: publish,
	// consume, cancel, get and settle go through it.
	NewSession(o SessionOwner) Session
	// Publish enqueues m without a session: the messages the broker makes
	// itself (dead-lettered copies), which name no publisher. When c.To
	// is set it is told exactly once whether the queue accepted m (for a
	// durable queue, once m is on disk).
	Publish(m *Message, c Confirm)
	// Touch renews the queue's x-expires lease, as a redeclare does in
	// RabbitMQ; a queue without x-expires ignores it.
	Touch()
	// UpdateArgs gives the running queue new effective arguments (its
	// declared arguments with the policy in force, as the broker resolves
	// them), as RabbitMQ applies a policy: length limits and overflow
	// apply at once (dropping or dead-lettering the head as the overflow
	// says), a message TTL applies to messages published from then on,
	// x-expires counts from then, and dead-lettering goes where the new
	// arguments say. Type, priorities and single active consumer stay as
	// declared. A proxy of a queue homed on another node ignores it: that
	// node updates the queue itself.
	UpdateArgs(a Args)
	// Purge drops every ready message and returns how many it dropped.
	Purge(ctx context.Context) (uint32, error)
	// Delete cancels every consumer, drops every message and posts
	// ActionQueueDown to every open session, returning how many ready
	// messages there were. With ifUnused or ifEmpty the queue
	// decides, atomically with the delete, whether it has consumers or
	// ready messages, and then refuses with RabbitMQ's 406 ("queue 'q' in
	// vhost '/' in use" or "... not empty") and stays as it was. Deleting
	// a deleted queue does nothing; deleting a closed one is refused, so
	// that the broker keeps its definition.
	Delete(ctx context.Context, ifUnused, ifEmpty bool) (uint32, error)
	// Stats returns the queue's counters.
	Stats(ctx context.Context) Stats
	// Close stops the queue as the node shuts down, keeping what is
	// durable for the next start: its timers are stopped, what is pending
	// is synced, and once Close returns the queue calls none of its hooks
	// and writes nothing. A closed queue serves nothing.
	Close() error
}

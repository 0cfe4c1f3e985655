package fifo

import "github.com/warrenmq/warren/queue"

// Delivery is one message handed to a consumer.
type Delivery struct {
	// ID is the delivery's id on its consumer: settle with it. A
	// consumer's ids strictly increase, so a session can drop a delivery
	// it has seen (one re-issued by a new leader).
	ID uint64
	// Index is the Raft index of the Enqueue that carried the message:
	// where its body is.
	Index uint64
	// Size is the body's size in bytes.
	Size uint32
	// DeliveryCount is how often the message was returned as a failed
	// delivery (x-delivery-count).
	DeliveryCount uint32
	// Redelivered: the message was delivered before.
	Redelivered bool
	// Settled: the delivery needs no settle (an AutoSettle consumer, a
	// no-ack basic.get); the message is gone from the queue.
	Settled bool
}

// DeadMessage is one message to dead-letter.
type DeadMessage struct {
	// Index is the Raft index of the Enqueue that carried the message.
	Index uint64
	// Size is the body's size in bytes.
	Size uint32
	// DeliveryCount is the message's count of failed deliveries.
	DeliveryCount uint32
	// Reason is why the queue dead-letters it.
	Reason queue.Reason
}

// EffectKind is what the leader does for an Effect.
type EffectKind uint8

// The kinds of effects.
const (
	// EffectDeliver: send Deliveries to Consumer.
	EffectDeliver EffectKind = iota + 1
	// EffectDeadLetter: publish Dead to the dead-letter exchange; with
	// AtLeastOnce, then propose DeadLetterSettled with their indexes once
	// the targets confirmed them.
	EffectDeadLetter
	// EffectExpiryTimer: propose a Tick at At (Unix ms), when the next
	// ready message expires. A later one replaces it.
	EffectExpiryTimer
	// EffectQueueTimer: propose a Tick at At, when the queue's x-expires
	// lease runs out if it stays unused. A later one replaces it.
	EffectQueueTimer
	// EffectDeleteQueue: the queue has been unused for its x-expires:
	// delete it.
	EffectDeleteQueue
	// EffectConsumerCancelled: tell Consumer it was cancelled
	// (basic.cancel), here after a consumer timeout.
	EffectConsumerCancelled
	// EffectConsumerActive: with single active consumer, Consumer became
	// the active one (Active) or stopped being it.
	EffectConsumerActive
)

// Effect is one thing the leader does after a command is applied:
// followers apply the same command and ignore its effects. Slices in an
// effect are valid until the next Apply.
type Effect struct {
	Kind        EffectKind
	Consumer    ConsumerID    // EffectDeliver, EffectConsumerCancelled, EffectConsumerActive
	Deliveries  []Delivery    // EffectDeliver, in increasing id order
	Dead        []DeadMessage // EffectDeadLetter
	AtLeastOnce bool          // EffectDeadLetter: settle with DeadLetterSettled
	At          int64         // EffectExpiryTimer, EffectQueueTimer: Unix ms
	Active      bool          // EffectConsumerActive

	from, to int // the Deliveries or Dead range in the state's buffer
}

// Outcome is how a command was answered.
type Outcome uint8

// The outcomes.
const (
	// OK: done.
	OK Outcome = iota
	// Rejected: an enqueue refused by x-overflow reject-publish (nack it).
	Rejected
	// Duplicate: an enqueue whose publisher sequence was seen already; it
	// was not enqueued again (confirm it: with Contiguous, only a number
	// that was enqueued is ever seen).
	Duplicate
	// Empty: a basic.get found no ready message.
	Empty
	// UnknownConsumer: the command names a consumer the queue does not
	// have (cancelled and settled, or ended by a node or channel down).
	UnknownConsumer
	// ConsumerExists: a checkout of a consumer the queue has; nothing
	// changed (a resent checkout).
	ConsumerExists
	// GetUnsupported: basic.get on a single active consumer queue, which
	// RabbitMQ refuses.
	GetUnsupported
	// OutOfSequence: a Contiguous enqueue past the next number its
	// publisher is expected to send (an earlier one was not applied yet,
	// or will never be), or of a base older than the publisher's; it was
	// not enqueued and its number not recorded: send it again once the
	// earlier ones are answered (rabbit_fifo's out_of_sequence).
	OutOfSequence
)

// Result is what an applied command answers its proposer.
type Result struct {
	Outcome Outcome
	// Get: the message taken, and how many remain ready after it.
	Get   Delivery
	Ready uint64
	// Purged: how many ready messages Purge dropped.
	Purged uint64
}

// Package queue defines the contract every queue type implements (classic
// queues in queue/classic today; durable and Raft-replicated quorum queues
// later) and the message and delivery types that travel between the broker
// and its queues.
//
// A queue never imports the exchange package and never performs routing:
// whatever a queue must hand back to the rest of the broker (dead-lettered
// messages, its own expiry) goes through its Hooks.
//
// # Queue types
//
// A Type declares queues of its kind, recovers them at start-up and states
// its Capabilities (declare flags, global QoS, priorities, the arguments
// it accepts), which the broker's generic checks read. A node's types are
// held in a Registry, built once at start-up, keyed by x-queue-type name,
// classic first; there is no global registry. RabbitMQ's own list of
// types and their arguments (Known, TypeArgs) stays here, so that types a
// node does not run are refused with RabbitMQ's texts.
//
// # Sessions
//
// Queue holds the operations on a queue as a whole (declare-time ones,
// purge, delete, stats, close, and the session-less Publish of messages
// the broker makes itself); a channel's own operations (publish, consume,
// cancel, get, settle) go through its Session with the queue, opened by
// Queue.NewSession and closed when the channel goes, as the per-queue
// state in RabbitMQ's rabbit_queue_type. An operation returns the Actions
// it completes at once; a queue that answers later (after an fsync, on a
// timer, from another node or a Raft group) posts them to the session's
// SessionOwner instead of calling into the channel. Action is a plain
// value, delivered in batches, so that a remote queue can send it.
//
// Package queuetest holds the conformance suite every type must pass, and
// a wrapper that makes any type answer late, as from another node.
//
// # Threading
//
//   - Every method of Type and Queue is safe for concurrent use.
//   - A local queue may call Consumer.Deliver with its own lock held (the
//     classic fast path; others post ActionDeliver); Deliver must
//     not call back into the queue. Deliver never refuses: the queue keeps
//     each consumer's credit (ConsumeOptions.Prefetch, given back by
//     Settle) and asks the channel's Limiter, when it has one, before each
//     delivery; a limiter that refuses resumes the queue (Resumer) later,
//     without its own lock held. Consumer.Cancelled, Confirmer.Confirmed
//     and the Hooks (DeadLetter, Expired) are called without the queue's
//     locks, so they may call into it or into the broker.
//   - The broker never holds a vhost lock across Queue.Delete, Purge or a
//     hook: a queue may call back while it deletes. Delete decides
//     if-unused and if-empty itself, atomically with the delete.
//   - Methods that take a context may wait on another node or a Raft group
//     in types to come; classic queues answer at once and ignore it.
//   - A queue owns its timers. Close stops them and waits for the hooks
//     already running; once Close returns the queue calls no hook and
//     writes nothing. Type.Close comes after every queue of the type is
//     closed.
//
// A replicated queue may implement RaftReporter (raft_metrics.go): the
// Raft figures of its replica on this node, which the broker lists for
// monitoring.
package queue

// Package fifo is the state machine of one quorum queue, in the manner of
// RabbitMQ 4's rabbit_fifo: a pure, deterministic value that every replica
// of the queue's Raft group applies the same committed commands to. It
// does no I/O, starts no goroutine and takes no lock; the type that wraps
// it (the Raft group, sessions, storage) lives elsewhere.
//
// # The model
//
// A message is enqueued by an Enqueue command at some Raft index; that
// index is the message's identity and the reference to its body, which
// stays in the log (or a body store) and never enters the state. The
// state holds each message's header: index, body size, expiry, priority
// (RabbitMQ 4's two levels: a priority property above 4 is high, served
// first), its count of failed deliveries (x-delivery-count) and of
// deliveries that came back. Every message is in exactly one place: ready
// (returned messages first, then high, then normal), checked out by one
// consumer under a delivery id, or, with the at-least-once dead-letter
// strategy, waiting until its dead-letter targets confirm it.
//
// Consumers (Checkout) have prefetch credit (the unsettled deliveries they
// may hold; 0 unlimited), a priority (x-priority: higher first, round
// robin among equals), and ids that grow by one with every delivery, so
// that a session can drop a delivery it has seen. With single active
// consumer one consumer is served at a time; the next takes over when it
// is cancelled or ends, and one of higher priority takes over once the
// active one holds nothing. A cancelled consumer keeps its unsettled
// messages until settled; a consumer that ends (its channel or node down,
// a consumer timeout) returns them to the queue, and so does one whose
// node the leader cannot reach (Unreachable, RabbitMQ's noconnection),
// which takes nothing new, nor stays the single active consumer, until
// its node is reachable again. Settle acknowledges,
// Return requeues at the front with the delivery count incremented (past
// x-delivery-limit, 20 by default, the message is dead-lettered with
// reason delivery_limit), Discard dead-letters with reason rejected. Get
// is basic.get: a one-shot consumer made for the message (its ConsumerID
// names the channel with the empty tag, which basic.consume never uses).
// Publishers that name themselves (node, connection, channel) are deduplicated by
// sequence: a resend at or below the last seen is answered Duplicate and
// not enqueued twice, until PublisherGone or ChannelDown forgets them. A
// publisher numbers its publishes one after another (Enqueue.Contiguous:
// base+1, base+2 …, a base being a multiple of SeqBase that a session
// takes anew), and, as in rabbit_fifo, only the next number expected is
// enqueued: one past it is answered OutOfSequence, neither enqueued nor
// recorded, and its proposer sends it again after the earlier ones. So
// no ordering fault on the way to the leader can have an earlier publish
// judged a duplicate of a later one: Duplicate answers only a number
// that was enqueued. A number refused by reject-publish is not recorded
// either (the publisher's next are out of sequence until it is enqueued
// or the publisher starts a new base); one of an older base than the
// last recorded is out of sequence, since its fate is no longer known.
//
// Length limits (x-max-length, x-max-length-bytes) count ready messages
// and pending at-least-once dead-letters: drop-head dead-letters the next
// messages with reason maxlen, reject-publish answers Rejected. TTLs
// (x-message-ttl, the expiration property) give a ready message an expiry
// in the leader's time: every command expires the heads whose time has
// come (reason expired). x-expires: a Tick on a queue unused that long
// answers with EffectDeleteQueue.
//
// # Commands
//
// Commands (command.go) have append-only op codes and a binary encoding:
// a version byte, the op code, then the body. Each carries all Apply
// needs, the time included (Now, Unix milliseconds, stamped by the leader
// that proposed it; the state uses the latest seen, so a new leader's
// clock running behind does not move time back). Decode refuses anything
// it cannot decode completely with ErrCorrupt: a replica that meets one
// stops, never skips it.
//
// # Results and effects
//
// Apply returns a Result, the answer to the proposer (accepted, rejected,
// duplicate, the message of a get): a publisher confirm is the answer to
// its Enqueue, sent by the node that proposed it once it is committed, so
// no effect is needed for it. Effects are what the leader does:
// deliver to a consumer, dead-letter messages, set a timer for the next
// expiry or for x-expires, delete the queue, tell a consumer it was
// cancelled or became the single active one. Every replica computes them;
// only the leader carries them out, so a side effect happens once, not once
// per replica. A new leader proposes LeaderElected first, whose effects
// re-issue everything pending (unsettled deliveries, pending
// dead-letters, timers): the old leader may have died before acting.
// Resend re-issues the deliveries a consumer's session found missing
// from its ids (a gap), the ones it still holds. UpdateConfig
// (reconfig.go) replaces the configuration when a policy changes the
// queue's arguments, enforcing new length limits at once; an equal
// configuration changes nothing. Left lists the messages an Apply
// removed from the queue (settled, dead-lettered, dropped, purged), so
// that a replica can drop their bodies at once.
// Apply reads no clock, draws no random number and never lets map order
// show (consumers are kept in arrival order, sets are sorted before they
// are walked).
//
// # Snapshots and the log
//
// Snapshot encodes the whole state, deterministically, and Restore builds
// a state from it; equal states give equal bytes. WriteSnapshot writes
// the same bytes to a writer the caller gives, 64 KiB at a time, so that
// a backlog of millions is not encoded into one buffer. A snapshot holds
// headers only, never bodies: copying every live body into every snapshot
// is O(backlog) per snapshot, which a queue of millions of messages cannot
// afford. The bodies stay in the Raft log, as in RabbitMQ's Ra: LiveFrom
// returns the lowest index a message still refers to, and the log from
// there on must be kept with the snapshot (a later body store may take
// old bodies out of the log, after which only their references remain
// here).
//
// # Memory
//
// Ready messages are kept in deques of fixed-size chunks of 1,024 headers
// stored by column (deque.go): 12 bytes a message for its index and size,
// with the expiry (8 bytes) and the counts and priority (12 bytes) stored
// only for chunks where some message has them. A deque grows a chunk at a
// time, never copies what it holds, and frees chunks as it drains, so a
// backlog of 10 million plain messages costs about 120 MB here.
package fifo

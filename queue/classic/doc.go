// Package classic implements the classic queue type: a local FIFO with an
// unacknowledged set, inline dispatch to consumers, per-queue and
// per-message TTLs, length limits with RabbitMQ's three overflow
// behaviours, dead-lettering, priorities, consumer priorities, exclusive
// and single active consumers, x-expires / auto-delete, and durability on
// the node's queue/store.
//
// Dispatch is inline: Publish, Consume, Resume, Get and Settle deliver to
// consumers directly, under the queue's mutex, by calling
// queue.Consumer.Deliver. Each subscriber keeps its credit (its prefetch
// and its unsettled count); one without credit, or whose channel limiter
// refused, is skipped until a settle or the limiter's Resume. There is no dispatcher goroutine and no timer per
// message: a queue holds at most one timer, armed for the earliest head
// expiry or its x-expires deadline.
//
// Every change of a message's state goes through one of enqueue, take,
// hold, release and requeue (settle.go); a message's body is reached only
// through its *queue.Message.
//
// # Durability
//
// A durable queue created with Env.Store keeps its persistent messages
// (delivery mode 2) in its own log in the store, named
// store.LogID(vhost, name). Transient messages, and every message of a
// non-durable queue, never outlive the node's run: past the window they
// are paged out to the volatile store (Env.Spill; see Paging), which
// nothing reads at start-up and which is emptied then.
//
//   - New recovers the log: every message not settled comes back, in
//     order, marked redelivered, as RabbitMQ does. Their TTLs count from
//     the publish time kept in the record.
//   - Publish appends a persistent message (queue.AppendMessage) and
//     returns; the confirm waits in a FIFO and is sent from the store's
//     OnDurable callback once the record is fsynced. Nothing waits for the
//     disk on the publisher's goroutine. A message is deliverable before it
//     is durable (as in RabbitMQ); one delivered at once to a no-ack
//     consumer, or expired at once (TTL 0), is never written at all.
//   - Ack, reject, expiry, dead-lettering, drop-head and no-ack delivery
//     settle the record; purge settles the ready ones (a range for the paged
//     part); Delete removes the log's directory; a requeue needs nothing.
//     A consumer may ack a message whose record is not durable yet: the
//     settle is queued behind the append in the same log, and a crash can
//     keep both, neither, or either one. A settle without its record is
//     harmless (the store never reuses the number); a record without its
//     settle comes back once, redelivered, which at-least-once allows, and
//     its publisher, not confirmed yet, republishes anyway. The confirm is
//     still sent once the record is durable.
//   - When the log fails (a write or fsync error), the confirms waiting
//     are nacked and every later persistent publish is nacked at once; the
//     queue goes on serving from memory. It is not reopened automatically:
//     redeclaring after a broker restart recovers what reached the disk.
//     Deleting the queue acks the confirms still waiting, as RabbitMQ
//     confirms publishes to a queue deleted normally.
//   - Close (broker shutdown) stops the timer, waits for the Env hooks
//     already running, syncs what is pending and keeps the log; after it
//     the queue calls no hook and a delete is refused.
//
// A channel's operations come through a session (session.go), a thin
// layer over the queue's methods: classic completes everything at once
// and keeps calling Deliver, Cancelled and Confirmed directly. The
// session remembers the consumers subscribed through it, which its Close
// cancels, and the queue its open sessions, which Delete tells
// ActionQueueDown.
//
// The Type (type.go) is how the broker reaches all this: it owns the
// node's store and its volatile store (each with its own sync loop and
// compactor goroutines, started when it opens and joined in its Close,
// which Type.Close calls), declares queues (New) and, at start-up,
// deletes the logs that belong to no saved queue (Recover).
//
// # Paging
//
// A queue without priorities keeps at most a head window of ready messages
// in memory (Env.WindowMessages, Env.WindowBytes: 4096 messages, 32 MiB)
// once it has somewhere to page to: a durable queue with Env.Store, and
// any queue with Env.Spill. Past the window, a persistent message in a
// durable queue is only a record in its log and a count; a transient one,
// and every message of a non-durable queue, is a record in the queue's
// spill log (spill.go), a log of the node's volatile store: never synced,
// emptied when the node starts, deleted with the queue and when it is
// closed. One store.Reader per log, moving forward, reads the backlog back
// as the window drains, and the two logs are merged in publish order
// (paging.go). Queue order, requeue positions, TTLs counted from the
// publish, purge, length limits (overflow and dead-lettering included) and
// x-expires hold whatever is paged. A million transient 1 KiB messages cost
// the queue a few MiB of memory; each paged message costs about 13 bytes of
// heap. Limitations: priority queues keep every message in memory (their
// persistent bodies are still persisted and recovered), and so does every
// queue of a node without a data dir; unacknowledged messages keep their
// bodies (bounded by the consumers' prefetch); transient messages wait in
// memory (the tail) when the spill log cannot be opened or written. With
// x-max-length-bytes, recovery reads the whole backlog once to learn its
// size.
//
// # Flow control
//
// A queue with consumers whose ready messages reach 8192 (or 16 MiB)
// blocks each session that publishes into it (queue.ActionBlock) and
// unblocks them all once the backlog is down to half (queue.ActionUnblock),
// or at once when its last consumer goes (flow.go), so a consumer that
// lags keeps a bounded latency and the node stays clear of the memory
// alarm. A queue without consumers is never a reason to block, and a
// publisher whose connection consumes from the queue is never blocked (its
// acks would wait behind the pause). Both actions are posted under the
// queue's mutex, in the order decided.
//
// # Policies
//
// UpdateArgs (policy.go) replaces the queue's effective arguments while it
// runs, under its mutex, as a policy changes them: a lower length limit
// drops or dead-letters the head at once (drop-head), a message TTL
// applies to what is published from then on, x-expires counts from the
// change. The arguments are replaced, never changed in place, so the
// dead-lettering that runs after the mutex is released reads a
// consistent copy.
//
// # Locks
//
// Lock order: the queue's mutex, then a Consumer's or Confirmer's locks
// (queue → channel → connection) or a queue.Limiter's (a leaf), or a
// session owner's Post (flow control; the connection's output lock), and the queue's mutex, then the log's
// (Append, Settle and the Reader run under it; the spill log's likewise),
// then the confirm FIFO's. The spill log is deleted after the mutex is
// released.
// Consumer.Deliver is called with the mutex held; Env.DeadLetter,
// Env.Expired, Consumer.Cancelled and Confirmer.Confirmed are called after
// it is released, so they may call back into the queue. The store calls
// OnDurable holding no lock of its own; it takes only the confirm FIFO's
// mutex and calls Confirmed with nothing held.
package classic

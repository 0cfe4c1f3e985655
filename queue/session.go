package queue

// ActionKind says what an Action reports.
type ActionKind uint8

// The actions a queue hands a session's owner, in the shape of
// rabbit_queue_type's actions.
const (
	// ActionDeliver hands Delivery to Consumer, which the owner
	// subscribed through the session. A queue that posts deliveries
	// numbers each consumer's in increasing order (Delivery.ID, as
	// rabbit_fifo's message ids), so the owner drops one at or below the
	// last it saw as a resend.
	ActionDeliver ActionKind = iota + 1
	// ActionSettled: the queue took responsibility for the publish
	// numbered Seq (its Confirm.Seq); the publisher may be confirmed.
	ActionSettled
	// ActionRejected: the queue refused the publish numbered Seq; the
	// publisher is nacked.
	ActionRejected
	// ActionBlock asks the session's publisher to stop publishing until
	// ActionUnblock.
	ActionBlock
	// ActionUnblock ends ActionBlock.
	ActionUnblock
	// ActionConsumeOK: Consumer is subscribed (basic.consume-ok).
	ActionConsumeOK
	// ActionGetOK answers basic.get with Delivery; Count ready messages
	// remain.
	ActionGetOK
	// ActionGetEmpty answers basic.get: nothing is ready.
	ActionGetEmpty
	// ActionCancelled: the queue ended Consumer's subscription (it was
	// deleted), so the client can be sent basic.cancel.
	ActionCancelled
	// ActionQueueDown: the queue is gone (deleted, or, for a queue on
	// another node, lost). The session serves nothing more and its owner
	// forgets it.
	ActionQueueDown
	// ActionRefused: the queue refused the operation the owner waits for
	// (basic.consume or basic.get) with Err, an AMQP exception such as 403
	// for a queue in exclusive use or 404 for one whose home node is down;
	// the owner answers the method with it. For a refused consume,
	// Consumer is the subscription that was not made. A queue that
	// decides at once returns the error from Consume instead.
	ActionRefused
)

// Action is one outcome of a session operation. A session returns the
// actions of an operation it completes at once, and posts the ones it
// produces later or on another goroutine (SessionOwner.Post), in batches:
// a queue on another node would send the same values over the wire.
type Action struct {
	Kind ActionKind
	// Consumer is the subscription of ActionDeliver, ActionConsumeOK and
	// ActionCancelled.
	Consumer Consumer
	// Delivery is the message of ActionDeliver and ActionGetOK.
	Delivery Delivery
	// Seq is the confirm number (Confirm.Seq) of ActionSettled and
	// ActionRejected.
	Seq uint64
	// Count is the ready messages left, for ActionGetOK.
	Count uint32
	// Err is the exception of ActionRefused.
	Err error
}

// SessionOwner is the channel side of a Session.
type SessionOwner interface {
	// Publisher names the owner as a publisher (the same as Confirm.From
	// of its publishes).
	Publisher() *Publisher
	// Post hands the owner actions the queue produced after the session
	// call that caused them (a durable publish confirmed after its fsync,
	// a delivery made on a timer or by another channel's ack, anything a
	// queue on another node answers). It never blocks and never calls
	// back into the queue, it is safe from any goroutine, and it does not
	// keep acts. Actions posted after Close may be dropped.
	Post(acts []Action)
}

// Session is one channel's state with one queue, as RabbitMQ's per-queue
// context in a channel's rabbit_queue_type state: the channel opens it on
// first use (Queue.NewSession) and closes it when the channel closes.
// Every operation appends what it completes at once to out and returns
// it; what it completes later is posted to the owner. A session is used
// by one goroutine at a time, its owner's (the channel's read loop);
// Close may come from another goroutine once the owner stopped using it.
//
// Queues that answer at once (classic) may also call Consumer.Deliver,
// Consumer.Cancelled and Confirm.To directly, as they always have: that
// is the local fast path. A queue that answers late posts ActionDeliver,
// ActionCancelled, ActionSettled and ActionRejected instead.
type Session interface {
	// Publish enqueues m, published by the owner; c.From and c.Num name
	// the publish so that a replicated queue can drop a resend. When c.To
	// is set the outcome comes exactly once: through c.To, or as
	// ActionSettled or ActionRejected for c.Seq.
	Publish(m *Message, c Confirm, out []Action) []Action
	// Consume subscribes c; ActionConsumeOK says it is subscribed. The
	// error is an AMQP exception (403 when the queue is in exclusive use,
	// for example); a queue that decides later posts it as
	// ActionRefused instead.
	Consume(c Consumer, o ConsumeOptions, out []Action) ([]Action, error)
	// Cancel ends c's subscription. Messages delivered to it and not yet
	// settled stay with the channel until settled.
	Cancel(c Consumer, out []Action) []Action
	// Get answers basic.get: ActionGetOK with the next ready message, or
	// ActionGetEmpty (or ActionRefused, from a queue that cannot be
	// reached). With noAck the message is settled at once.
	Get(noAck bool, out []Action) []Action
	// Settle acks, requeues or rejects messages delivered through this
	// session by id, giving their consumers' credit back. Unknown ids are
	// ignored; the session does not keep ids.
	Settle(s Settlement, ids []uint64, out []Action) []Action
	// Close tells the queue the channel is gone: its consumers are
	// cancelled (without ActionCancelled) and what the queue keeps for
	// the publisher (a replicated queue's dedup state) is freed. The
	// owner requeues what it holds (Settle) before closing; a queue that
	// answers late also requeues what it delivered that the owner never
	// saw. Closing twice does nothing.
	Close()
}

// TimeoutCanceller is a Session whose queue ends, by itself, a consumer
// holding a delivery past its consumer timeout, as RabbitMQ 4.3's quorum
// queues do, rather than the channel being closed: the consumer's
// unsettled messages go back to the queue (counted as failed deliveries)
// and ActionCancelled follows, while the channel stays open.
type TimeoutCanceller interface {
	// TimedOut ends c's subscription for a consumer timeout. It may be
	// called from any goroutine.
	TimedOut(c Consumer)
}

package classic

import (
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// Publish enqueues m and delivers what it can. c.To hears false when the
// length limit refused m (x-overflow reject-publish or reject-publish-dlx)
// or the log refused it (then m is kept in memory only). A persistent
// message in a durable queue is confirmed once its record is on disk, from
// the store's goroutine; everything else is confirmed at once, before
// Publish returns.
func (q *Queue) Publish(m *queue.Message, c queue.Confirm) { q.publishFrom(m, c, nil) }

// publishFrom is Publish through session s (nil: none), which flow control
// blocks when the queue's consumers lag too far behind.
func (q *Queue) publishFrom(m *queue.Message, c queue.Confirm, s *session) {
	q.mu.Lock()
	q.pubSeq, q.pubNack = 0, false
	ok := q.publish(m)
	due := true
	if q.pubNack {
		ok = false
	} else if ok && q.pubSeq != 0 && c.To != nil {
		// Pushed under mu, where the record was appended: the FIFO is in
		// record order.
		due, ok = q.conf.push(q.pubSeq, c)
	}
	if s != nil && !q.deleted {
		q.flowCheck(s)
	}
	q.unlock()
	if c.To != nil && due {
		c.To.Confirmed(c.Seq, ok)
	}
}

func (q *Queue) publish(m *queue.Message) bool {
	if q.deleted {
		// Routed before the queue went: the message goes with it. A queue
		// closed for shutdown has not taken it.
		return !q.closed
	}
	var now int64
	if q.args.Overflow != queue.DropHead && q.wouldOverflow(m) {
		if q.args.Overflow == queue.RejectPublishDLX {
			q.deadLetter(m, queue.MaxLen, &now)
		}
		return false
	}
	e := entry{msg: m, id: q.nextID, unlogged: q.dlog != nil && m.Persistent()}
	q.nextID++
	var ttl int64
	e.expiry, ttl = q.expiryOf(m, &now)
	// A message published to an empty queue goes straight to a consumer,
	// before its TTL is looked at: RabbitMQ delivers a TTL 0 message that a
	// consumer can take at once and expires it otherwise. (Only one taken
	// with acks goes to the log.)
	if q.readyN() == 0 && q.cons.canDeliver() && q.deliver(e) {
		return true
	}
	if ttl == 0 {
		// Never stored: a persistent one is not logged either.
		q.deadLetter(m, queue.Expired, &now)
		return true
	}
	// A message that arrives already expired (its Timestamp is old) is
	// dropped by dispatch or by the timer, which fires at once for it.
	q.enqueue(e)
	q.dropHeads(&now)
	q.dispatch(&now)
	q.schedule(&now)
	return true
}

// wouldOverflow reports whether enqueueing m would take the queue past
// x-max-length or x-max-length-bytes.
func (q *Queue) wouldOverflow(m *queue.Message) bool {
	a := q.args
	return (a.HasMaxLength && int64(q.readyN())+1 > a.MaxLength) ||
		(a.HasMaxLengthBytes && q.readyBytes()+int64(len(m.Body)) > a.MaxLengthBytes)
}

// overLimit reports whether the ready messages exceed a length limit.
func (q *Queue) overLimit() bool {
	a := q.args
	return (a.HasMaxLength && int64(q.readyN()) > a.MaxLength) ||
		(a.HasMaxLengthBytes && q.readyBytes() > a.MaxLengthBytes)
}

// dropHeads enforces x-overflow drop-head: the messages that would be
// delivered next go (dead-lettered, reason maxlen) until the queue is
// within its limits.
func (q *Queue) dropHeads(now *int64) {
	if q.args.Overflow != queue.DropHead {
		return
	}
	for q.overLimit() {
		_, l := q.ready.head()
		q.drop(q.take(l), queue.MaxLen, now)
	}
}

// deliver offers e to the consumers; when one takes it, it is recorded as
// unacknowledged (unless the consumer is no-ack) and deliver returns true.
func (q *Queue) deliver(e entry) bool {
	c := q.cons.offer(queue.Delivery{ID: e.id, Message: e.msg, Redelivered: e.redelivered, DeliveryCount: e.count}, q)
	if c == nil {
		return false
	}
	if !c.noAck {
		q.hold(e, c)
	} else {
		q.forget(e.seq)
	}
	return true
}

// dispatch delivers ready messages while a consumer can take them,
// dropping expired ones it meets at the head.
func (q *Queue) dispatch(now *int64) {
	for q.ready.count > 0 && q.cons.canDeliver() {
		h, l := q.ready.head()
		if h.expiry != 0 && h.expiry <= q.nowNs(now) {
			q.drop(q.take(l), queue.Expired, now)
			continue
		}
		if !q.deliver(*h) {
			return
		}
		q.take(l)
	}
}

// Resume implements queue.Resumer: a limiter that held consumers back lets
// deliveries through again, and the queue delivers to them.
func (q *Queue) Resume() {
	q.mu.Lock()
	if !q.deleted {
		var now int64
		q.cons.resume()
		q.dispatch(&now)
		q.schedule(&now)
	}
	q.unlock()
}

// Get takes the next ready message for basic.get and reports how many ready
// messages remain. With noAck the message is settled at once.
func (q *Queue) Get(noAck bool) (queue.Delivery, uint32, bool) {
	q.mu.Lock()
	if q.deleted {
		q.unlock()
		return queue.Delivery{}, 0, false
	}
	var now int64
	q.used(&now)
	q.dropExpired(&now)
	if q.ready.count == 0 {
		q.schedule(&now)
		q.unlock()
		return queue.Delivery{}, 0, false
	}
	_, l := q.ready.head()
	e := q.take(l)
	if !noAck {
		q.hold(e, nil)
	} else {
		q.forget(e.seq)
	}
	remaining := uint32(q.readyN())
	q.schedule(&now)
	q.unlock()
	return queue.Delivery{ID: e.id, Message: e.msg, Redelivered: e.redelivered, DeliveryCount: e.count}, remaining, true
}

// Consume subscribes c with its credit: o.Prefetch unsettled deliveries
// at most, and whatever o.Limiter lets through. It fails with ACCESS_REFUSED when an exclusive
// consumer holds the queue, when c asks for exclusivity and the queue has
// consumers, and when c asks for exclusivity on a single-active-consumer
// queue.
func (q *Queue) Consume(c queue.Consumer, o queue.ConsumeOptions) error {
	return q.consume(c, o, nil)
}

// consume is Consume for a consumer subscribed through a session of
// connection from (nil: none).
func (q *Queue) consume(c queue.Consumer, o queue.ConsumeOptions, from *queue.Publisher) error {
	q.mu.Lock()
	if q.deleted {
		q.unlock()
		return protocol.NewError(protocol.NotFound, "no queue '%s' in vhost '%s'", q.name, q.opts.VHost)
	}
	if q.cons.exclusive || (o.Exclusive && (q.cons.sac || q.cons.count > 0)) {
		q.unlock()
		return protocol.NewError(protocol.AccessRefused,
			"queue '%s' in vhost '%s' in exclusive use", q.name, q.opts.VHost)
	}
	q.cons.add(&subscriber{c: c, noAck: o.NoAck, exclusive: o.Exclusive, priority: o.Priority,
		prefetch: o.Prefetch, lim: o.Limiter, from: from})
	q.hadConsumers = true
	var now int64
	q.used(&now)
	q.dispatch(&now)
	q.schedule(&now)
	q.unlock()
	return nil
}

// Cancel ends c's subscription. When it was the single active consumer,
// the next consumer takes over; when it was the last consumer of an
// auto-delete queue, Env.Expired is called.
func (q *Queue) Cancel(c queue.Consumer) bool {
	q.mu.Lock()
	if q.cons.remove(c) == nil {
		q.unlock()
		return false
	}
	var now int64
	if q.cons.count == 0 && !q.deleted {
		q.used(&now)
		if q.opts.AutoDelete && q.hadConsumers {
			q.expire("auto-delete")
		}
	}
	if !q.deleted {
		q.dispatch(&now)
		q.schedule(&now)
	}
	q.unlock()
	return true
}

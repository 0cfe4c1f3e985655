package classic

import (
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// Publish enqueues m and delivers what it can. An in-memory queue confirms
// at once: c.To hears true unless the length limit refused m
// (x-overflow reject-publish or reject-publish-dlx).
func (q *Queue) Publish(m *queue.Message, c queue.Confirm) {
	q.mu.Lock()
	ok := q.publish(m)
	q.unlock()
	if c.To != nil {
		c.To.Confirmed(c.Seq, ok)
	}
}

func (q *Queue) publish(m *queue.Message) bool {
	if q.deleted {
		// Routed before the queue went: the message goes with it.
		return true
	}
	var now int64
	if q.args.Overflow != queue.DropHead && q.wouldOverflow(m) {
		if q.args.Overflow == queue.RejectPublishDLX {
			q.deadLetter(m, queue.MaxLen, &now)
		}
		return false
	}
	e := entry{msg: m, id: q.nextID}
	q.nextID++
	ttl := q.ttl
	if m.Props.Expiration != "" {
		if t := expirationNs(m.Props.Expiration); t >= 0 && (ttl < 0 || t < ttl) {
			ttl = t
		}
		q.ttlSeen = true
	}
	if ttl >= 0 {
		base := m.Timestamp.UnixNano()
		if m.Timestamp.IsZero() {
			base = q.nowNs(&now)
		}
		e.expiry = base + ttl
		if e.expiry == 0 {
			e.expiry = 1 // 0 means "never"
		}
	}
	// A message published to an empty queue goes straight to a consumer,
	// before its TTL is looked at: RabbitMQ delivers a TTL 0 message that a
	// consumer can take at once and expires it otherwise.
	if q.ready.count == 0 && q.cons.canDeliver() && q.deliver(e) {
		return true
	}
	if ttl == 0 {
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
	return (a.HasMaxLength && int64(q.ready.count)+1 > a.MaxLength) ||
		(a.HasMaxLengthBytes && q.ready.bytes+int64(len(m.Body)) > a.MaxLengthBytes)
}

// overLimit reports whether the ready messages exceed a length limit.
func (q *Queue) overLimit() bool {
	a := q.args
	return (a.HasMaxLength && int64(q.ready.count) > a.MaxLength) ||
		(a.HasMaxLengthBytes && q.ready.bytes > a.MaxLengthBytes)
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
		e := q.take(l)
		q.deadLetter(e.msg, queue.MaxLen, now)
	}
}

// deliver offers e to the consumers; when one takes it, it is recorded as
// unacknowledged (unless the consumer is no-ack) and deliver returns true.
func (q *Queue) deliver(e entry) bool {
	c := q.cons.offer(queue.Delivery{ID: e.id, Message: e.msg, Redelivered: e.redelivered})
	if c == nil {
		return false
	}
	if !c.noAck {
		q.hold(e)
	}
	return true
}

// dispatch delivers ready messages while a consumer can take them,
// dropping expired ones it meets at the head.
func (q *Queue) dispatch(now *int64) {
	for q.ready.count > 0 && q.cons.canDeliver() {
		h, l := q.ready.head()
		if h.expiry != 0 && h.expiry <= q.nowNs(now) {
			e := q.take(l)
			q.deadLetter(e.msg, queue.Expired, now)
			continue
		}
		if !q.deliver(*h) {
			return
		}
		q.take(l)
	}
}

// Kick tells the queue that consumers which refused a delivery may take
// messages again, and delivers to them.
func (q *Queue) Kick() {
	q.mu.Lock()
	if !q.deleted {
		var now int64
		q.cons.unblockAll()
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
		q.hold(e)
	}
	remaining := uint32(q.ready.count)
	q.schedule(&now)
	q.unlock()
	return queue.Delivery{ID: e.id, Message: e.msg, Redelivered: e.redelivered}, remaining, true
}

// Consume subscribes c. It fails with ACCESS_REFUSED when an exclusive
// consumer holds the queue, when c asks for exclusivity and the queue has
// consumers, and when c asks for exclusivity on a single-active-consumer
// queue.
func (q *Queue) Consume(c queue.Consumer, o queue.ConsumeOptions) error {
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
	q.cons.add(&consumer{c: c, noAck: o.NoAck, exclusive: o.Exclusive}, o.Priority)
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

package broker

import (
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// earlyLimit is how many deliveries a consumer holds before its
// basic.consume-ok is sent; past it the channel's limiter pauses the
// queues until the consume completes.
const earlyLimit = 256

// consumer is a basic.consume subscription: the queue.Consumer a queue
// delivers to. Its mutable fields are guarded by its channel's mu.
type consumer struct {
	ch      *channel
	s       *session // the channel's session with the queue
	qname   string
	tag     string
	noAck   bool
	noWait  bool          // basic.consume asked for no consume-ok
	timeout time.Duration // consumer timeout; 0 for none

	ready bool             // basic.consume-ok has been sent
	early []queue.Delivery // delivered before basic.consume-ok, sent after it

	// lastID is the id of the last delivery a queue posted
	// (ActionDeliver), once posted is set: a queue that answers late
	// numbers a consumer's deliveries in increasing order, so one at or
	// below it is a resend and is dropped.
	lastID uint64
	posted bool

	// timedOut is set, under the channel's lock, once the consumer's queue
	// was told it timed out (queue.TimeoutCanceller).
	timedOut bool
}

// Deliver implements queue.Consumer: the queue kept the credit, so the
// delivery is always taken. It runs under the queue's lock and takes the
// channel's lock, then the connection's output lock. A delivery that
// arrives before basic.consume-ok waits for it; one that arrives once the
// channel is closed is kept for release to requeue.
func (k *consumer) Deliver(d queue.Delivery) {
	k.ch.mu.Lock()
	k.deliverLocked(d)
	k.ch.mu.Unlock()
}

// deliverPosted handles ActionDeliver. A delivery whose id is not above
// the last one posted to k was sent already (a queue's new leader resends
// what the old one sent) and is not shown to the client again, as
// rabbit_fifo_client drops message ids at or below its last_msg_id.
func (k *consumer) deliverPosted(d queue.Delivery) {
	k.ch.mu.Lock()
	if !k.posted || d.ID > k.lastID {
		k.posted, k.lastID = true, d.ID
		k.deliverLocked(d)
	}
	k.ch.mu.Unlock()
}

// deliverLocked takes d for k. The caller holds ch.mu.
func (k *consumer) deliverLocked(d queue.Delivery) {
	ch := k.ch
	switch {
	case ch.closed:
		ch.orphanLocked(k, d)
	case !k.ready:
		k.early = append(k.early, d)
		if len(k.early) >= earlyLimit {
			ch.pauseLocked()
		}
	default:
		ch.sendDeliveryLocked(k, d)
	}
}

// sendDeliveryLocked numbers d, records it as unacked unless k is no-ack,
// and appends basic.deliver. Past outLimit of pending output the
// connection withholds credit: the channel's limiter pauses its queues
// until the writer drains. The caller holds ch.mu.
func (ch *channel) sendDeliveryLocked(k *consumer, d queue.Delivery) {
	c := ch.c
	ch.nextTag++
	tag := ch.nextTag
	if !k.noAck {
		ch.unacked.push(unackedEntry{tag: tag, id: d.ID, s: k.s, k: k, at: c.srv.now(), credit: true})
	}
	k.s.countDelivery(false, k.noAck, d.Redelivered)
	m := d.Message
	dm := &ch.deliver
	dm.ConsumerTag = k.tag
	dm.DeliveryTag = tag
	dm.Redelivered = d.Redelivered
	dm.Exchange = m.Exchange
	dm.RoutingKey = m.RoutingKey
	o := c.lockOut()
	if !o.closed {
		o.buf = c.appendContent(o.buf, ch.id, dm, &m.Props, m.RawProps, m.Body)
		if len(o.buf) >= outLimit && !ch.outPaused {
			ch.outPaused = true
			ch.lim.Pause()
			o.paused = append(o.paused, ch)
		}
	}
	c.unlockOut()
}

// pauseLocked pauses the channel's limiter until the writer next drains
// (conn.flush unpauses it). The caller holds ch.mu.
func (ch *channel) pauseLocked() {
	if ch.outPaused {
		return
	}
	ch.outPaused = true
	ch.lim.Pause()
	o := ch.c.lockOut()
	o.paused = append(o.paused, ch)
	ch.c.outMu.Unlock()
}

// orphanLocked keeps a delivery that reached the channel after it closed,
// for release to requeue. The caller holds ch.mu.
func (ch *channel) orphanLocked(k *consumer, d queue.Delivery) {
	// A closed channel takes nothing more: its queues stay paused.
	ch.lim.Pause()
	if !k.noAck {
		ch.orphans = append(ch.orphans, unackedEntry{id: d.ID, s: k.s, k: k})
	}
}

// startConsumer handles ActionConsumeOK: it sends basic.consume-ok
// (unless no-wait), marks k ready and sends what was delivered to it
// meanwhile. A channel closed meanwhile sends nothing.
func (ch *channel) startConsumer(k *consumer) {
	if k.timeout > 0 {
		ch.c.setTick(tickFor(k.timeout))
	}
	ch.mu.Lock()
	if !k.noWait && !ch.closed {
		ch.c.sendMethod(ch.id, &protocol.BasicConsumeOk{ConsumerTag: k.tag})
	}
	k.ready = true
	for _, d := range k.early {
		if ch.closed {
			ch.orphanLocked(k, d)
		} else {
			ch.sendDeliveryLocked(k, d)
		}
	}
	k.early = nil
	ch.mu.Unlock()
}

// dropRefused forgets k, whose subscription the queue refused
// (ActionRefused), so that its tag may be used again.
func (ch *channel) dropRefused(k *consumer) {
	ch.mu.Lock()
	if ch.consumers[k.tag] == k {
		delete(ch.consumers, k.tag)
	}
	ch.mu.Unlock()
}

// Cancelled implements queue.Consumer: the queue ended the subscription
// (it was deleted). The client hears basic.cancel if it said it can.
func (k *consumer) Cancelled() {
	ch := k.ch
	ch.mu.Lock()
	gone := ch.consumers[k.tag] != k
	if !gone {
		delete(ch.consumers, k.tag)
	}
	closed := ch.closed
	ch.mu.Unlock()
	if gone || closed || !ch.c.cancelNotify {
		return
	}
	ch.c.sendMethod(ch.id, &protocol.BasicCancel{ConsumerTag: k.tag, NoWait: true})
}

// checkGlobalQoS refuses a consume from queue name, of type typ ("" is
// classic), on a channel with a channel-wide prefetch of global when the
// type lacks Capabilities.GlobalQoS, as RabbitMQ's quorum and stream
// queues refuse it.
func (s *Server) checkGlobalQoS(global uint16, typ, name, vhost string) error {
	if global == 0 {
		return nil
	}
	if typ == "" {
		typ = queue.TypeClassic
	}
	if t := s.types.Lookup(typ); t != nil && t.Capabilities().GlobalQoS {
		return nil
	}
	return protocol.NewError(protocol.NotImplemented, "queue '%s' in vhost '%s' does not support global qos", name, vhost)
}

// unpause ends the pause of the channel's limiter: the writer drained, or
// the consume the early deliveries waited for completed.
func (ch *channel) unpause() {
	ch.mu.Lock()
	was := ch.outPaused && !ch.closed
	ch.outPaused = false
	ch.mu.Unlock()
	if was {
		ch.lim.Unpause()
	}
}

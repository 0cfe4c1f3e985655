package broker

import (
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// consumer is a basic.consume subscription: the queue.Consumer a queue
// delivers to. Its mutable fields are guarded by its channel's mu.
type consumer struct {
	ch      *channel
	q       queue.Queue
	qname   string
	tag     string
	noAck   bool
	timeout time.Duration // consumer timeout; 0 for none

	ready      bool   // basic.consume-ok has been sent
	prefetch   uint16 // per-consumer limit (basic.qos global=false)
	unacked    int    // unacked deliveries of this consumer
	starved    bool   // refused a delivery for lack of credit
	outBlocked bool   // waiting in conn.out.blocked
}

// Deliver implements queue.Consumer. It runs under the queue's lock and
// takes the channel's lock, then the connection's output lock.
func (k *consumer) Deliver(d queue.Delivery) bool {
	ch := k.ch
	ch.mu.Lock()
	if ch.closed || !k.ready || !ch.flow {
		k.starved = true
		ch.mu.Unlock()
		return false
	}
	// The channel-wide limit holds back no-ack consumers too, as
	// RabbitMQ's limiter does; a per-consumer limit only counts acks.
	if (!k.noAck && k.prefetch != 0 && k.unacked >= int(k.prefetch)) ||
		(ch.prefetch != 0 && ch.credited >= int(ch.prefetch)) {
		k.starved = true
		ch.mu.Unlock()
		return false
	}
	c := ch.c
	o := c.lockOut()
	if o.closed {
		c.unlockOut()
		ch.mu.Unlock()
		return false
	}
	if len(o.buf) >= outLimit {
		if !k.outBlocked {
			k.outBlocked = true
			o.blocked = append(o.blocked, k)
		}
		c.unlockOut()
		ch.mu.Unlock()
		return false
	}
	k.outBlocked = false
	ch.nextTag++
	tag := ch.nextTag
	if !k.noAck {
		ch.unacked.push(unackedEntry{tag: tag, id: d.ID, q: k.q, k: k, at: c.srv.now(), credit: true})
		k.unacked++
		ch.credited++
	}
	m := d.Message
	dm := &ch.deliver
	dm.ConsumerTag = k.tag
	dm.DeliveryTag = tag
	dm.Redelivered = d.Redelivered
	dm.Exchange = m.Exchange
	dm.RoutingKey = m.RoutingKey
	o.buf = c.appendContent(o.buf, ch.id, dm, &m.Props, m.RawProps, m.Body)
	c.unlockOut()
	ch.mu.Unlock()
	return true
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

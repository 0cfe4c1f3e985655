package perf

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// consumer consumes one queue on its own connection.
type consumer struct {
	r          *run
	id         int
	queue      int
	c          *client
	tag        string
	deliveries <-chan amqp.Delivery
	done       chan struct{}
}

// newConsumer connects consumer id to queue q and issues basic.consume.
func (r *run) newConsumer(id, q int) (*consumer, error) {
	uri := r.cfg.consumeURI(id)
	name := fmt.Sprintf("consumer %d", id)
	c, err := r.dial(uri, name)
	if err != nil {
		return nil, err
	}
	if !r.cfg.AutoAck && r.cfg.Prefetch > 0 {
		if err := c.ch.Qos(r.cfg.Prefetch, 0, false); err != nil {
			c.close()
			return nil, fmt.Errorf("%s: basic.qos: %w", name, err)
		}
	}
	tag := fmt.Sprintf("warren-perf-%d", id)
	d, err := c.ch.Consume(r.topo.queues[q], tag, r.cfg.AutoAck, false, false, false, nil)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("%s: basic.consume on %q: %w", name, r.topo.queues[q], err)
	}
	return &consumer{r: r, id: id, queue: q, c: c, tag: tag, deliveries: d, done: make(chan struct{})}, nil
}

// run handles deliveries until the consumer is cancelled or its channel
// closes, then acknowledges whatever a multi-ack batch still holds.
func (c *consumer) run() {
	defer close(c.done)
	r := c.r
	every := max(r.cfg.MultiAckEvery, 1)
	pending := 0
	var last uint64
	for d := range c.deliveries {
		now := r.now()
		r.consumed.Add(1)
		if d.Redelivered {
			r.redelivered.Add(1)
		}
		s, err := ReadStamp(d.Body)
		if err != nil {
			r.anomalies.add("bad-body", 1, fmt.Sprintf("queue %s: %d-byte body", r.topo.queues[c.queue], len(d.Body)))
		} else {
			r.e2eLat.Record(now - timeOf(s))
			dup, unexpected := r.ledger.receive(c.queue, s)
			if dup {
				r.anomalies.add("duplicate", 1, fmt.Sprintf("queue %s: producer %d seq %d", r.topo.queues[c.queue], s.Producer, s.Seq))
			} else if unexpected {
				r.anomalies.add("unexpected", 1, fmt.Sprintf("queue %s: producer %d seq %d", r.topo.queues[c.queue], s.Producer, s.Seq))
			}
		}
		if r.cfg.AutoAck {
			continue
		}
		pending++
		last = d.DeliveryTag
		if pending >= every {
			if err := c.c.ch.Ack(last, every > 1); err != nil && !r.closing.Load() {
				r.anomalies.add("ack-error", 1, err.Error())
			}
			pending = 0
		}
	}
	if pending > 0 {
		// The channel may already be gone; then the broker requeues, which
		// is what an unacknowledged message should do anyway.
		_ = c.c.ch.Ack(last, true)
	}
}

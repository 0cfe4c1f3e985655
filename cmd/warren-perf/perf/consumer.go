package perf

import (
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// consumer consumes one queue, on one connection at a time: with
// Config.Reconnect a lost connection is replaced by one to the next URL
// of the consumer's list, where it consumes again (the broker redelivers
// what the lost one left unacknowledged).
type consumer struct {
	r     *run
	id    int
	queue int
	tag   string
	urls  urlRing
	gaps  gapTracker
	done  chan struct{}

	mu        sync.Mutex // guards c and cancelled against the run stopping the consumer
	c         *client
	cancelled bool
}

// newConsumer connects consumer id to queue q and issues basic.consume.
func (r *run) newConsumer(id, q int) (*consumer, error) {
	c := &consumer{r: r, id: id, queue: q, tag: fmt.Sprintf("warren-perf-%d", id),
		urls: newURLRing(r.cfg.consumeList(), id), done: make(chan struct{})}
	cl, d, err := c.connect(c.urls.current())
	if err != nil {
		return nil, err
	}
	c.c = cl
	c.gaps.connected(RedactURI(c.urls.current()))
	go c.run(d)
	return c, nil
}

// connect opens a connection, sets the prefetch and starts consuming.
func (c *consumer) connect(uri string) (*client, <-chan amqp.Delivery, error) {
	r := c.r
	name := fmt.Sprintf("consumer %d", c.id)
	cl, err := r.open(uri, name, r.cfg.Reconnect)
	if err != nil {
		return nil, nil, err
	}
	if !r.cfg.AutoAck && r.cfg.Prefetch > 0 {
		if err := cl.ch.Qos(r.cfg.Prefetch, 0, false); err != nil {
			cl.close()
			return nil, nil, fmt.Errorf("%s: basic.qos: %w", name, err)
		}
	}
	d, err := cl.ch.Consume(r.topo.queues[c.queue], c.tag, r.cfg.AutoAck, false, false, false, nil)
	if err != nil {
		cl.close()
		return nil, nil, fmt.Errorf("%s: basic.consume on %q: %w", name, r.topo.queues[c.queue], err)
	}
	return cl, d, nil
}

// cancel stops the consumer: basic.cancel, after which its deliveries end.
func (c *consumer) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelled = true
	_ = c.c.ch.Cancel(c.tag, false)
}

// close closes the consumer's connection.
func (c *consumer) close() {
	c.mu.Lock()
	c.cancelled = true
	cl := c.c
	c.mu.Unlock()
	cl.close()
}

// run consumes until the consumer is cancelled or, without Reconnect, its
// channel closes; with Reconnect a lost connection is replaced.
func (c *consumer) run(d <-chan amqp.Delivery) {
	defer close(c.done)
	r := c.r
	for {
		c.consume(d)
		c.mu.Lock()
		stop := c.cancelled
		old := c.c
		c.mu.Unlock()
		if stop || !r.cfg.Reconnect || r.closing.Load() {
			return
		}
		c.gaps.connectionLost(r.now())
		old.close()
		r.anomalies.add("connection-lost", 1, fmt.Sprintf("consumer %d on %s", c.id, RedactURI(c.urls.current())))
		type session struct {
			c *client
			d <-chan amqp.Delivery
		}
		s, uri, ok := reconnectLoop(r, fmt.Sprintf("consumer %d", c.id), &c.urls, func(uri string) (session, error) {
			cl, d, err := c.connect(uri)
			return session{cl, d}, err
		})
		if !ok {
			return
		}
		c.mu.Lock()
		if c.cancelled {
			c.mu.Unlock()
			s.c.close()
			return
		}
		c.c = s.c
		c.mu.Unlock()
		r.reconnects.Add(1)
		c.gaps.reconnected(r.now(), RedactURI(uri))
		d = s.d
	}
}

// consume handles deliveries until they end, then acknowledges whatever
// a multi-ack batch still holds.
func (c *consumer) consume(d <-chan amqp.Delivery) {
	r := c.r
	c.mu.Lock()
	ch := c.c.ch
	c.mu.Unlock()
	every := max(r.cfg.MultiAckEvery, 1)
	pending := 0
	var last uint64
	for m := range d {
		now := r.now()
		c.gaps.event(now)
		r.consumed.Add(1)
		if m.Redelivered {
			r.redelivered.Add(1)
		}
		c.record(now, m.Body)
		if r.cfg.AutoAck {
			continue
		}
		pending++
		last = m.DeliveryTag
		if pending >= every {
			if err := ch.Ack(last, every > 1); err != nil && !r.closing.Load() && !r.cfg.Reconnect {
				r.anomalies.add("ack-error", 1, err.Error())
			}
			pending = 0
		}
	}
	if pending > 0 {
		// The channel may already be gone; then the broker requeues, which
		// is what an unacknowledged message should do anyway.
		_ = ch.Ack(last, true)
	}
}

// record enters one delivery in the ledger.
func (c *consumer) record(now time.Duration, body []byte) {
	r := c.r
	s, err := ReadStamp(body)
	if err != nil {
		r.anomalies.add("bad-body", 1, fmt.Sprintf("queue %s: %d-byte body", r.topo.queues[c.queue], len(body)))
		return
	}
	r.e2eLat.Record(now - timeOf(s))
	dup, unexpected := r.ledger.receive(c.queue, s)
	if dup {
		r.anomalies.add("duplicate", 1, fmt.Sprintf("queue %s: producer %d seq %d", r.topo.queues[c.queue], s.Producer, s.Seq))
	} else if unexpected {
		r.anomalies.add("unexpected", 1, fmt.Sprintf("queue %s: producer %d seq %d", r.topo.queues[c.queue], s.Producer, s.Seq))
	}
}

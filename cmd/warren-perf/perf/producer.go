package perf

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// producer publishes one producer's messages on its own connection.
type producer struct {
	r   *run
	id  int
	c   *client
	led *producerLedger

	confirms chan amqp.Confirmation // nil without publisher confirms
	window   chan struct{}          // one token per unconfirmed message
	sentAt   []atomic.Int64         // send time by seq modulo the window
	dead     chan struct{}          // closed when the confirm stream ends
}

// newProducer connects producer id and puts its channel in confirm mode if
// the scenario asks for confirms.
func (r *run) newProducer(id int) (*producer, error) {
	uri := r.cfg.publishURI(id)
	c, err := r.dial(uri, fmt.Sprintf("producer %d", id))
	if err != nil {
		return nil, err
	}
	p := &producer{r: r, id: id, c: c, led: r.ledger.producers[id], dead: make(chan struct{})}
	if w := r.cfg.ConfirmWindow; w > 0 {
		if err := c.ch.Confirm(false); err != nil {
			c.close()
			return nil, fmt.Errorf("producer %d: confirm.select: %w", id, err)
		}
		p.confirms = c.ch.NotifyPublish(make(chan amqp.Confirmation, w+1))
		p.window = make(chan struct{}, w)
		p.sentAt = make([]atomic.Int64, w)
	}
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 64))
	r.goes.Add(1)
	go func() {
		defer r.goes.Done()
		for ret := range returns {
			r.returned.Add(1)
			if s, err := ReadStamp(ret.Body); err == nil && int(s.Producer) < len(r.ledger.producers) {
				r.ledger.exclude(int(s.Producer), s.Seq)
				if len(r.ledger.routesTo(int(s.Producer), s.Seq)) > 0 {
					// The bindings route this key to a queue: the broker should not have returned it.
					r.anomalies.add("wrongly-returned", 1, fmt.Sprintf("routing key %q", ret.RoutingKey))
				}
			}
			r.anomalies.add("return", 1, fmt.Sprintf("%d %s (routing key %q)", ret.ReplyCode, ret.ReplyText, ret.RoutingKey))
		}
	}()
	if p.confirms != nil {
		r.goes.Add(1)
		go p.readConfirms()
	}
	return p, nil
}

// readConfirms records each confirm's latency and frees its window slot.
// The library delivers confirms in delivery-tag order, one per message.
func (p *producer) readConfirms() {
	defer p.r.goes.Done()
	defer close(p.dead)
	for c := range p.confirms {
		seq := c.DeliveryTag - 1
		sent := p.sentAt[seq%uint64(len(p.sentAt))].Load()
		p.r.confirmLat.Record(p.r.now() - time.Duration(sent))
		if c.Ack {
			p.r.confirmed.Add(1)
		} else {
			p.r.nacked.Add(1)
			p.r.ledger.exclude(p.id, seq)
			p.r.anomalies.add("nack", 1, fmt.Sprintf("producer %d seq %d", p.id, seq))
		}
		select {
		case <-p.window:
		default:
		}
	}
}

// run publishes until ctx ends or the count is reached.
func (p *producer) run(ctx context.Context, start time.Time) {
	cfg := &p.r.cfg
	topo := p.r.topo
	body := make([]byte, cfg.Size)
	for i := StampSize; i < len(body); i++ {
		body[i] = byte('a' + i%26)
	}
	mode := amqp.Transient
	if cfg.Persistent {
		mode = amqp.Persistent
	}
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleep := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	for seq := uint64(0); cfg.Count == 0 || seq < uint64(cfg.Count); seq++ {
		if ctx.Err() != nil || seq > maxSeq {
			return
		}
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(seq) * interval)); d > 0 && !sleep(d) {
				return
			}
		}
		if p.window != nil {
			select {
			case p.window <- struct{}{}:
			case <-ctx.Done():
				return
			case <-p.dead:
				return
			}
		}
		now := p.r.now()
		Stamp{SentNanos: int64(now), Producer: uint16(p.id), Seq: seq}.Put(body)
		if p.sentAt != nil {
			p.sentAt[seq%uint64(len(p.sentAt))].Store(int64(now))
		}
		key := topo.keys[topo.keyIndex(p.id, seq)]
		msg := amqp.Publishing{Body: body, DeliveryMode: mode}
		if topo.exchangeType == ExchangeHeaders && topo.exchange != "" {
			msg.Headers = amqp.Table{headerKey: key}
		}
		// Count before sending, so a consumer never sees a seq the ledger
		// does not know yet.
		routes := uint64(len(topo.routes[topo.keyIndex(p.id, seq)]))
		if routes == 0 {
			p.r.unroutable.Add(1)
		}
		p.led.routed.Add(routes)
		p.led.published.Store(seq + 1)
		p.r.published.Add(1)
		if err := p.c.ch.PublishWithContext(context.Background(), topo.exchange, key, cfg.Mandatory, false, msg); err != nil {
			p.led.published.Store(seq)
			p.led.routed.Add(-routes)
			if routes == 0 {
				p.r.unroutable.Add(^uint64(0))
			}
			p.r.published.Add(^uint64(0))
			if !p.r.closing.Load() {
				p.r.anomalies.add("publish-error", 1, fmt.Sprintf("producer %d: %v", p.id, err))
			}
			return
		}
		if n := uint64(cfg.MaxInFlight); n > 0 && !p.awaitDeliveries(ctx, n) {
			return
		}
	}
}

// awaitDeliveries waits until fewer than n of the producer's deliveries
// are outstanding. It gives up, as an anomaly, when none arrives for the
// drain timeout.
func (p *producer) awaitDeliveries(ctx context.Context, n uint64) bool {
	stall := time.NewTimer(p.r.cfg.DrainTimeout)
	defer stall.Stop()
	for p.led.routed.Load() >= p.led.received.Load()+n {
		select {
		case <-p.led.notify:
			stall.Reset(p.r.cfg.DrainTimeout)
		case <-ctx.Done():
			return false
		case <-stall.C:
			p.r.anomalies.add("in-flight-timeout", 1, fmt.Sprintf("producer %d: no delivery within %v", p.id, p.r.cfg.DrainTimeout))
			return false
		}
	}
	return true
}

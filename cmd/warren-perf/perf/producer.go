package perf

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// producer publishes one producer's messages, on one connection at a
// time: with Config.Reconnect a lost connection is replaced by one to the
// next URL of the producer's list, and the messages the lost one left
// unconfirmed are published again.
type producer struct {
	r    *run
	id   int
	led  *producerLedger
	urls urlRing
	gaps gapTracker
	pub  *publisher // used by the producer's goroutine only

	mu     sync.Mutex // guards conn and closed against the run closing the producer
	conn   *pubConn
	closed bool
}

// pubConn is one connection of a producer with its confirm stream.
type pubConn struct {
	c        *client
	confirms chan amqp.Confirmation // nil without publisher confirms
	window   chan struct{}          // one token per unconfirmed message
	dead     chan struct{}          // closed when the confirm stream ends
	tags     uint64                 // confirms read so far

	mu      sync.Mutex
	pending pendingRing // published and not yet confirmed, in delivery-tag order
}

// errConnLost says that a producer's connection or channel went away;
// errSendFailed that it went while a message was being sent, which is then
// counted as published and in doubt.
var (
	errConnLost   = errors.New("connection lost")
	errSendFailed = fmt.Errorf("publish failed: %w", errConnLost)
)

// newProducer connects producer id and puts its channel in confirm mode if
// the scenario asks for confirms.
func (r *run) newProducer(id int) (*producer, error) {
	p := &producer{r: r, id: id, led: r.ledger.producers[id], urls: newURLRing(r.cfg.publishList(), id)}
	p.pub = newPublisher(p)
	pc, err := p.connect(p.urls.current())
	if err != nil {
		return nil, err
	}
	p.conn = pc
	p.gaps.connected(RedactURI(p.urls.current()))
	return p, nil
}

// connect opens one connection of the producer and starts reading its
// confirms and returns.
func (p *producer) connect(uri string) (*pubConn, error) {
	r := p.r
	c, err := r.open(uri, fmt.Sprintf("producer %d", p.id), r.cfg.Reconnect)
	if err != nil {
		return nil, err
	}
	pc := &pubConn{c: c, dead: make(chan struct{})}
	if w := r.cfg.ConfirmWindow; w > 0 {
		if err := c.ch.Confirm(false); err != nil {
			c.close()
			return nil, fmt.Errorf("producer %d: confirm.select: %w", p.id, err)
		}
		pc.confirms = c.ch.NotifyPublish(make(chan amqp.Confirmation, w+1))
		pc.window = make(chan struct{}, w)
		pc.pending = newPendingRing(w)
	}
	returns := c.ch.NotifyReturn(make(chan amqp.Return, 64))
	r.goes.Add(1)
	go func() {
		defer r.goes.Done()
		for ret := range returns {
			p.handleReturn(ret)
		}
	}()
	if pc.confirms != nil {
		r.goes.Add(1)
		go p.readConfirms(pc)
	}
	return pc, nil
}

// handleReturn accounts for a message the broker returned.
func (p *producer) handleReturn(ret amqp.Return) {
	r := p.r
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

// readConfirms records each confirm's latency and frees its window slot.
// The library delivers confirms in delivery-tag order, one per message,
// so each one settles the oldest pending message.
func (p *producer) readConfirms(pc *pubConn) {
	r := p.r
	defer r.goes.Done()
	defer close(pc.dead)
	for c := range pc.confirms {
		now := r.now()
		pc.tags++
		pc.mu.Lock()
		m, ok := pc.pending.popFront()
		pc.mu.Unlock()
		if !ok || c.DeliveryTag != pc.tags {
			r.anomalies.add("confirm-out-of-order", 1, fmt.Sprintf("producer %d: delivery tag %d, want %d", p.id, c.DeliveryTag, pc.tags))
			continue
		}
		r.confirmLat.Record(now - m.sent)
		p.gaps.event(now)
		if c.Ack {
			p.gaps.ack(now)
			r.confirmed.Add(1)
			if r.ledger.confirmedOnly {
				p.led.ack(m.seq)
			}
		} else {
			r.nacked.Add(1)
			p.gaps.nack(now)
			r.ledger.exclude(p.id, m.seq)
			r.anomalies.add("nack", 1, fmt.Sprintf("producer %d seq %d", p.id, m.seq))
		}
		select {
		case <-pc.window:
		default:
		}
	}
}

// current returns the producer's connection.
func (p *producer) current() *pubConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn
}

// close closes the producer's connection; a reconnection under way
// closes its new one.
func (p *producer) close() {
	p.mu.Lock()
	p.closed = true
	pc := p.conn
	p.mu.Unlock()
	pc.c.close()
}

// run publishes until ctx ends or the count is reached. With Reconnect it
// then stays until every message it published is confirmed or nacked,
// reconnecting as often as it must, or until the run stops it.
func (p *producer) run(ctx context.Context, start time.Time) {
	cfg := &p.r.cfg
	p.pub.start = start
	for seq := uint64(0); ; {
		if ctx.Err() != nil || (cfg.Count > 0 && seq >= uint64(cfg.Count)) || seq > maxSeq {
			if cfg.Reconnect {
				p.settle()
			}
			return
		}
		if !p.pub.pace(ctx, seq) {
			continue // the window ended: settle above
		}
		m := pending{seq: seq}
		err := p.pub.publish(ctx, &m, true)
		if err == nil || errors.Is(err, errSendFailed) {
			seq++ // published, or in doubt
		}
		if err != nil {
			switch {
			case errors.Is(err, errConnLost) && cfg.Reconnect:
				var inDoubt []pending
				if errors.Is(err, errSendFailed) {
					inDoubt = append(inDoubt, m)
				}
				if !p.recover(inDoubt) {
					return
				}
			case ctx.Err() == nil:
				return
			}
			continue
		}
		if n := uint64(cfg.MaxInFlight); n > 0 {
			err := p.awaitDeliveries(ctx, n)
			switch {
			case errors.Is(err, errConnLost) && cfg.Reconnect:
				if !p.recover(nil) {
					return
				}
			case err != nil && ctx.Err() == nil:
				return
			}
		}
	}
}

// settle waits, after the last new message, until every message is
// confirmed or nacked, recovering from lost connections.
func (p *producer) settle() {
	for {
		err := p.current().awaitSettled(p.r.stopCtx)
		if !errors.Is(err, errConnLost) || !p.recover(nil) {
			return
		}
	}
}

// awaitSettled takes every window slot, which it can only once no message
// is unconfirmed. It returns errConnLost if the confirm stream ends first.
func (pc *pubConn) awaitSettled(ctx context.Context) error {
	for range cap(pc.window) {
		select {
		case pc.window <- struct{}{}:
		case <-pc.dead:
			return errConnLost
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// recover replaces a lost connection and publishes again what it left
// unconfirmed, then inDoubt (a message whose send failed), until all of
// them are sent on a connection that stays. It reports false when the
// producer must stop: the run is stopping, or no URL answers.
func (p *producer) recover(inDoubt []pending) bool {
	resend := inDoubt
again:
	for {
		more, ok := p.reconnect()
		if !ok {
			return false
		}
		resend = append(more, resend...)
		for len(resend) > 0 {
			switch err := p.pub.publish(p.r.stopCtx, &resend[0], false); {
			case errors.Is(err, errConnLost):
				continue again
			case err != nil:
				return false
			}
			resend = resend[1:]
			p.r.resent.Add(1)
			p.gaps.resend(1)
		}
		return true
	}
}

// reconnect replaces a lost connection with one to the next URL that
// answers, trying each in turn until one does, the run stops, or the
// drain timeout passes without one. It returns the messages the lost
// connection left unconfirmed, oldest first, to be published again.
func (p *producer) reconnect() ([]pending, bool) {
	r := p.r
	p.gaps.connectionLost(r.now())
	old := p.current()
	old.c.close()
	<-old.dead // no confirm can come any more: what is pending is in doubt
	old.mu.Lock()
	resend := old.pending.drain()
	old.mu.Unlock()
	r.anomalies.add("connection-lost", 1, fmt.Sprintf("producer %d on %s: %d message(s) unconfirmed", p.id, RedactURI(p.urls.current()), len(resend)))
	pc, uri, ok := reconnectLoop(r, fmt.Sprintf("producer %d", p.id), &p.urls, p.connect)
	if !ok {
		return nil, false
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pc.c.close()
		return nil, false
	}
	p.conn = pc
	p.mu.Unlock()
	r.reconnects.Add(1)
	p.gaps.reconnected(r.now(), RedactURI(uri))
	return resend, true
}

// awaitDeliveries waits until fewer than n of the producer's deliveries
// are outstanding. It gives up, as an anomaly, when none arrives for the
// drain timeout, and returns errConnLost when the producer's connection
// goes (with Reconnect its unconfirmed messages must be sent again).
func (p *producer) awaitDeliveries(ctx context.Context, n uint64) error {
	stall := time.NewTimer(p.r.cfg.DrainTimeout)
	defer stall.Stop()
	dead := p.current().dead
	for p.led.routed.Load() >= p.led.received.Load()+n {
		select {
		case <-p.led.notify:
			stall.Reset(p.r.cfg.DrainTimeout)
		case <-dead:
			return errConnLost
		case <-ctx.Done():
			return ctx.Err()
		case <-stall.C:
			p.r.anomalies.add("in-flight-timeout", 1, fmt.Sprintf("producer %d: no delivery within %v", p.id, p.r.cfg.DrainTimeout))
			return errors.New("in-flight timeout")
		}
	}
	return nil
}

package perf

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// pending is a message published and not yet confirmed.
type pending struct {
	seq  uint64
	sent time.Duration // its first send, on the run's clock: the stamp's time
}

// pendingRing is a FIFO of pending messages, as many as the confirm window.
type pendingRing struct {
	buf     []pending
	head, n int
}

// newPendingRing returns an empty ring for size messages.
func newPendingRing(size int) pendingRing { return pendingRing{buf: make([]pending, size)} }

// push appends m. The confirm window guarantees room: a full ring keeps
// what it holds and drops m.
func (q *pendingRing) push(m pending) {
	if q.n == len(q.buf) {
		return
	}
	q.buf[(q.head+q.n)%len(q.buf)] = m
	q.n++
}

// popFront removes and returns the oldest message.
func (q *pendingRing) popFront() (pending, bool) {
	if q.n == 0 {
		return pending{}, false
	}
	m := q.buf[q.head]
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return m, true
}

// popBack removes the newest message.
func (q *pendingRing) popBack() {
	if q.n > 0 {
		q.n--
	}
}

// drain removes and returns every message, oldest first.
func (q *pendingRing) drain() []pending {
	out := make([]pending, 0, q.n)
	for {
		m, ok := q.popFront()
		if !ok {
			return out
		}
		out = append(out, m)
	}
}

// publisher builds and sends one producer's messages, on whichever
// connection the producer has. Only the producer's goroutine uses it.
type publisher struct {
	p        *producer
	body     []byte
	mode     uint8
	interval time.Duration // between messages at the configured rate
	start    time.Time     // the window's start, for the rate
	timer    *time.Timer
}

// newPublisher prepares the body and the pacing of p's messages.
func newPublisher(p *producer) *publisher {
	cfg := &p.r.cfg
	pub := &publisher{p: p, body: make([]byte, cfg.Size), mode: amqp.Transient, timer: time.NewTimer(time.Hour)}
	pub.timer.Stop()
	for i := StampSize; i < len(pub.body); i++ {
		pub.body[i] = byte('a' + i%26)
	}
	if cfg.Persistent {
		pub.mode = amqp.Persistent
	}
	if cfg.Rate > 0 {
		pub.interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	return pub
}

// pace waits until message seq is due at the configured rate; false when
// ctx ends first.
func (pub *publisher) pace(ctx context.Context, seq uint64) bool {
	if pub.interval == 0 {
		return true
	}
	d := time.Until(pub.start.Add(time.Duration(seq) * pub.interval))
	if d <= 0 {
		return true
	}
	pub.timer.Reset(d)
	select {
	case <-ctx.Done():
		pub.timer.Stop()
		return false
	case <-pub.timer.C:
		return true
	}
}

// publish sends m on the producer's connection once the confirm window
// has room. A fresh message is stamped with the time it is sent and
// counted as published; a message sent again keeps its stamp. It returns
// errConnLost when the connection went before the message was sent, and
// errSendFailed when the send failed: then, with Reconnect, the message
// stays counted, in doubt; without, it is uncounted and the failure is an
// anomaly.
func (pub *publisher) publish(ctx context.Context, m *pending, fresh bool) error {
	p := pub.p
	r := p.r
	pc := p.current()
	if pc.window != nil {
		select {
		case pc.window <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-pc.dead:
			return errConnLost
		}
	}
	if fresh {
		m.sent = r.now()
	}
	Stamp{SentNanos: int64(m.sent), Producer: uint16(p.id), Seq: m.seq}.Put(pub.body)
	topo := r.topo
	key := topo.keys[topo.keyIndex(p.id, m.seq)]
	msg := amqp.Publishing{Body: pub.body, DeliveryMode: pub.mode}
	if topo.exchangeType == ExchangeHeaders && topo.exchange != "" {
		msg.Headers = amqp.Table{headerKey: key}
	}
	routes := uint64(len(topo.routes[topo.keyIndex(p.id, m.seq)]))
	if fresh {
		// Count before sending, so a consumer never sees a seq the ledger
		// does not know yet.
		if routes == 0 {
			r.unroutable.Add(1)
		}
		p.led.routed.Add(routes)
		p.led.published.Store(m.seq + 1)
		r.published.Add(1)
	}
	if pc.confirms != nil {
		pc.mu.Lock()
		pc.pending.push(*m)
		pc.mu.Unlock()
	}
	err := pc.c.ch.PublishWithContext(context.Background(), topo.exchange, key, r.cfg.Mandatory, false, msg)
	if err == nil {
		return nil
	}
	if pc.confirms != nil {
		// The library took back the delivery tag: no confirm will come.
		pc.mu.Lock()
		pc.pending.popBack()
		pc.mu.Unlock()
		select {
		case <-pc.window:
		default:
		}
	}
	if fresh && !r.cfg.Reconnect {
		p.led.published.Store(m.seq)
		p.led.routed.Add(-routes)
		if routes == 0 {
			r.unroutable.Add(^uint64(0))
		}
		r.published.Add(^uint64(0))
	}
	if !r.cfg.Reconnect && !r.closing.Load() {
		r.anomalies.add("publish-error", 1, fmt.Sprintf("producer %d: %v", p.id, err))
	}
	return fmt.Errorf("%w: %v", errSendFailed, err)
}

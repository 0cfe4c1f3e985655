package queuetest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/queue"
)

// Late wraps a queue type so that its queues answer as a queue on another
// node would: every session operation is carried out on the session's own
// goroutine, in order, after a random delay of up to MaxDelay, and what
// it produces (confirms, deliveries, consume-ok, get answers,
// cancellations, queue down) is posted to the session's owner, never
// returned or called. Each session numbers what it delivers itself, in
// increasing order, as rabbit_fifo numbers a consumer's messages. With
// Duplicate, the first delivery of each queue is posted a second time
// later, as a new leader resends what the old one sent.
type Late struct {
	Inner queue.Type
	// TypeName is the name the type registers as; empty means Inner's.
	TypeName string
	// MaxDelay bounds the delay before each operation; zero means 3ms.
	MaxDelay time.Duration
	// Duplicate posts each queue's first delivery twice.
	Duplicate bool

	dups atomic.Int64
}

var (
	_ queue.Type         = (*Late)(nil)
	_ queue.Session      = (*lateSession)(nil)
	_ queue.SessionOwner = (*lateSession)(nil)
)

// Duplicates returns how many duplicate deliveries the type has posted.
func (l *Late) Duplicates() int64 { return l.dups.Load() }

// Name implements queue.Type.
func (l *Late) Name() string {
	if l.TypeName != "" {
		return l.TypeName
	}
	return l.Inner.Name()
}

// Capabilities implements queue.Type: the inner type's.
func (l *Late) Capabilities() queue.Capabilities { return l.Inner.Capabilities() }

// Recover implements queue.Type.
func (l *Late) Recover(ctx context.Context, saved []queue.Ref) error {
	return l.Inner.Recover(ctx, saved)
}

// Close implements queue.Type.
func (l *Late) Close() error { return l.Inner.Close() }

// Declare implements queue.Type: a queue of the inner type, reached late.
func (l *Late) Declare(ctx context.Context, d queue.Declaration, h queue.Hooks) (queue.Queue, error) {
	if d.Args.Type != "" {
		d.Args.Type = l.Inner.Name() // registered under TypeName
	}
	q, err := l.Inner.Declare(ctx, d, h)
	if err != nil {
		return nil, err
	}
	return &lateQueue{Queue: q, l: l}, nil
}

func (l *Late) delay() time.Duration {
	d := l.MaxDelay
	if d == 0 {
		d = 3 * time.Millisecond
	}
	return rand.N(d + 1)
}

// lateQueue is a queue of the inner type whose sessions answer late; the
// operations on the queue as a whole are the inner queue's.
type lateQueue struct {
	queue.Queue
	l     *Late
	duped atomic.Bool
}

// NewSession implements queue.Queue.
func (q *lateQueue) NewSession(o queue.SessionOwner) queue.Session {
	s := &lateSession{q: q, owner: o, wake: make(chan struct{}, 1),
		out: make(map[uint64]uint64), cons: make(map[queue.Consumer]*lateConsumer)}
	s.inner = q.Queue.NewSession(s)
	go s.run()
	return s
}

// lateSession is a session whose operations run on its goroutine (run).
// It is the inner session's owner and its publishes' Confirmer too.
type lateSession struct {
	q     *lateQueue
	owner queue.SessionOwner
	inner queue.Session
	wake  chan struct{}

	mu       sync.Mutex
	ops      []func()
	closeReq bool // Close was called
	closed   bool // the close has run: deliveries go back to the queue
	stopped  bool // run ends once ops are done
	nextID   uint64
	out      map[uint64]uint64 // ids posted and not settled → inner ids
	cons     map[queue.Consumer]*lateConsumer
}

// lateConsumer is what the inner queue delivers to for an owner's consumer.
type lateConsumer struct {
	s         *lateSession
	outer     queue.Consumer
	noAck     bool
	cancelled bool // guarded by s.mu
}

// Deliver implements queue.Consumer; it runs under the inner queue's lock.
func (k *lateConsumer) Deliver(d queue.Delivery) {
	k.s.enqueue(func() { k.s.deliver(k, d) })
}

// Cancelled implements queue.Consumer.
func (k *lateConsumer) Cancelled() {
	k.s.enqueue(func() {
		k.s.owner.Post([]queue.Action{{Kind: queue.ActionCancelled, Consumer: k.outer}})
	})
}

// enqueue adds an operation for run; it never blocks.
func (s *lateSession) enqueue(f func()) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.ops = append(s.ops, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run carries out the operations in order, each after a random delay (the
// simulated distance to the queue), until the session is closed.
func (s *lateSession) run() {
	for {
		s.mu.Lock()
		if len(s.ops) == 0 {
			stopped := s.stopped
			s.mu.Unlock()
			if stopped {
				return
			}
			<-s.wake
			continue
		}
		f := s.ops[0]
		s.ops[0] = nil
		s.ops = s.ops[1:]
		s.mu.Unlock()
		time.Sleep(s.q.l.delay())
		f()
	}
}

// deliver posts d, renumbered, to the owner; a delivery to a consumer
// cancelled meanwhile, or after the close, goes back to the queue.
func (s *lateSession) deliver(k *lateConsumer, d queue.Delivery) {
	s.mu.Lock()
	if k.cancelled || s.closed {
		s.mu.Unlock()
		if !k.noAck {
			s.inner.Settle(queue.Requeue, []uint64{d.ID}, nil)
		}
		return
	}
	s.nextID++
	id := s.nextID
	if !k.noAck {
		s.out[id] = d.ID
	}
	s.mu.Unlock()
	d.ID = id
	a := []queue.Action{{Kind: queue.ActionDeliver, Consumer: k.outer, Delivery: d}}
	s.owner.Post(a)
	if s.q.l.Duplicate && s.q.duped.CompareAndSwap(false, true) {
		s.enqueue(func() {
			s.owner.Post(a)
			s.q.l.dups.Add(1)
		})
	}
}

// forward posts what the inner session returned or posted, its consumers
// replaced by the owner's.
func (s *lateSession) forward(acts []queue.Action) {
	for _, a := range acts {
		if k, ok := a.Consumer.(*lateConsumer); ok {
			if a.Kind == queue.ActionDeliver {
				s.deliver(k, a.Delivery)
				continue
			}
			a.Consumer = k.outer
		}
		s.owner.Post([]queue.Action{a})
	}
}

// Publisher implements queue.SessionOwner for the inner session.
func (s *lateSession) Publisher() *queue.Publisher { return s.owner.Publisher() }

// Post implements queue.SessionOwner for the inner session.
func (s *lateSession) Post(acts []queue.Action) {
	acts = append([]queue.Action(nil), acts...)
	s.enqueue(func() { s.forward(acts) })
}

// Confirmed implements queue.Confirmer for the inner queue's confirms.
func (s *lateSession) Confirmed(seq uint64, ok bool) {
	kind := queue.ActionSettled
	if !ok {
		kind = queue.ActionRejected
	}
	s.enqueue(func() { s.owner.Post([]queue.Action{{Kind: kind, Seq: seq}}) })
}

// Publish implements queue.Session.
func (s *lateSession) Publish(m *queue.Message, c queue.Confirm, out []queue.Action) []queue.Action {
	if c.To != nil {
		c.To = s
	}
	s.enqueue(func() { s.forward(s.inner.Publish(m, c, nil)) })
	return out
}

// Consume implements queue.Session. The subscription is made at once, so
// that a refusal is answered at once; consume-ok comes late.
func (s *lateSession) Consume(c queue.Consumer, o queue.ConsumeOptions, out []queue.Action) ([]queue.Action, error) {
	k := &lateConsumer{s: s, outer: c, noAck: o.NoAck}
	s.mu.Lock()
	s.cons[c] = k
	s.mu.Unlock()
	acts, err := s.inner.Consume(k, o, nil)
	if err != nil {
		s.mu.Lock()
		delete(s.cons, c)
		s.mu.Unlock()
		return out, err
	}
	acts = append([]queue.Action(nil), acts...)
	s.enqueue(func() { s.forward(acts) })
	return out, nil
}

// Cancel implements queue.Session. It takes effect at once: what the
// queue delivers to the consumer after it goes back to the queue.
func (s *lateSession) Cancel(c queue.Consumer, out []queue.Action) []queue.Action {
	s.mu.Lock()
	k := s.cons[c]
	delete(s.cons, c)
	if k != nil {
		k.cancelled = true
	}
	s.mu.Unlock()
	if k != nil {
		acts := append([]queue.Action(nil), s.inner.Cancel(k, nil)...)
		s.enqueue(func() { s.forward(acts) })
	}
	return out
}

// Get implements queue.Session.
func (s *lateSession) Get(noAck bool, out []queue.Action) []queue.Action {
	s.enqueue(func() {
		for _, a := range s.inner.Get(noAck, nil) {
			if a.Kind == queue.ActionGetOK {
				s.mu.Lock()
				s.nextID++
				if !noAck {
					s.out[s.nextID] = a.Delivery.ID
				}
				a.Delivery.ID = s.nextID
				s.mu.Unlock()
			}
			s.owner.Post([]queue.Action{a})
		}
	})
	return out
}

// Settle implements queue.Session.
func (s *lateSession) Settle(st queue.Settlement, ids []uint64, out []queue.Action) []queue.Action {
	ids = append([]uint64(nil), ids...)
	s.enqueue(func() {
		inner := ids[:0]
		s.mu.Lock()
		for _, id := range ids {
			if in, ok := s.out[id]; ok {
				delete(s.out, id)
				inner = append(inner, in)
			}
		}
		s.mu.Unlock()
		s.forward(s.inner.Settle(st, inner, nil))
	})
	return out
}

// Close implements queue.Session: once the operations before it are
// done, the inner session is closed (cancelling the consumers) and what
// was posted and never settled goes back to the queue.
func (s *lateSession) Close() {
	s.mu.Lock()
	if s.closeReq {
		s.mu.Unlock()
		return
	}
	s.closeReq = true
	s.mu.Unlock()
	s.enqueue(func() {
		s.mu.Lock()
		s.closed = true
		for _, k := range s.cons {
			k.cancelled = true
		}
		s.mu.Unlock()
		s.inner.Close()
		s.mu.Lock()
		ids := make([]uint64, 0, len(s.out))
		for _, in := range s.out {
			ids = append(ids, in)
		}
		clear(s.out)
		s.stopped = true
		s.mu.Unlock()
		if len(ids) > 0 {
			s.inner.Settle(queue.Requeue, ids, nil)
		}
	})
}

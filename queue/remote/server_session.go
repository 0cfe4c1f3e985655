package remote

import (
	"sync"

	"github.com/warrenmq/warren/queue"
)

// serverSession is the queue's side of a peer channel's session: it owns
// a real session with the local queue, is its SessionOwner and its
// publishes' Confirmer, and sends what the queue answers over the link.
// It numbers what it delivers itself, in increasing order, since the
// broker on the other side drops a delivery at or below the last it saw
// as a resend, and a classic queue's ids are not increasing (a requeued
// message keeps its id).
type serverSession struct {
	l     *serverLink
	sid   uint32
	pub   queue.Publisher
	inner queue.Session // nil when the queue was not found
	err   error         // the lookup's error when inner is nil

	mu     sync.Mutex // guards what follows; taken before the outbox's
	nextID uint64
	out    map[uint64]uint64 // ids sent and not settled → the queue's ids
	cons   map[uint32]*serverConsumer
	gets   []bool // the no-ack flags of the gets not answered yet, in order
}

// serverConsumer is what the local queue delivers to for a peer's
// consumer.
type serverConsumer struct {
	s     *serverSession
	cid   uint32
	noAck bool
}

// Deliver implements queue.Consumer. It runs under the queue's lock: it
// appends the delivery to the outbox and returns.
func (k *serverConsumer) Deliver(d queue.Delivery) {
	k.s.deliver(queue.ActionDeliver, k.cid, k.noAck, d, 0)
}

// Cancelled implements queue.Consumer.
func (k *serverConsumer) Cancelled() {
	k.s.mu.Lock()
	delete(k.s.cons, k.cid)
	k.s.mu.Unlock()
	k.s.send(wireAction{kind: queue.ActionCancelled, cid: k.cid})
}

// deliver renumbers d, remembers it unless noAck, and sends it.
func (s *serverSession) deliver(kind queue.ActionKind, cid uint32, noAck bool, d queue.Delivery, count uint32) {
	s.mu.Lock()
	s.nextID++
	if !noAck {
		s.out[s.nextID] = d.ID
	}
	d.ID = s.nextID
	if e := s.l.out.lock(); e != nil {
		e.action(s.sid, wireAction{kind: kind, cid: cid, delivery: d, count: count})
		s.l.out.unlock()
	}
	s.mu.Unlock()
}

// send sends an action that carries no delivery.
func (s *serverSession) send(a wireAction) {
	if e := s.l.out.lock(); e != nil {
		e.action(s.sid, a)
		s.l.out.unlock()
	}
}

// Publisher implements queue.SessionOwner: the peer channel's identity.
func (s *serverSession) Publisher() *queue.Publisher { return &s.pub }

// Post implements queue.SessionOwner: what the queue answers later goes
// over the link.
func (s *serverSession) Post(acts []queue.Action) { s.forward(acts) }

// Confirmed implements queue.Confirmer for the session's publishes; seq
// is the peer's confirm number.
func (s *serverSession) Confirmed(seq uint64, ok bool) {
	kind := queue.ActionSettled
	if !ok {
		kind = queue.ActionRejected
	}
	s.send(wireAction{kind: kind, seq: seq})
}

// forward sends what the queue returned or posted, its consumers named by
// id and its deliveries renumbered.
func (s *serverSession) forward(acts []queue.Action) {
	for i := range acts {
		a := &acts[i]
		var cid uint32
		noAck := false
		if k, ok := a.Consumer.(*serverConsumer); ok {
			cid, noAck = k.cid, k.noAck
		}
		switch a.Kind {
		case queue.ActionDeliver:
			s.deliver(a.Kind, cid, noAck, a.Delivery, 0)
		case queue.ActionGetOK:
			s.deliver(a.Kind, 0, s.answerGet(), a.Delivery, a.Count)
		case queue.ActionGetEmpty:
			s.answerGet()
			s.send(wireAction{kind: a.Kind})
		case queue.ActionCancelled, queue.ActionRefused:
			if cid != 0 {
				s.mu.Lock()
				delete(s.cons, cid)
				s.mu.Unlock()
			} else if a.Kind == queue.ActionRefused {
				s.answerGet()
			}
			s.send(wireAction{kind: a.Kind, cid: cid, err: a.Err})
		default:
			s.send(wireAction{kind: a.Kind, cid: cid, seq: a.Seq})
		}
	}
}

// answerGet takes the oldest get waiting for its answer and returns its
// no-ack flag.
func (s *serverSession) answerGet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.gets) == 0 {
		return false
	}
	noAck := s.gets[0]
	s.gets = s.gets[1:]
	return noAck
}

// handle carries out a session operation on the read loop.
func (s *serverSession) handle(f *frame) {
	if s.inner == nil {
		s.refuse(f)
		return
	}
	switch f.typ {
	case fPublish:
		c := queue.Confirm{From: &s.pub, Num: f.num}
		if f.flags&flagConfirm != 0 {
			c.To, c.Seq = s, f.seq
		}
		s.forward(s.inner.Publish(f.msg, c, nil))
	case fConsume:
		s.consume(f)
	case fCancel:
		s.mu.Lock()
		k := s.cons[f.cid]
		delete(s.cons, f.cid)
		s.mu.Unlock()
		if k != nil {
			s.forward(s.inner.Cancel(k, nil))
		}
	case fGet:
		noAck := f.flags != 0
		s.mu.Lock()
		s.gets = append(s.gets, noAck)
		s.mu.Unlock()
		s.forward(s.inner.Get(noAck, nil))
	case fSettle:
		s.settle(f.settle, f.ids)
	}
}

// refuse answers an operation on a session whose queue was not found.
func (s *serverSession) refuse(f *frame) {
	switch f.typ {
	case fPublish:
		if f.flags&flagConfirm != 0 {
			s.send(wireAction{kind: queue.ActionRejected, seq: f.seq})
		}
	case fConsume:
		s.send(wireAction{kind: queue.ActionRefused, cid: f.cid, err: s.err})
	case fGet:
		s.send(wireAction{kind: queue.ActionRefused, err: s.err})
	}
}

func (s *serverSession) consume(f *frame) {
	if f.cid == 0 {
		s.send(wireAction{kind: queue.ActionRefused, err: errMalformed})
		return
	}
	k := &serverConsumer{s: s, cid: f.cid, noAck: f.opts.NoAck}
	s.mu.Lock()
	s.cons[f.cid] = k
	s.mu.Unlock()
	acts, err := s.inner.Consume(k, f.opts, nil)
	if err != nil {
		s.mu.Lock()
		delete(s.cons, f.cid)
		s.mu.Unlock()
		s.send(wireAction{kind: queue.ActionRefused, cid: f.cid, err: err})
		return
	}
	s.forward(acts)
}

// settle maps the peer's ids back to the queue's and settles them; ids
// not sent, or settled already, are ignored.
func (s *serverSession) settle(st queue.Settlement, ids []uint64) {
	inner := ids[:0]
	s.mu.Lock()
	for _, id := range ids {
		if in, ok := s.out[id]; ok {
			delete(s.out, id)
			inner = append(inner, in)
		}
	}
	s.mu.Unlock()
	if len(inner) > 0 {
		s.forward(s.inner.Settle(st, inner, nil))
	}
}

// close closes the real session (its consumers are cancelled) and
// requeues what was sent and never settled, as a closing channel does.
func (s *serverSession) close() {
	if s.inner == nil {
		return
	}
	s.inner.Close()
	s.mu.Lock()
	ids := make([]uint64, 0, len(s.out))
	for _, in := range s.out {
		ids = append(ids, in)
	}
	clear(s.out)
	clear(s.cons)
	s.mu.Unlock()
	if len(ids) > 0 {
		s.inner.Settle(queue.Requeue, ids, nil)
	}
}

package remote

import (
	"sync"

	"github.com/warrenmq/warren/queue"
)

// proxySession is a channel's session with a queue on the peer. Its
// operations are sent over the link and return nothing at once, except
// what it decides alone (everything, once the session is down); what the
// queue answers arrives on the link's read loop and is posted to the
// owner.
type proxySession struct {
	q     *proxyQueue
	owner queue.SessionOwner
	lc    *linkConn // nil when down from the start
	sid   uint32

	mu          sync.Mutex // guards what follows; taken before the link's locks
	down        bool       // the link failed (the peer's queue answers for itself)
	closed      bool
	cons        map[uint32]*proxyConsumer // by consumer id
	ids         map[queue.Consumer]uint32
	nextCID     uint32
	unconfirmed map[uint64]struct{} // confirm numbers not answered yet
	gets        int                 // gets not answered yet
}

// proxyConsumer is a consumer the broker subscribed through a session.
//
// The channel's Limiter (its global prefetch, and the pause while its
// connection's output is backed up) cannot be asked by a queue on
// another node before each delivery, so the session asks it as each
// delivery arrives: one the Limiter refuses is parked here, unseen by the
// channel, until the Limiter resumes the consumer. The home queue is told
// a prefetch no larger than the global one, so that what is parked stays
// bounded.
type proxyConsumer struct {
	s      *proxySession
	c      queue.Consumer
	ok     bool // consume-ok arrived
	lim    *queue.Limiter
	noAck  bool
	parked []queue.Delivery // refused by lim, in order; guarded by s.mu
}

// Resume implements queue.Resumer: the Limiter lets deliveries through
// again, and the parked ones go to the channel while it takes them.
func (pc *proxyConsumer) Resume() {
	s := pc.s
	s.mu.Lock()
	var acts []queue.Action
	if !s.closed && s.cons[pc.cid()] == pc {
		acts = pc.release(nil)
	}
	s.mu.Unlock()
	if len(acts) > 0 {
		s.owner.Post(acts)
	}
}

// cid returns the consumer's id in its session; s.mu is held.
func (pc *proxyConsumer) cid() uint32 { return pc.s.ids[pc.c] }

// admit appends d to acts if the Limiter takes it now, else parks it;
// s.mu is held.
func (pc *proxyConsumer) admit(d queue.Delivery, acts []queue.Action) []queue.Action {
	if pc.lim == nil {
		return append(acts, queue.Action{Kind: queue.ActionDeliver, Consumer: pc.c, Delivery: d})
	}
	pc.parked = append(pc.parked, d)
	return pc.release(acts)
}

// release hands the channel the parked deliveries the Limiter takes, in
// order; s.mu is held.
func (pc *proxyConsumer) release(acts []queue.Action) []queue.Action {
	n := 0
	for n < len(pc.parked) && pc.lim.Take(!pc.noAck, pc) {
		acts = append(acts, queue.Action{Kind: queue.ActionDeliver, Consumer: pc.c, Delivery: pc.parked[n]})
		n++
	}
	pc.parked = append(pc.parked[:0], pc.parked[n:]...)
	return acts
}

// unpark returns the ids of the parked deliveries, which the channel
// never saw, and forgets them; s.mu is held.
func (pc *proxyConsumer) unpark() []uint64 {
	ids := make([]uint64, len(pc.parked))
	for i, d := range pc.parked {
		ids[i] = d.ID
	}
	pc.parked = nil
	return ids
}

// send appends one frame for the session, made by fill.
func (s *proxySession) send(t byte, fill func(e *encoder)) {
	if e := s.lc.out.lock(); e != nil {
		at := e.begin(t)
		e.u32(s.sid)
		fill(e)
		e.end(at)
		s.lc.out.unlock()
	}
}

// Publish implements queue.Session. A message larger than a frame is
// refused here, as is any publish once the session is down.
func (s *proxySession) Publish(m *queue.Message, c queue.Confirm, out []queue.Action) []queue.Action {
	s.mu.Lock()
	tooBig := len(m.Body)+len(m.RawProps)+len(m.Exchange)+len(m.RoutingKey)+1024 > s.q.l.cfg.MaxFrame
	if s.down || tooBig {
		s.mu.Unlock()
		if c.To != nil {
			out = append(out, queue.Action{Kind: queue.ActionRejected, Seq: c.Seq})
		}
		return out
	}
	if c.To != nil {
		s.unconfirmed[c.Seq] = struct{}{}
	}
	s.mu.Unlock()
	s.send(fPublish, func(e *encoder) {
		if c.To != nil {
			e.u8(flagConfirm)
		} else {
			e.u8(0)
		}
		e.u64(c.Seq)
		e.u64(c.Num)
		e.message(m)
	})
	return out
}

// Consume implements queue.Session: consume-ok, or the queue's refusal
// (ActionRefused), comes later; a session that is down refuses at once.
func (s *proxySession) Consume(c queue.Consumer, o queue.ConsumeOptions, out []queue.Action) ([]queue.Action, error) {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return out, s.q.homeDown()
	}
	s.nextCID++
	cid := s.nextCID
	pc := &proxyConsumer{s: s, c: c, noAck: o.NoAck}
	if o.Limiter != nil {
		pc.lim = o.Limiter
		if g := o.Limiter.Limit(); g != 0 && !o.NoAck && (o.Prefetch == 0 || o.Prefetch > g) {
			o.Prefetch = g
		}
	}
	s.cons[cid] = pc
	s.ids[c] = cid
	s.mu.Unlock()
	s.send(fConsume, func(e *encoder) {
		e.u32(cid)
		appendConsumeOptions(e, o)
	})
	return out, nil
}

// Cancel implements queue.Session. It takes effect at once: what the
// queue sent the consumer before it heard goes back to the queue.
func (s *proxySession) Cancel(c queue.Consumer, out []queue.Action) []queue.Action {
	s.mu.Lock()
	cid, ok := s.ids[c]
	var parked []uint64
	if pc := s.cons[cid]; ok && pc != nil {
		parked = pc.unpark()
	}
	delete(s.ids, c)
	delete(s.cons, cid)
	down := s.down
	s.mu.Unlock()
	if ok && !down {
		s.send(fCancel, func(e *encoder) { e.u32(cid) })
		if len(parked) > 0 {
			s.send(fSettle, func(e *encoder) {
				e.u8(byte(queue.Requeue))
				appendIDs(e, parked)
			})
		}
	}
	return out
}

// Get implements queue.Session.
func (s *proxySession) Get(noAck bool, out []queue.Action) []queue.Action {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return append(out, queue.Action{Kind: queue.ActionRefused, Err: s.q.homeDown()})
	}
	s.gets++
	s.mu.Unlock()
	s.send(fGet, func(e *encoder) {
		if noAck {
			e.u8(1)
		} else {
			e.u8(0)
		}
	})
	return out
}

// Settle implements queue.Session. Once the session is down there is
// nothing to settle: the queue's node requeued what the session held.
func (s *proxySession) Settle(st queue.Settlement, ids []uint64, out []queue.Action) []queue.Action {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if !down && len(ids) > 0 {
		s.send(fSettle, func(e *encoder) {
			e.u8(byte(st))
			appendIDs(e, ids)
		})
	}
	return out
}

// Close implements queue.Session: the peer closes its session, which
// cancels the consumers and requeues what the owner never settled.
func (s *proxySession) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed, s.down = true, true
	s.mu.Unlock()
	s.q.forget(s)
	lc := s.lc
	if lc == nil {
		return
	}
	lc.mu.Lock()
	if lc.sessions != nil {
		delete(lc.sessions, s.sid)
	}
	lc.mu.Unlock()
	s.send(fClose, func(*encoder) {})
}

// receive turns an action the peer sent into the owner's, appended to
// batch. It runs on the link's read loop. A delivery to a consumer
// cancelled meanwhile goes back to the queue.
func (s *proxySession) receive(a wireAction, batch []queue.Action) []queue.Action {
	act := queue.Action{Kind: a.kind, Delivery: a.delivery, Seq: a.seq, Count: a.count, Err: a.err}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return batch
	}
	switch a.kind {
	case queue.ActionDeliver:
		pc := s.cons[a.cid]
		if pc == nil {
			s.send(fSettle, func(e *encoder) {
				e.u8(byte(queue.Requeue))
				appendIDs(e, []uint64{a.delivery.ID})
			})
			return batch
		}
		return pc.admit(a.delivery, batch)
	case queue.ActionConsumeOK:
		pc := s.cons[a.cid]
		if pc == nil {
			return batch
		}
		pc.ok = true
		act.Consumer = pc.c
	case queue.ActionCancelled, queue.ActionRefused:
		if a.cid == 0 { // a refused get
			s.gets = max(s.gets-1, 0)
			break
		}
		pc := s.cons[a.cid]
		if pc == nil {
			return batch
		}
		delete(s.cons, a.cid)
		delete(s.ids, pc.c)
		act.Consumer = pc.c
	case queue.ActionGetOK, queue.ActionGetEmpty:
		s.gets = max(s.gets-1, 0)
	case queue.ActionSettled, queue.ActionRejected:
		delete(s.unconfirmed, a.seq)
	}
	return append(batch, act)
}

// linkDown tells the owner the link failed: consumers are cancelled (or,
// not subscribed yet, refused), gets waiting are refused, publishes not
// confirmed are nacked, and the queue is down.
func (s *proxySession) linkDown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.down = true
	err := s.q.homeDown()
	acts := make([]queue.Action, 0, len(s.cons)+len(s.unconfirmed)+s.gets+1)
	for cid, pc := range s.cons {
		if pc.ok {
			acts = append(acts, queue.Action{Kind: queue.ActionCancelled, Consumer: pc.c})
		} else {
			acts = append(acts, queue.Action{Kind: queue.ActionRefused, Consumer: pc.c, Err: err})
		}
		delete(s.cons, cid)
	}
	clear(s.ids)
	for seq := range s.unconfirmed {
		acts = append(acts, queue.Action{Kind: queue.ActionRejected, Seq: seq})
	}
	clear(s.unconfirmed)
	for ; s.gets > 0; s.gets-- {
		acts = append(acts, queue.Action{Kind: queue.ActionRefused, Err: err})
	}
	s.mu.Unlock()
	s.owner.Post(append(acts, queue.Action{Kind: queue.ActionQueueDown}))
}

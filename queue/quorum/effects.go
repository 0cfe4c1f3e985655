package quorum

import (
	"time"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// carryOut does what the leader owes for one applied command, on Raft's
// FSM goroutine: nothing here may wait for Raft (the FSM goroutine is what
// Raft waits for), so proposals go through the proposer's mailbox.
func (q *Queue) carryOut(ws []work) {
	for i := range ws {
		w := &ws[i]
		switch w.Kind {
		case fifo.EffectDeliver:
			if s := q.session(w.Consumer.Chan); s != nil {
				s.deliver(w.Consumer.Tag, w.Deliveries, w.msgs)
			} else if k := q.linkTo(w.Consumer.Chan.Node); k != nil {
				k.send(frameDeliver, encodeDeliver(q.group, w.Consumer, w.Deliveries, w.msgs))
			}
		case fifo.EffectDeadLetter:
			q.deadLetter(w)
		case fifo.EffectExpiryTimer:
			q.setTimer(0, w.At)
		case fifo.EffectQueueTimer:
			q.setTimer(1, w.At)
		case fifo.EffectDeleteQueue:
			q.expire()
		case fifo.EffectConsumerCancelled:
			if s := q.session(w.Consumer.Chan); s != nil {
				s.cancelled(w.Consumer.Tag)
			} else if k := q.linkTo(w.Consumer.Chan.Node); k != nil {
				k.send(frameCancelled, encodeCancelled(q.group, w.Consumer))
			}
		}
	}
}

// linkTo returns the link to node, another node of the cluster, or nil.
func (q *Queue) linkTo(node string) *link {
	if node == q.t.cfg.Node || q.t.links == nil {
		return nil
	}
	addr := q.t.cfg.Net.NodeAddr(node)
	if addr == "" {
		return nil
	}
	return q.t.links.get(addr)
}

// session returns the session of channel ch on this node, or nil.
func (q *Queue) session(ch queue.Publisher) *session {
	if ch.Node != q.t.cfg.Node {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sessions[ch]
}

// deadLetter publishes dead-lettered copies of the effect's messages; with
// the at-least-once strategy it then settles them in the queue.
func (q *Queue) deadLetter(w *work) {
	at := time.Now()
	copies := make([]*queue.Message, 0, len(w.Dead))
	indexes := make([]uint64, 0, len(w.Dead))
	for i, d := range w.Dead {
		indexes = append(indexes, d.Index)
		if m := w.msgs[i]; m != nil {
			copies = append(copies, queue.DeadLettered(m, d.Reason, q.decl.Name, q.args.Load(), at))
		}
	}
	if !w.AtLeastOnce || q.hooks.DeadLetterConfirmed == nil {
		if q.hooks.DeadLetter != nil && len(copies) > 0 {
			q.hooks.DeadLetter(copies)
		}
		if w.AtLeastOnce {
			q.propose(fifo.DeadLetterSettled{Indexes: indexes, Now: now()}, nil, nil, nil)
		}
		return
	}
	q.deadLetterAtLeastOnce(copies, indexes)
}

// deadLetterRetry is how long at-least-once dead-lettering waits before
// it tries again after a target refused.
const deadLetterRetry = time.Second

// deadLetterAtLeastOnce publishes copies to the dead-letter targets and
// settles the source messages (indexes) only once every target confirmed
// them; a refusal is retried while this replica leads (a new leader
// re-issues what is pending).
func (q *Queue) deadLetterAtLeastOnce(copies []*queue.Message, indexes []uint64) {
	q.hooks.DeadLetterConfirmed(copies, func(ok bool) {
		if ok {
			q.propose(fifo.DeadLetterSettled{Indexes: indexes, Now: now()}, nil, nil, nil)
			return
		}
		time.AfterFunc(deadLetterRetry, func() {
			q.mu.Lock()
			done := q.done
			q.mu.Unlock()
			if !done && q.leading() {
				q.deadLetterAtLeastOnce(copies, indexes)
			}
		})
	})
}

// setTimer (re)arms timer i to propose a Tick at at (Unix ms).
func (q *Queue) setTimer(i int, at int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return
	}
	if t := q.timers[i]; t != nil {
		t.Stop()
	}
	d := time.Until(time.UnixMilli(at))
	q.timers[i] = time.AfterFunc(max(d, 0), func() {
		q.propose(fifo.Tick{Now: max(now(), at)}, nil, nil, nil)
	})
}

// expire asks the broker, once, to delete the queue (x-expires ran out),
// on a goroutine of its own: the broker's delete stops this replica,
// which waits for Raft's FSM goroutine. Close waits for it; Delete does
// not, since it may be what the hook calls.
func (q *Queue) expire() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done || q.expiring || q.hooks.Expired == nil {
		return
	}
	q.expiring = true
	q.expiry.Add(1)
	go func() {
		defer q.expiry.Done()
		q.hooks.Expired()
	}()
}

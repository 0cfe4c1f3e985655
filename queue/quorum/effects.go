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
			}
		case fifo.EffectDeadLetter:
			q.deadLetter(w)
		case fifo.EffectExpiryTimer:
			q.setTimer(0, w.At)
		case fifo.EffectQueueTimer:
			q.setTimer(1, w.At)
		case fifo.EffectDeleteQueue:
			if q.hooks.Expired != nil {
				q.goTracked(q.hooks.Expired)
			}
		case fifo.EffectConsumerCancelled:
			if s := q.session(w.Consumer.Chan); s != nil {
				s.cancelled(w.Consumer.Tag)
			}
		}
	}
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
			copies = append(copies, queue.DeadLettered(m, d.Reason, q.decl.Name, &q.decl.Args, at))
		}
	}
	if q.hooks.DeadLetter != nil && len(copies) > 0 {
		q.hooks.DeadLetter(copies)
	}
	if w.AtLeastOnce {
		q.propose(fifo.DeadLetterSettled{Indexes: indexes, Now: now()}, nil, nil, nil)
	}
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

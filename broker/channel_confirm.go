package broker

import (
	"sync"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// confirmRec is one publish awaiting its queues' confirms.
type confirmRec struct {
	remaining int32             // queues yet to confirm
	nack      bool              // a queue refused it
	x         *exchangeCounters // the exchange it was published to, counted when acked
}

// confirmTracker turns queue confirms into basic.ack and basic.nack for a
// channel in confirm mode. Publishes are numbered from 1; a publish is
// confirmed once every queue it went to has confirmed it, and confirms are
// sent in publish order, contiguous acks coalesced into one "multiple"
// ack. While the read loop is handling a batch of frames the acks are held
// and sent at the end of the batch, so a pipelining publisher gets one ack
// per batch.
type confirmTracker struct {
	ch *channel

	mu       sync.Mutex
	next     uint64       // sequence number of the next publish
	base     uint64       // sequence number of pending[head]
	pending  []confirmRec // publishes from base on
	head     int
	batching bool   // the read loop will call flushConfirms
	ackUpTo  uint64 // acks held for the end of the batch: up to here
	ackFrom  uint64 // first sequence number of the held acks
	late     bool   // registered with the writer (conn.queueLateConfirms)
	closed   bool   // the channel is gone: confirms are dropped

	// In a transactional channel the tracker counts the queues' confirms
	// of a commit's publishes instead of sending acks: tx.commit-ok waits
	// for them, as in RabbitMQ (rabbit_channel's maybe_complete_tx).
	tx       bool // the channel is transactional: no acks or nacks are sent
	txWait   bool // a commit waits for the publishes still pending
	txFailed bool // a queue refused a publish of the commit
}

// expect registers the next publish, routed to n queues through the
// exchange counted by x (nil: none), and returns what to hand the queues.
func (t *confirmTracker) expect(n int, x *exchangeCounters) queue.Confirm {
	t.mu.Lock()
	if t.next == 0 {
		t.next, t.base = 1, 1
	}
	seq := t.next
	t.next++
	t.pending = append(t.pending, confirmRec{remaining: int32(n), x: x})
	if n == 0 {
		t.advanceLocked()
	}
	t.mu.Unlock()
	if n == 0 {
		return queue.Confirm{}
	}
	return queue.Confirm{To: t, Seq: seq}
}

// Confirmed implements queue.Confirmer.
func (t *confirmTracker) Confirmed(seq uint64, ok bool) {
	t.mu.Lock()
	i := t.head + int(seq-t.base)
	if t.closed || seq < t.base || i >= len(t.pending) {
		t.mu.Unlock()
		return
	}
	r := &t.pending[i]
	if !ok {
		r.nack = true
	}
	r.remaining--
	if r.remaining == 0 && seq == t.base {
		t.advanceLocked()
	}
	t.mu.Unlock()
}

// advanceLocked sends the confirms of the completed publishes at the head.
func (t *confirmTracker) advanceLocked() {
	for t.head < len(t.pending) && t.pending[t.head].remaining <= 0 {
		r := t.pending[t.head]
		seq := t.base
		t.head++
		t.base++
		if t.tx {
			t.txFailed = t.txFailed || r.nack
			continue
		}
		if r.nack {
			t.sendHeldLocked()
			t.ch.c.sendMethod(t.ch.id, &protocol.BasicNack{DeliveryTag: seq})
			continue
		}
		t.ch.ctr.confirmed.Add(1)
		if r.x != nil {
			r.x.confirmed.Add(1)
		}
		if t.ackUpTo == 0 {
			t.ackFrom = seq
		}
		t.ackUpTo = seq
	}
	if t.head == len(t.pending) {
		t.pending = t.pending[:0]
		t.head = 0
		if cap(t.pending) > 4096 {
			t.pending = nil // idle again: give the memory back
		}
	} else if t.head > 1024 && t.head > len(t.pending)/2 {
		n := copy(t.pending, t.pending[t.head:])
		t.pending = t.pending[:n]
		t.head = 0
	}
	if t.txWait && t.head == len(t.pending) {
		t.txWait = false
		t.ch.answered(nil)
	}
	if !t.batching && t.ackUpTo != 0 && !t.late {
		// Not on the read loop: let the writer send what gathers meanwhile.
		t.late = true
		t.ch.c.queueLateConfirms(t.ch)
	}
}

// awaitCommit is called once a commit's publishes are handed to their
// queues: if some are not yet confirmed, the channel's answer (answered
// with no session) comes when the last one is.
func (t *confirmTracker) awaitCommit() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head == len(t.pending) {
		t.ch.answered(nil)
		return
	}
	t.txWait = true
}

// takeTxFailed reports whether a queue refused a publish of the commit,
// and forgets it for the next commit.
func (t *confirmTracker) takeTxFailed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.txFailed
	t.txFailed = false
	return f
}

// sendLate sends the acks held for the writer (queueLateConfirms), unless
// a read batch has opened since and will send them itself.
func (t *confirmTracker) sendLate() {
	t.mu.Lock()
	t.late = false
	if !t.batching && !t.closed {
		t.sendHeldLocked()
	}
	t.mu.Unlock()
}

// close drops every confirm still to come: the channel is closed, and its
// number may be reused by a new channel.
func (t *confirmTracker) close() {
	t.mu.Lock()
	t.closed = true
	t.pending = nil
	t.head = 0
	t.ackUpTo, t.ackFrom = 0, 0
	t.mu.Unlock()
}

// sendHeldLocked sends the held acks as one ack.
func (t *confirmTracker) sendHeldLocked() {
	if t.ackUpTo == 0 || t.closed {
		return
	}
	t.ch.c.sendMethod(t.ch.id, &protocol.BasicAck{DeliveryTag: t.ackUpTo, Multiple: t.ackUpTo > t.ackFrom})
	t.ackUpTo, t.ackFrom = 0, 0
}

// beginConfirmBatch holds acks until the read loop's batch ends.
func (ch *channel) beginConfirmBatch() {
	if ch.inBatch {
		return
	}
	ch.inBatch = true
	ch.confirms.mu.Lock()
	ch.confirms.batching = true
	ch.confirms.mu.Unlock()
	ch.c.confirmDirty = append(ch.c.confirmDirty, ch)
}

// flushConfirms ends the batch: the held acks are sent.
func (ch *channel) flushConfirms() {
	ch.inBatch = false
	t := &ch.confirms
	t.mu.Lock()
	t.batching = false
	t.sendHeldLocked()
	t.mu.Unlock()
}

func (ch *channel) confirmSelect(m *protocol.ConfirmSelect) error {
	if ch.tx != nil {
		return protocol.NewError(protocol.PreconditionFailed, "cannot switch from tx to confirm mode")
	}
	ch.confirm = true
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.ConfirmSelectOk{})
	}
	return nil
}

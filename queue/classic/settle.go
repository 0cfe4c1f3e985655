package classic

import (
	"context"
	"slices"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// The queue's state changes all go through enqueue, take, hold, release
// and requeue, so that a durable store can log them in one place.

// enqueue adds a newly published message to the ready messages: to the
// window (appending it to the log when it is persistent and the queue
// durable), or to the paged region when the queue pages.
func (q *Queue) enqueue(e entry) {
	if q.pageable && (q.pg.n() > 0 || q.windowFull()) {
		q.pageOut(e)
		return
	}
	q.logIfNeeded(&e)
	q.ready.add(e, false)
}

// logIfNeeded appends a just-published persistent message to the log.
func (q *Queue) logIfNeeded(e *entry) {
	if e.unlogged {
		e.unlogged = false
		e.seq = q.appendMsg(e.msg)
	}
}

// take removes the head of priority level l from the ready messages,
// refilling the window from the paged region when it runs low. The caller
// delivers it (then holds it unless the consumer is no-ack; otherwise it
// forgets it), or drops it.
func (q *Queue) take(l int) entry {
	e := q.ready.pop(l)
	if q.pg.n() > 0 && q.windowLow() {
		var now int64
		q.refill(&now)
	}
	return e
}

// noID is never a message id (ids start at 1). The unacked map keeps an
// entry under it so that it never becomes empty: Go reseeds a map's hash
// every time its last entry is deleted, which with prefetch 1 would cost a
// random number per ack.
const noID = 0

func newUnacked() map[uint64]held { return map[uint64]held{noID: {}} }

// hold records a delivered message as unacknowledged. A persistent message
// delivered straight from Publish is appended to the log here: it is
// deliverable before it is durable, as in RabbitMQ, and its ack settles it.
func (q *Queue) hold(e entry, sub *subscriber) {
	q.logIfNeeded(&e)
	q.unacked[e.id] = held{msg: e.msg, expiry: e.expiry, seq: e.seq, sub: sub, count: e.count}
}

// release forgets an unacknowledged message (acked, rejected or requeued)
// and gives its consumer's credit back; freed notes that a consumer may
// take messages again.
func (q *Queue) release(id uint64) (held, bool) {
	if id == noID {
		return held{}, false
	}
	h, ok := q.unacked[id]
	if ok {
		delete(q.unacked, id)
		if h.sub != nil {
			q.freed = q.freed || h.sub.stalled
			q.cons.settled(h.sub)
		}
	}
	return h, ok
}

// requeue returns a released message to its original place, marked
// redelivered.
func (q *Queue) requeue(id uint64, h held) {
	q.ready.add(entry{msg: h.msg, id: id, expiry: h.expiry, seq: h.seq, count: h.count + 1, redelivered: true}, true)
}

// Settle acks, requeues or rejects delivered messages by id. Requeued
// messages go back to their original places, marked redelivered; rejected
// ones are dead-lettered (reason rejected) when the queue has a dead-letter
// exchange. Unknown ids are ignored.
func (q *Queue) Settle(s queue.Settlement, ids []uint64) {
	q.mu.Lock()
	var now int64
	q.freed = false
	switch s {
	case queue.Ack:
		for _, id := range ids {
			if h, ok := q.release(id); ok {
				q.forget(h.seq)
			}
		}
	case queue.Reject:
		for _, id := range ids {
			if h, ok := q.release(id); ok {
				q.forget(h.seq)
				q.deadLetter(h.msg, queue.Rejected, &now)
			}
		}
	case queue.Requeue:
		if q.deleted {
			for _, id := range ids {
				q.release(id)
			}
			break
		}
		// Highest id first: each then goes in front of the ones after it,
		// which for messages taken from the head costs nothing.
		back := q.scratch[:0]
		for _, id := range ids {
			if h, ok := q.release(id); ok {
				back = append(back, entry{msg: h.msg, id: id, expiry: h.expiry, seq: h.seq, count: h.count})
			}
		}
		slices.SortFunc(back, func(a, b entry) int {
			switch {
			case a.id > b.id:
				return -1
			case a.id < b.id:
				return 1
			}
			return 0
		})
		for _, e := range back {
			q.requeue(e.id, held{msg: e.msg, expiry: e.expiry, seq: e.seq, count: e.count})
		}
		clear(back)
		q.scratch = back[:0]
		q.dropHeads(&now)
		q.dispatch(&now)
		q.schedule(&now)
		q.unlock()
		return
	}
	if q.freed && q.ready.count > 0 && !q.deleted {
		// Credit came back to a consumer that had none: deliver to it.
		q.dispatch(&now)
		q.schedule(&now)
	}
	q.unlock()
}

// Purge drops every ready message, without dead-lettering, and returns how
// many there were; their log records are settled. Unacknowledged messages
// stay. It never fails; the context is not used.
func (q *Queue) Purge(context.Context) (uint32, error) {
	q.mu.Lock()
	n := q.readyN()
	q.ready.each(func(e *entry) { q.forget(e.seq) })
	q.purgePaged()
	q.ready.clear()
	q.unlock()
	return uint32(n), nil
}

// Delete cancels every consumer (telling each through Cancelled), drops
// every message and posts ActionQueueDown to the open sessions, returning how many ready messages there were. With
// ifEmpty it refuses a queue with ready messages ("PRECONDITION_FAILED -
// queue 'q' in vhost '/' not empty"), with ifUnused one with consumers
// ("... in use"), deciding under the queue's mutex, in the same step as
// the delete. Deleting a deleted queue does nothing; a closed one refuses
// (541), so that a delete racing with shutdown leaves the definition and
// the log for the next start. The context is not used.
func (q *Queue) Delete(_ context.Context, ifUnused, ifEmpty bool) (uint32, error) {
	q.mu.Lock()
	if q.closed {
		q.unlock()
		return 0, protocol.NewError(protocol.InternalError,
			"queue '%s' in vhost '%s' is closed: the node is shutting down", q.name, q.opts.VHost)
	}
	if q.deleted {
		q.unlock()
		return 0, nil
	}
	if ifEmpty && q.readyN() > 0 {
		q.unlock()
		return 0, protocol.NewError(protocol.PreconditionFailed,
			"queue '%s' in vhost '%s' not empty", q.name, q.opts.VHost)
	}
	if ifUnused && q.cons.count > 0 {
		q.unlock()
		return 0, protocol.NewError(protocol.PreconditionFailed,
			"queue '%s' in vhost '%s' in use", q.name, q.opts.VHost)
	}
	q.deleted = true
	n := q.readyN()
	q.ready.clear()
	q.pg.reset()
	sp := q.dropSpill()
	q.unacked = newUnacked()
	q.settles = q.settles[:0]
	lg := q.dlog
	q.dlog = nil
	if lg != nil {
		q.conf.markDeleting()
	}
	cancelled := q.cons.all()
	q.cons = consumerSet{sac: q.cons.sac}
	down := q.takeSessions()
	if q.timer != nil {
		q.timer.Stop()
		q.timerAt = 0
	}
	q.unlock()
	for _, c := range cancelled {
		c.Cancelled()
	}
	queueDown(down)
	q.deleteSpill(sp)
	if lg != nil {
		if err := lg.Delete(); err != nil {
			q.log.Warn("cannot remove the deleted queue's log", zap.Error(err))
		}
	}
	return uint32(n), nil
}

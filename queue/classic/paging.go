package classic

import (
	"errors"
	"io"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// Paging keeps a queue's memory bounded whatever its backlog.
//
// The ready messages are, in queue order, the window (readyQueue: entries
// with their messages in memory) followed by the paged region. Once the
// window is full, a publish appends its persistent message (in a durable
// queue) to the log and keeps nothing of it but a count: the log is
// already in queue order, so one Reader moving forward reads the paged
// region back into the window as it drains (refill). A transient message
// cannot go to that log (it must not survive a restart): it goes to the
// spill log (spill.go), tagged with the sequence number of the first
// record published after it, and refill merges the two logs back in
// place. Without a spill store, or once the spill log failed, transient
// messages wait in memory in the tail, tagged the same way, behind every
// spilled one.
//
// Message ids are given as messages enter the window, in queue order, so a
// requeued message (whose id is below every paged one) still goes back to
// its original place. Expiry is computed from the record's timestamp as the
// message enters the window: a TTL counts from the publish, paged or not.
//
// Invariant: while the paged region holds messages, the window is not
// empty (take refills it), so the head of the queue is always in memory.
// Priority queues never page, nor do queues with neither a log nor a spill
// store.
type paged struct {
	r        *store.Reader // reads the paged records back; nil when none
	logN     int           // records in the log not read back yet
	logBytes int64         // their body bytes, where known (see scanned)
	scanned  bool          // logBytes includes the recovered records
	next     entry         // a record read back, not yet in the window
	hasNext  bool
	nextSize bool // next's body is counted in logBytes

	sr         *store.Reader // reads the spill log back; nil when none
	spillN     int           // spill records not read back yet
	spillBytes int64         // their body bytes, and snext's
	snext      entry         // a spilled message read back; id is the seq it precedes
	hasSNext   bool
	spillRead  uint64 // the last spill record read

	tail     ring // transient messages; entry.id is the seq they precede
	tailSize int64
}

// n is how many messages the paged region holds.
func (p *paged) n() int {
	n := p.logN + p.spillN + p.tail.n
	if p.hasNext {
		n++
	}
	if p.hasSNext {
		n++
	}
	return n
}

// bytes is the body bytes of the paged region, as far as known.
func (p *paged) bytes() int64 { return p.logBytes + p.spillBytes + p.tailSize }

// reset forgets the paged region.
func (p *paged) reset() {
	if p.r != nil {
		p.r.Close()
	}
	if p.sr != nil {
		p.sr.Close()
	}
	p.tail.clear()
	*p = paged{tail: p.tail}
}

// readyN is how many messages are ready: the window and the paged region.
func (q *Queue) readyN() int { return q.ready.count + q.pg.n() }

// readyBytes is the body bytes of the ready messages.
func (q *Queue) readyBytes() int64 { return q.ready.bytes + q.pg.bytes() }

// windowFull reports whether the window holds as much as it may; a new
// message then goes to the paged region.
func (q *Queue) windowFull() bool {
	return q.pageable && (q.ready.count >= q.winMsgs || q.ready.bytes >= q.winBytes)
}

// windowLow reports whether take should refill the window.
func (q *Queue) windowLow() bool {
	return q.ready.count <= q.winMsgs/2 && q.ready.bytes <= q.winBytes/2
}

// pageOut puts a newly published message in the paged region: a persistent
// one as a log record only, a transient one (or one the log refused) as a
// spill record, or in the tail when it cannot be spilled.
func (q *Queue) pageOut(e entry) {
	if e.unlogged {
		e.unlogged = false
		if seq := q.appendMsg(e.msg); seq != 0 {
			if q.pg.r == nil {
				q.pg.r = q.dlog.NewReader(seq)
			}
			q.pg.logN++
			q.pg.logBytes += int64(len(e.msg.Body))
			return
		}
	}
	e.id = q.lastSeq + 1 // it goes before the next record appended
	if q.spillOut(e) {
		return
	}
	q.pg.tail.push(e)
	q.pg.tailSize += int64(len(e.msg.Body))
}

// refill moves messages from the paged region into the window until the
// window is full or the region empty. Reading from the log happens here,
// under the queue's mutex, a buffer of records at a time.
func (q *Queue) refill(now *int64) {
	p := &q.pg
	for p.n() > 0 && !q.windowFull() {
		if !p.hasNext && p.logN > 0 {
			q.readNext(now)
			continue
		}
		if !p.hasSNext && p.spillN > 0 {
			q.readSpill(now)
			continue
		}
		var e entry
		switch {
		case p.hasSNext && (!p.hasNext || p.snext.id <= p.next.seq):
			e = p.snext
			p.spillBytes -= int64(len(e.msg.Body))
			p.snext, p.hasSNext = entry{}, false
		case !p.hasSNext && p.tail.n > 0 && (!p.hasNext || p.tail.front().id <= p.next.seq):
			// Every spilled message is read: the tail comes after them.
			e = p.tail.pop()
			p.tailSize -= int64(len(e.msg.Body))
		default: // p.hasNext: the paged region is not empty
			e = p.next
			if p.nextSize {
				p.logBytes -= int64(len(e.msg.Body))
			}
			p.next, p.hasNext, p.nextSize = entry{}, false, false
		}
		e.id = q.nextID
		q.nextID++
		q.ready.add(e, false)
	}
	q.settleSpilled()
	if p.n() == 0 {
		p.reset()
	}
}

// readNext reads the next paged record into pg.next. Records the log lost
// (damaged on disk, or a read error) leave the queue's count here: when the
// reader finds the end of the log before the count is used up, the count
// is what was wrong.
func (q *Queue) readNext(now *int64) {
	p := &q.pg
	for p.logN > 0 {
		rec, err := p.r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				q.log.Warn("durable queue lost messages to damage in its log", zap.Int("lost", p.logN))
			} else {
				q.log.Error("cannot read paged messages back; they stay on disk until the queue is reopened",
					zap.Int("messages", p.logN), zap.Error(err))
			}
			p.logN, p.logBytes = 0, 0
			return
		}
		p.logN--
		m, err := queue.DecodeMessage(rec.Data)
		if err != nil {
			q.log.Warn("dropping a stored message that cannot be decoded", zap.Uint64("seq", rec.Seq))
			q.forget(rec.Seq)
			continue
		}
		expiry, _ := q.expiryOf(m, now)
		p.next = entry{msg: m, seq: rec.Seq, redelivered: rec.Recovered, expiry: expiry}
		p.hasNext = true
		p.nextSize = !rec.Recovered || p.scanned
		return
	}
}

// purgePaged settles and forgets the whole paged region.
func (q *Queue) purgePaged() {
	p := &q.pg
	if p.hasNext {
		q.forget(p.next.seq)
	}
	if p.logN > 0 && p.r != nil && q.dlog != nil {
		// Every record from the reader's position on is paged: the window
		// and the unacknowledged messages all come before it.
		_ = q.dlog.SettleRange(p.r.Position(), q.lastSeq)
	}
	q.purgeSpilled()
	p.reset()
}

// MemoryStats describe what a queue holds in memory, for metrics
// (RabbitMQ's messages_ram and message_bytes_ram) and tests.
type MemoryStats struct {
	// Window and WindowBytes are the ready messages held in memory with
	// their bodies.
	Window      int
	WindowBytes int64
	// Tail is the transient messages waiting in memory behind paged ones.
	Tail int
	// Paged is the ready messages held on disk only, Spilled the transient
	// ones among them.
	Paged, Spilled int
	// Unacked is the delivered messages (held in memory until settled).
	Unacked int
	// Confirms is the publisher confirms waiting for the disk.
	Confirms int
}

// Memory returns what the queue holds in memory.
func (q *Queue) Memory() MemoryStats {
	q.mu.Lock()
	s := MemoryStats{
		Window:      q.ready.count,
		WindowBytes: q.ready.bytes,
		Tail:        q.pg.tail.n,
		Paged:       q.pg.logN + q.pg.spillN,
		Spilled:     q.pg.spillN,
		Unacked:     len(q.unacked) - 1,
	}
	if q.pg.hasNext {
		s.Window++
	}
	if q.pg.hasSNext {
		s.Window++
	}
	q.mu.Unlock()
	s.Confirms = q.conf.waiting()
	return s
}

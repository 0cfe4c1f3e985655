package classic

import (
	"errors"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// This file holds what makes a classic queue durable: its log in the
// node's store, recovery from it, appends of persistent messages, settles,
// and the FIFO of publisher confirms waiting for the disk.

// Default head window of a paging queue (see Options.WindowMessages).
const (
	defaultWindowMessages = 4096
	defaultWindowBytes    = 32 << 20
)

// openLog opens the queue's log in o.Store and recovers its messages. It
// runs in New, before the queue is shared, so it takes mu only to keep the
// invariants the rest of the code asserts.
func (q *Queue) openLog(st *store.Store) error {
	lg, rec, err := st.OpenLog(store.LogID(q.opts.VHost, q.name), store.LogOptions{OnDurable: q.onDurable})
	if err != nil {
		return protocol.NewError(protocol.InternalError,
			"cannot open the log of queue '%s' in vhost '%s': %v", q.name, q.opts.VHost, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dlog = lg
	q.lastSeq = rec.Next - 1
	if rec.Count == 0 {
		return nil
	}
	q.pg.r = lg.NewReader(rec.First)
	q.pg.logN = int(rec.Count)
	if q.args.HasMaxLengthBytes && q.pageable {
		// x-max-length-bytes needs the size of the whole backlog: read it
		// once. Without that limit nobody asks, and start-up reads only
		// what fills the window.
		if err := q.scanBytes(lg, rec.First); err != nil {
			lg.Close()
			return protocol.NewError(protocol.InternalError,
				"cannot read the log of queue '%s' in vhost '%s': %v", q.name, q.opts.VHost, err)
		}
	}
	var now int64
	q.refill(&now)
	q.log.Info("recovered durable queue", zap.Uint64("messages", rec.Count),
		zap.Int("segments", rec.Segments), zap.Int("damaged", len(rec.Damage)), zap.Duration("took", rec.Took))
	return nil
}

// scanBytes sums the body sizes of the recovered backlog.
func (q *Queue) scanBytes(lg *store.Log, from uint64) error {
	r := lg.NewReader(from)
	defer r.Close()
	for {
		rec, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				q.pg.scanned = true
				return nil
			}
			return err
		}
		if m, err := queue.DecodeMessage(rec.Data); err == nil {
			q.pg.logBytes += int64(len(m.Body))
		}
	}
}

// appendMsg writes the persistent message m to the log and returns its
// sequence number, or 0 when the queue has no log or the log refused it;
// then the publish is nacked (pubNack) and the message is kept in memory
// only. It notes the sequence number in pubSeq for Publish, which queues
// the confirm.
func (q *Queue) appendMsg(m *queue.Message) uint64 {
	if q.dlog == nil {
		return 0
	}
	q.enc = queue.AppendMessage(q.enc[:0], q.stamped(m))
	seq, err := q.dlog.Append(0, q.enc)
	if cap(q.enc) > 1<<20 {
		q.enc = nil
	}
	if err != nil {
		q.pubNack = true
		q.log.Debug("append failed", zap.Error(err))
		return 0
	}
	q.lastSeq = seq
	q.pubSeq = seq
	return seq
}

// stamped returns m, or a copy of it with the time now when m has no
// Timestamp: TTLs count from the publish, and a record keeps that moment.
func (q *Queue) stamped(m *queue.Message) *queue.Message {
	if !m.Timestamp.IsZero() {
		return m
	}
	var now int64
	c := *m
	c.Timestamp = time.Unix(0, q.nowNs(&now))
	return &c
}

// forget marks the log record seq settled (the message was acked,
// rejected, expired, dead-lettered or dropped); unlock writes the settles
// of an operation in one call. Seq 0 is no record.
func (q *Queue) forget(seq uint64) {
	if seq != 0 {
		q.settles = append(q.settles, seq)
	}
}

// flushSettles hands the settles gathered under mu to the log. A settle the
// log refuses (it failed) is lost, which only means the message comes back
// after a restart: at-least-once.
func (q *Queue) flushSettles() {
	if len(q.settles) == 0 {
		return
	}
	if q.dlog != nil {
		_ = q.dlog.Settle(q.settles...)
	}
	q.settles = q.settles[:0]
	if cap(q.settles) > 4096 {
		q.settles = nil
	}
}

// onDurable is the log's OnDurable callback, called from the store's sync
// goroutine (or from Close and Delete) with no lock of the log held. It
// confirms every publish whose record is now on disk, or nacks all that
// are left when the log failed.
func (q *Queue) onDurable(upTo uint64, err error) {
	due, ok := q.conf.durable(upTo, err)
	if !ok {
		q.log.Error("durable queue log failed: publishes are nacked until the queue is reopened",
			zap.Int("nacked", len(due)), zap.Error(err))
	}
	for _, p := range due {
		p.c.To.Confirmed(p.c.Seq, p.ok)
	}
	q.conf.giveBack(due)
}

// Close closes the queue's log, syncing what is pending (confirms still
// waiting are sent), without deleting anything: the broker calls it at
// shutdown, and the next New recovers the messages. It stops the timer
// and waits for the Env hooks already running (dead-lettering, Expired);
// once it returns the queue calls no hook and writes nothing (a timer that
// had already fired finds the queue closed and does nothing). A closed
// queue serves nothing and nacks publishes. Close on an in-memory queue
// only stops it.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.deleted {
		q.closed = true
		q.mu.Unlock()
		q.hooks.Wait()
		return nil
	}
	q.deleted, q.closed = true, true
	if q.timer != nil {
		q.timer.Stop()
		q.timerAt = 0
	}
	q.flushSettles()
	q.pg.reset()
	lg := q.dlog
	q.dlog = nil
	sp := q.dropSpill()
	q.mu.Unlock()
	q.hooks.Wait()
	// Transient messages do not outlive the node's run.
	q.deleteSpill(sp)
	if lg == nil {
		return nil
	}
	return lg.Close()
}

// pendingConfirm is a publish waiting for its record to be durable.
type pendingConfirm struct {
	seq uint64
	c   queue.Confirm
	ok  bool
}

// diskConfirms is the FIFO of publisher confirms waiting for the disk, in
// record order (Publish pushes under the queue's mutex, where it appended).
// It has its own mutex, taken after the queue's by push and alone by
// durable, so the store's goroutine never waits for the queue.
type diskConfirms struct {
	mu       sync.Mutex
	fifo     []pendingConfirm
	head     int
	upTo     uint64 // every record up to it is durable
	failed   bool   // the log failed: records above upTo never will be
	deleting bool   // the queue is being deleted: what is left is confirmed
	spare    []pendingConfirm
}

// push queues the confirm of record seq. When its outcome is already known
// it is not queued: push returns due and the outcome, and the caller
// confirms once it has released the queue's mutex.
func (t *diskConfirms) push(seq uint64, c queue.Confirm) (due, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case seq <= t.upTo:
		return true, true
	case t.failed:
		return true, false
	}
	if t.head > 0 && t.head == len(t.fifo) {
		clear(t.fifo)
		t.fifo, t.head = t.fifo[:0], 0
	}
	t.fifo = append(t.fifo, pendingConfirm{seq: seq, c: c})
	return false, false
}

// durable records that the log is durable up to upTo (or failed with err)
// and returns the confirms now due, with the outcome of the failed ones.
// The slice goes back through giveBack.
func (t *diskConfirms) durable(upTo uint64, err error) ([]pendingConfirm, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.upTo = max(t.upTo, upTo)
	out := t.spare[:0]
	t.spare = nil
	for t.head < len(t.fifo) && t.fifo[t.head].seq <= t.upTo {
		p := t.fifo[t.head]
		p.ok = true
		out = append(out, p)
		t.fifo[t.head] = pendingConfirm{}
		t.head++
	}
	ok := true
	if err != nil {
		// RabbitMQ confirms the publishes of a queue deleted normally and
		// nacks those of a queue that crashed.
		ok = t.deleting && errors.Is(err, store.ErrClosed)
		t.failed = !ok
		for ; t.head < len(t.fifo); t.head++ {
			p := t.fifo[t.head]
			p.ok = ok
			out = append(out, p)
			t.fifo[t.head] = pendingConfirm{}
		}
	}
	if t.head == len(t.fifo) {
		t.fifo, t.head = t.fifo[:0], 0
		if cap(t.fifo) > 1<<16 {
			t.fifo = nil
		}
	}
	return out, ok
}

// giveBack returns the slice durable handed out, for reuse.
func (t *diskConfirms) giveBack(s []pendingConfirm) {
	clear(s)
	t.mu.Lock()
	if t.spare == nil && cap(s) <= 1<<16 {
		t.spare = s[:0]
	}
	t.mu.Unlock()
}

// markDeleting makes the confirms still waiting when the log is deleted
// acks, as RabbitMQ confirms publishes to a queue that was deleted.
func (t *diskConfirms) markDeleting() {
	t.mu.Lock()
	t.deleting = true
	t.mu.Unlock()
}

// waiting returns how many confirms wait for the disk.
func (t *diskConfirms) waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.fifo) - t.head
}

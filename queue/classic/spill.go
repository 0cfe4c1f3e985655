package classic

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// Spilling: the transient messages a paging queue holds past its window
// (every message of a non-durable queue) go to a log of the node's
// volatile store (Env.Spill), which is never synced and is emptied when
// the node starts, so they never survive a restart. A spill record is the
// sequence number of the durable record the message precedes (8 octets,
// big endian) followed by the message in queue.AppendMessage's form; one
// store.Reader reads them back in order as the window drains (refill), and
// the records read are settled at once, so the log's segments go as the
// queue drains. The log is opened on the first spill and deleted with the
// queue, or when it is closed for shutdown.

// spillIDs numbers spill logs, so that a queue deleted and declared again
// under the same name never shares a log with its former self.
var spillIDs atomic.Uint64

// spillTag is the size of a spill record's prefix.
const spillTag = 8

// spillOut appends the transient message of e to the spill log and counts
// it in the paged region. It returns false, and the caller keeps e in the
// tail, when the queue has no spill store, the tail already holds messages
// (they must stay behind everything spilled before them) or the log
// refused it.
func (q *Queue) spillOut(e entry) bool {
	p := &q.pg
	if q.env.Spill == nil || p.tail.n > 0 || q.spillFailed {
		return false
	}
	if q.spill == nil && !q.openSpill() {
		return false
	}
	q.enc = binary.BigEndian.AppendUint64(q.enc[:0], e.id)
	q.enc = queue.AppendMessage(q.enc, q.stamped(e.msg))
	seq, err := q.spill.Append(0, q.enc)
	if cap(q.enc) > 1<<20 {
		q.enc = nil
	}
	if err != nil {
		q.spillFailed = true
		q.log.Warn("cannot page transient messages to disk; they stay in memory", zap.Error(err))
		return false
	}
	if p.sr == nil {
		p.sr = q.spill.NewReader(seq)
	}
	q.spillLast = seq
	p.spillN++
	p.spillBytes += int64(len(e.msg.Body))
	return true
}

// openSpill opens the queue's spill log.
func (q *Queue) openSpill() bool {
	id := store.LogID(q.opts.VHost, q.name) + "-" + strconv.FormatUint(spillIDs.Add(1), 10)
	lg, _, err := q.env.Spill.OpenLog(id, store.LogOptions{})
	if err != nil {
		q.spillFailed = true
		q.log.Warn("cannot open a log to page transient messages to; they stay in memory", zap.Error(err))
		return false
	}
	q.spill, q.spillSettled = lg, 1
	return true
}

// readSpill reads the next spilled message into pg.snext. Records the log
// lost (a read error) leave the count, as in readNext.
func (q *Queue) readSpill(now *int64) {
	p := &q.pg
	for p.spillN > 0 {
		rec, err := p.sr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				q.log.Warn("queue lost paged transient messages to damage in their log", zap.Int("lost", p.spillN))
			} else {
				q.log.Error("cannot read paged transient messages back; they are lost",
					zap.Int("messages", p.spillN), zap.Error(err))
			}
			p.spillN, p.spillBytes = 0, 0
			return
		}
		p.spillN--
		p.spillRead = rec.Seq
		var m *queue.Message
		if len(rec.Data) >= spillTag {
			m, err = queue.DecodeMessage(rec.Data[spillTag:])
		}
		if m == nil || err != nil {
			q.log.Warn("dropping a paged transient message that cannot be decoded", zap.Uint64("seq", rec.Seq))
			continue
		}
		expiry, _ := q.expiryOf(m, now)
		p.snext = entry{msg: m, id: binary.BigEndian.Uint64(rec.Data), expiry: expiry}
		p.hasSNext = true
		return
	}
}

// settleSpilled settles the spill records read back so far: their messages
// are in memory now, and the log reclaims their segments.
func (q *Queue) settleSpilled() {
	if q.spill == nil || q.pg.spillRead < q.spillSettled {
		return
	}
	_ = q.spill.SettleRange(q.spillSettled, q.pg.spillRead)
	q.spillSettled = q.pg.spillRead + 1
}

// purgeSpilled settles every spill record: the paged transient messages
// are dropped.
func (q *Queue) purgeSpilled() {
	if q.spill == nil || q.spillLast < q.spillSettled {
		return
	}
	_ = q.spill.SettleRange(q.spillSettled, q.spillLast)
	q.spillSettled = q.spillLast + 1
}

// dropSpill detaches the spill log for the caller to delete once the
// queue's mutex is released; nil when there is none.
func (q *Queue) dropSpill() *store.Log {
	lg := q.spill
	q.spill = nil
	return lg
}

// deleteSpill deletes a spill log detached by dropSpill.
func (q *Queue) deleteSpill(lg *store.Log) {
	if lg == nil {
		return
	}
	if err := lg.Delete(); err != nil {
		q.log.Warn("cannot remove the log of paged transient messages", zap.Error(err))
	}
}

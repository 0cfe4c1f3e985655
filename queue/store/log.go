package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"go.uber.org/zap"
)

// ErrClosed is returned by a Log, and passed to its durability callback, once
// the log has been closed or deleted.
var ErrClosed = errors.New("store: log closed")

// ErrTooLarge is returned by Append for a payload above the record limit.
var ErrTooLarge = errors.New("store: record too large")

const (
	// flushAt is how many buffered bytes make Append write them out at once
	// instead of waiting for the sync loop.
	flushAt = 256 << 10
	// minAckLimit is the settle log size that triggers its first rewrite.
	minAckLimit = 4 << 20
)

// Log is the durable state of one queue: its enqueued records, in sequence
// order, and which of them are settled. Every method is safe for concurrent
// use.
type Log struct {
	st        *Store
	id        string
	dir       string
	fs        FS
	zl        *zap.Logger
	onDurable func(upTo uint64, err error)

	mu   sync.Mutex
	cond sync.Cond // signalled when inFlight drops

	segs      []*segment // ascending; the last is the active one
	active    File
	activeOff int64  // bytes written to the active file
	buf       []byte // encoded records not yet written to the active file
	next      uint64 // the sequence number the next Append gets
	written   uint64 // every record below it has been written to the OS
	durable   uint64 // every record below it has been synced
	recovered uint64 // every record below it was recovered at open
	toSync    []File // sealed segment files not yet synced
	dirty     bool   // the active file has writes not yet synced
	dirDirty  bool   // a file was created since the directory was synced

	ack      File
	ackOff   int64
	ackBuf   []byte
	ackDirty bool
	ackLimit int64

	waiters  []waiter
	scratch  []uint64
	spans    []span
	failed   error
	reported bool // failed has been passed to onDurable
	inFlight bool // the sync loop is syncing this log's files
	busy     int  // compactions queued or running
	closing  bool
	closed   bool
}

type waiter struct {
	seq uint64
	ch  chan error
}

// ID is the name the log was opened under.
func (l *Log) ID() string { return l.id }

// Append adds a record holding data and flags at the end of the log and
// returns its sequence number. The record is durable once the log's
// OnDurable callback (or a channel from Wait) says so; Append itself never
// waits for the disk. The error is sticky: after a failed write or sync
// every Append fails until the log is reopened, which recovers what reached
// the disk.
func (l *Log) Append(flags uint8, data []byte) (uint64, error) {
	if len(data) > maxPayload {
		return 0, ErrTooLarge
	}
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	seg := l.segs[len(l.segs)-1]
	size := int64(hdrSize + len(data))
	if seg.count > 0 && seg.size+size+sealSize > l.st.segSize {
		if err := l.rollLocked(); err != nil {
			l.mu.Unlock()
			l.st.markDirty(l)
			return 0, err
		}
		seg = l.segs[len(l.segs)-1]
	}
	seq := l.next
	l.next++
	seg.noteOffset(seq, seg.size)
	seg.count++
	seg.live++
	seg.size += size
	l.buf = appendRecord(l.buf, kindEnqueue, flags, seq, data)
	var err error
	if len(l.buf) >= flushAt {
		err = l.flushLocked()
	}
	l.mu.Unlock()
	l.st.markDirty(l)
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// Settle records that the messages with these sequence numbers are gone
// (acked, rejected, expired or dead-lettered). Unknown or already settled
// numbers are ignored. Settles are written by the sync loop, normally within
// a millisecond; one lost in a crash brings its message back, marked
// recovered, which is the at-least-once redelivery AMQP allows. A segment
// whose records are all settled is deleted at once.
func (l *Log) Settle(seqs ...uint64) error {
	l.mu.Lock()
	defer l.st.markDirty(l)
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if !slices.IsSorted(seqs) {
		l.scratch = append(l.scratch[:0], seqs...)
		slices.Sort(l.scratch)
		seqs = l.scratch
	}
	l.spans = l.spans[:0]
	for _, seq := range seqs {
		seg := l.segFor(seq)
		if seg == nil || !seg.settle(seq) {
			continue
		}
		l.spans = spansOf(l.spans, []uint64{seq})
		if seg.live == 0 {
			l.reclaimLocked(seg)
		} else {
			l.maybeCompactLocked(seg)
		}
	}
	l.ackBuf = appendSpans(l.ackBuf, l.spans)
	return nil
}

// SettleRange settles every record with a sequence number in [first, last],
// as a purge does; it is cheaper than listing them.
func (l *Log) SettleRange(first, last uint64) error {
	l.mu.Lock()
	defer l.st.markDirty(l)
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if first < l.segs[0].first {
		first = l.segs[0].first
	}
	if last >= l.next {
		last = l.next - 1
	}
	if first > last {
		return nil
	}
	var emptied []*segment
	for _, seg := range l.segs {
		lo, hi := max(first, seg.first), min(last+1, seg.end())
		for seq := lo; seq < hi; seq++ {
			seg.settle(seq)
		}
		if lo < hi && seg.live == 0 {
			emptied = append(emptied, seg)
		} else if lo < hi {
			l.maybeCompactLocked(seg)
		}
	}
	for _, seg := range emptied {
		l.reclaimLocked(seg)
	}
	l.ackBuf = appendSpans(l.ackBuf, []span{{first, last - first + 1}})
	return nil
}

// Wait returns a channel that receives nil once the record seq is durable,
// or the error that means it never will be. It is for callers that prefer a
// future to the OnDurable callback.
func (l *Log) Wait(seq uint64) <-chan error {
	ch := make(chan error, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case seq < l.durable:
		ch <- nil
	case l.failed != nil:
		ch <- l.failed
	case l.closed:
		ch <- ErrClosed
	default:
		l.waiters = append(l.waiters, waiter{seq, ch})
	}
	return ch
}

// Durable returns the sequence number below which every record is on
// disk.
func (l *Log) Durable() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// Len returns the number of records not settled.
func (l *Log) Len() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for _, s := range l.segs {
		n += s.live
	}
	return n
}

// Next returns the sequence number the next Append will get.
func (l *Log) Next() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// DiskSize returns the bytes the log's segments take on disk (and in the
// write buffer).
func (l *Log) DiskSize() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n + l.ackOff + int64(len(l.ackBuf))
}

// Segments returns how many segment files the log has.
func (l *Log) Segments() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.segs)
}

// Close writes and syncs what is pending, tells OnDurable and the waiters,
// and releases the log's files. The log's records stay on disk for the next
// OpenLog.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil
	}
	l.closing = true // the sync loop leaves the log alone from now on
	for l.inFlight || l.busy > 0 {
		l.cond.Wait()
	}
	before := l.durable
	err := l.failed
	if err == nil {
		err = l.flushLocked()
	}
	if err == nil {
		files := append(l.toSync, l.active, l.ack)
		for _, f := range files {
			if serr := f.Sync(); serr != nil && err == nil {
				err = fmt.Errorf("store: sync %s: %w", l.id, serr)
			}
		}
		if err == nil && l.dirDirty {
			err = l.fs.SyncDir(l.dir)
		}
		if err == nil {
			l.durable = l.written
		} else {
			l.failLocked(err)
		}
	}
	upTo := l.durable - 1
	report := l.durable > before || (err != nil && !l.reported)
	l.reported = l.reported || err != nil
	l.mu.Unlock()
	if report && l.onDurable != nil {
		l.onDurable(upTo, err)
	}
	l.shut()
	return err
}

// Delete closes the log without syncing and removes all its files: the
// queue is gone. Records not yet durable are reported to OnDurable and to
// waiters as ErrClosed.
func (l *Log) Delete() error {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	l.shut()
	if l.onDurable != nil {
		l.mu.Lock()
		upTo := l.durable - 1
		l.mu.Unlock()
		l.onDurable(upTo, ErrClosed)
	}
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("store: delete %s: %w", l.id, err)
	}
	return l.fs.SyncDir(parentDir(l.dir))
}

// shut waits out a sync in flight, then closes the files and fails waiters.
func (l *Log) shut() {
	l.mu.Lock()
	for l.inFlight || l.busy > 0 {
		l.cond.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	for _, f := range l.toSync {
		f.Close()
	}
	l.toSync = nil
	if l.active != nil {
		l.active.Close()
	}
	if l.ack != nil {
		l.ack.Close()
	}
	ws := l.waiters
	l.waiters = nil
	durable, failed := l.durable, l.failed
	l.mu.Unlock()
	for _, w := range ws {
		switch {
		case w.seq < durable:
			w.ch <- nil
		case failed != nil:
			w.ch <- failed
		default:
			w.ch <- ErrClosed
		}
	}
	l.st.forget(l)
}

func (l *Log) usableLocked() error {
	if l.closing {
		return ErrClosed
	}
	return l.failed
}

// failLocked makes err the log's sticky error. The sync loop reports it.
func (l *Log) failLocked(err error) error {
	if l.failed == nil {
		l.failed = err
		l.zl.Error("queue store failed; reopen the log to recover", zap.Error(err))
	}
	return l.failed
}

// segFor finds the segment whose range holds seq.
func (l *Log) segFor(seq uint64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].end() > seq })
	if i == len(l.segs) || !l.segs[i].contains(seq) {
		return nil
	}
	return l.segs[i]
}

// flushLocked writes the buffered records and settles to the OS.
func (l *Log) flushLocked() error {
	if len(l.buf) > 0 {
		if _, err := l.active.WriteAt(l.buf, l.activeOff); err != nil {
			// Take back a partial write so the file ends on a record.
			_ = l.active.Truncate(l.activeOff)
			l.buf = l.buf[:0]
			return l.failLocked(fmt.Errorf("store: write %s: %w", l.segs[len(l.segs)-1].path, err))
		}
		l.activeOff += int64(len(l.buf))
		l.dirty = true
		if cap(l.buf) > 4*flushAt {
			l.buf = nil
		} else {
			l.buf = l.buf[:0]
		}
	}
	l.written = l.next
	if len(l.ackBuf) > 0 {
		if _, err := l.ack.WriteAt(l.ackBuf, l.ackOff); err != nil {
			_ = l.ack.Truncate(l.ackOff)
			l.ackBuf = l.ackBuf[:0]
			return l.failLocked(fmt.Errorf("store: write settle log: %w", err))
		}
		l.ackOff += int64(len(l.ackBuf))
		l.ackBuf = l.ackBuf[:0]
		l.ackDirty = true
	}
	return nil
}

// rollLocked seals the active segment and starts a new one.
func (l *Log) rollLocked() error {
	seg := l.segs[len(l.segs)-1]
	if err := l.flushLocked(); err != nil {
		return err
	}
	if seg.count > 0 {
		tr := sealRecord(nil, seg.first, seg.count)
		if _, err := l.active.WriteAt(tr, l.activeOff); err != nil {
			_ = l.active.Truncate(l.activeOff)
			return l.failLocked(fmt.Errorf("store: seal %s: %w", seg.path, err))
		}
		seg.size = l.activeOff + int64(len(tr))
		seg.sealed = true
		l.toSync = append(l.toSync, l.active)
	}
	old := l.active
	if err := l.newActiveLocked(l.next); err != nil {
		return err
	}
	if seg.count == 0 {
		// Nothing in it: replace it.
		old.Close()
		_ = l.fs.Remove(seg.path)
		l.segs = slices.DeleteFunc(l.segs, func(s *segment) bool { return s == seg })
	} else if seg.live == 0 {
		l.reclaimLocked(seg)
	} else {
		l.maybeCompactLocked(seg)
	}
	return nil
}

// newActiveLocked creates the segment file that appends go to next.
func (l *Log) newActiveLocked(first uint64) error {
	path := segPath(l.dir, first)
	f, err := l.fs.Create(path)
	if err != nil {
		return l.failLocked(fmt.Errorf("store: create segment: %w", err))
	}
	l.segs = append(l.segs, &segment{first: first, path: path})
	l.active, l.activeOff = f, 0
	l.dirDirty = true
	return nil
}

// reclaimLocked deletes a segment whose records are all settled. The active
// segment is sealed first once it is big enough to be worth it.
func (l *Log) reclaimLocked(seg *segment) {
	if !seg.sealed {
		if seg != l.segs[len(l.segs)-1] || seg.size < l.st.segSize/8 {
			return
		}
		_ = l.rollLocked() // rollLocked reclaims seg
		return
	}
	i := slices.Index(l.segs, seg)
	if i < 0 {
		return
	}
	l.segs = slices.Delete(l.segs, i, i+1)
	if err := l.fs.Remove(seg.path); err != nil && !isNotExist(err) {
		l.zl.Warn("cannot delete settled segment", zap.String("file", seg.path), zap.Error(err))
	}
	// A sealed file still waiting for its sync is synced anyway (a wasted
	// fsync of an unlinked file, rare) and closed by the sync loop.
}

// syncJob is one log's share of a sync round.
type syncJob struct {
	l     *Log
	files []File
	seals int // files[:seals] are sealed segments, closed once synced
	dir   bool
	upTo  uint64 // records below it become durable
	err   error
}

// prepareSync flushes the log's buffers and lists what the round must sync.
func (l *Log) prepareSync() (syncJob, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return syncJob{}, false
	}
	if l.failed == nil {
		_ = l.flushLocked()
	}
	if l.failed == nil && l.ackOff > l.ackLimit {
		if err := l.compactLocked(); err != nil {
			l.failLocked(err)
		}
	}
	if l.failed != nil {
		if l.reported {
			return syncJob{}, false
		}
		l.reported = true
		l.inFlight = true
		return syncJob{l: l, err: l.failed}, true
	}
	j := syncJob{l: l, files: l.toSync, seals: len(l.toSync), dir: l.dirDirty, upTo: l.written}
	l.toSync = nil
	if l.dirty {
		j.files = append(j.files, l.active)
	}
	if l.ackDirty {
		j.files = append(j.files, l.ack)
	}
	l.dirty, l.ackDirty, l.dirDirty = false, false, false
	if len(j.files) == 0 && !j.dir && j.upTo <= l.durable && len(l.waiters) == 0 {
		return syncJob{}, false
	}
	l.inFlight = true
	return j, true
}

// finishSync records the outcome of a round and tells whoever waits.
func (l *Log) finishSync(j syncJob) {
	l.mu.Lock()
	l.inFlight = false
	l.cond.Broadcast()
	if j.err != nil {
		l.failLocked(j.err)
		j.err = l.failed
	} else if j.upTo > l.durable {
		l.durable = j.upTo
	}
	// Sealed files are done with once synced.
	for _, f := range j.files[:j.seals] {
		f.Close()
	}
	durable := l.durable
	var ready []waiter
	keep := l.waiters[:0]
	for _, w := range l.waiters {
		if w.seq < durable || j.err != nil {
			ready = append(ready, w)
		} else {
			keep = append(keep, w)
		}
	}
	clear(l.waiters[len(keep):])
	l.waiters = keep
	l.mu.Unlock()
	if l.onDurable != nil && (j.upTo > 0 || j.err != nil) {
		l.onDurable(durable-1, j.err)
	}
	for _, w := range ready {
		if j.err != nil && w.seq >= durable {
			w.ch <- j.err
		} else {
			w.ch <- nil
		}
	}
}

// compactLocked rewrites the settle log as a checkpoint of the settled
// records of live segments, dropping everything about deleted ones.
func (l *Log) compactLocked() error {
	var spans []span
	for _, s := range l.segs {
		spans = s.settledSpans(spans)
	}
	b := appendSpans(nil, spans)
	tmp := filepath.Join(l.dir, ackTmp)
	f, err := l.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("store: compact settle log: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		_ = l.fs.Remove(tmp)
		return fmt.Errorf("store: compact settle log: %w", err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	// Make segment deletions durable before the records about them go.
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fail(err)
	}
	if err := l.fs.Rename(tmp, filepath.Join(l.dir, ackName)); err != nil {
		return fail(err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fail(err)
	}
	if l.ack != nil {
		l.ack.Close()
	}
	l.ack, l.ackOff, l.ackBuf, l.ackDirty = f, int64(len(b)), l.ackBuf[:0], false
	l.ackLimit = max(minAckLimit, 4*int64(len(b)))
	return nil
}

// durableMark returns the log's durable mark (for the store's counters).
func (l *Log) durableMark() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// segAtOrAfter finds the first segment that ends after seq.
func (l *Log) segAtOrAfter(seq uint64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].end() > seq })
	if i == len(l.segs) {
		return nil
	}
	return l.segs[i]
}

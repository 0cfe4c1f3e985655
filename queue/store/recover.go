package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"go.uber.org/zap"
)

// LogOptions configure one log.
type LogOptions struct {
	// OnDurable is called from the store's sync loop after each round that
	// synced the log: every record with a sequence number up to upTo is on
	// disk. With a non-nil err, the records after upTo never will be: the
	// log failed (a write or fsync error, the disk full) and must be
	// reopened; it is also called with ErrClosed by Delete. upTo never
	// decreases. The callback must be quick and must not call back into the
	// log: hand the confirms to whoever sends them.
	OnDurable func(upTo uint64, err error)
}

// Recovery is what OpenLog found on disk.
type Recovery struct {
	// Count is the number of records not settled; they are the queue's
	// messages, and every one of them counts as redelivered.
	Count uint64
	// First is the lowest sequence number not settled (zero when Count is).
	First uint64
	// Next is the sequence number the next Append gets; records below it
	// were recovered.
	Next uint64
	// Segments is the number of segment files.
	Segments int
	// Damage lists the records dropped because their bytes were damaged.
	Damage []Damage
	// Took is how long recovery took.
	Took time.Duration

	dropped []uint64 // lost in the middle of segments, to be settled
}

// OpenLog opens the log id, creating it when it does not exist, and recovers
// its state: which records exist and which are settled. It reads every
// record of the last segment and of any segment without a valid seal record
// (of all segments with Options.Verify), but never the bodies of the sealed
// middle of the log. A torn or corrupt tail is cut; damaged records in the
// middle are dropped and reported; everything else is kept.
func (s *Store) OpenLog(id string, o LogOptions) (*Log, *Recovery, error) {
	if !validID(id) {
		return nil, nil, fmt.Errorf("store: invalid log id %q", id)
	}
	start := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, ErrClosed
	}
	if s.logs[id] != nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("store: log %s already open", id)
	}
	s.mu.Unlock()

	l := &Log{
		st:        s,
		id:        id,
		dir:       s.logDir(id),
		fs:        s.fs,
		zl:        s.zl.With(zap.String("log", id)),
		onDurable: o.OnDurable,
		ackLimit:  minAckLimit,
	}
	l.cond.L = &l.mu
	rec := &Recovery{}
	if err := l.recover(rec); err != nil {
		l.closeFiles()
		return nil, nil, err
	}
	s.mu.Lock()
	if s.logs[id] != nil || s.closed {
		s.mu.Unlock()
		l.closeFiles()
		return nil, nil, fmt.Errorf("store: log %s already open", id)
	}
	s.logs[id] = l
	s.mu.Unlock()
	l.mu.Lock()
	for _, seg := range l.segs {
		l.maybeCompactLocked(seg)
	}
	l.mu.Unlock()

	for _, seg := range l.segs {
		rec.Count += seg.live
		if rec.First == 0 && seg.live > 0 {
			for q := seg.first; q < seg.end(); q++ {
				if !seg.isSettled(q) {
					rec.First = q
					break
				}
			}
		}
	}
	rec.Next = l.next
	rec.Segments = len(l.segs)
	rec.Took = time.Since(start)
	for _, d := range rec.Damage {
		s.reportDamage(d)
	}
	return l, rec, nil
}

func (l *Log) closeFiles() {
	if l.active != nil {
		l.active.Close()
	}
	if l.ack != nil {
		l.ack.Close()
	}
}

// reportDamage logs d and passes it to OnDamage.
func (s *Store) reportDamage(d Damage) {
	s.zl.Warn("queue store dropped damaged records",
		zap.String("log", d.Log), zap.String("file", d.File), zap.Int64("offset", d.Offset),
		zap.Int64("bytes", d.Bytes), zap.Uint64("records", d.Records), zap.String("reason", d.Reason))
	if s.onDamage != nil {
		s.onDamage(d)
	}
}

// recover builds the log's state from its directory.
func (l *Log) recover(rec *Recovery) error {
	fs := l.fs
	if err := fs.MkdirAll(l.dir); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := fs.SyncDir(filepath.Dir(l.dir)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	names, err := fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var firsts []uint64
	for _, n := range names {
		if first, ok := parseSegName(n); ok {
			firsts = append(firsts, first)
		} else if n == ackTmp {
			_ = fs.Remove(filepath.Join(l.dir, n))
		}
	}
	slices.Sort(firsts)

	// The settle log first: damage counts need to know what was settled.
	settled, maxSettled, err := l.readSettleLog(rec)
	if err != nil {
		return err
	}
	unsettled := func(lo, hi uint64) uint64 {
		var n uint64
		for q := lo; q < hi; q++ {
			if !spansContain(settled, q) {
				n++
			}
		}
		return n
	}

	for i, first := range firsts {
		path := segPath(l.dir, first)
		last := i == len(firsts)-1
		f, err := fs.OpenFile(path)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		size, err := f.Size()
		if err != nil {
			f.Close()
			return fmt.Errorf("store: %w", err)
		}
		seg := &segment{first: first, path: path, size: size}
		if !last && !l.st.verify {
			if count, ok := readSeal(f, size, first); ok {
				seg.count, seg.sealed = count, true
				f.Close()
				l.segs = append(l.segs, seg)
				continue
			}
		}
		nextFirst := uint64(0)
		if !last {
			nextFirst = firsts[i+1]
		}
		if err := l.scanSegment(f, seg, nextFirst, unsettled, rec); err != nil {
			f.Close()
			return err
		}
		if last && !seg.sealed {
			l.active, l.activeOff = f, seg.size
		} else {
			f.Close()
		}
		if seg.count == 0 && !(last && !seg.sealed) {
			if err := fs.Remove(path); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			continue
		}
		l.segs = append(l.segs, seg)
	}

	// Apply the settles, and settle what was dropped.
	for _, seg := range l.segs {
		seg.live = seg.count
		i := sort.Search(len(settled), func(i int) bool { return settled[i].end() > seg.first })
		for ; i < len(settled) && settled[i].start < seg.end(); i++ {
			lo, hi := max(settled[i].start, seg.first), min(settled[i].end(), seg.end())
			for q := lo; q < hi; q++ {
				seg.settle(q)
			}
		}
	}
	for _, d := range rec.dropped {
		if seg := l.segFor(d); seg != nil {
			seg.settle(d)
		}
	}
	rec.dropped = nil

	// Decide where appends go. A settled sequence number must never be
	// reused: a settle that outlived the enqueue it names (lost unsynced)
	// would otherwise hit the new record that took its number.
	next := uint64(1)
	if n := len(l.segs); n > 0 {
		next = l.segs[n-1].end()
	}
	if maxSettled >= next {
		next = maxSettled + 1
	}
	var act *segment
	if n := len(l.segs); n > 0 && !l.segs[n-1].sealed {
		act = l.segs[n-1]
		if act.end() != next {
			// Seal it (or drop it when empty) and start afresh at next.
			l.segs = l.segs[:n-1]
			if act.count > 0 {
				tr := sealRecord(nil, act.first, act.count)
				if _, err := l.active.WriteAt(tr, l.activeOff); err != nil {
					return fmt.Errorf("store: seal %s: %w", act.path, err)
				}
				if err := l.active.Sync(); err != nil {
					return fmt.Errorf("store: seal %s: %w", act.path, err)
				}
				act.size += int64(len(tr))
				act.sealed = true
				l.segs = append(l.segs, act)
				l.active.Close()
			} else {
				l.active.Close()
				if err := fs.Remove(act.path); err != nil {
					return fmt.Errorf("store: %w", err)
				}
			}
			l.active, act = nil, nil
		}
	}
	l.next, l.written, l.durable, l.recovered = next, next, next, next
	if act == nil {
		if err := l.newActiveLocked(next); err != nil {
			return err
		}
	}
	// Reclaim what is all settled, then write a fresh settle log.
	for _, seg := range slices.Clone(l.segs) {
		if seg.sealed && seg.live == 0 {
			l.reclaimLocked(seg)
		}
	}
	if err := l.compactLocked(); err != nil {
		return err
	}
	l.dirDirty = false
	if l.failed != nil {
		return l.failed
	}
	return nil
}

// spansContain reports whether seq is in the sorted, merged spans.
func spansContain(spans []span, seq uint64) bool {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].end() > seq })
	return i < len(spans) && spans[i].start <= seq
}

// readSettleLog reads every settle record, returning the merged runs and
// the highest settled sequence number.
func (l *Log) readSettleLog(rec *Recovery) ([]span, uint64, error) {
	path := filepath.Join(l.dir, ackName)
	f, err := l.fs.Open(path)
	if err != nil {
		if isNotExist(err) {
			return nil, 0, nil
		}
		return nil, 0, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, 0, fmt.Errorf("store: %w", err)
	}
	var spans []span
	rr := newRecordReader(f, 0, size, nil)
	for {
		r, st, err := rr.next()
		if err != nil {
			return nil, 0, fmt.Errorf("store: read %s: %w", path, err)
		}
		if st == readEnd {
			break
		}
		if st == readOK && r.kind == kindSettle {
			var derr error
			if spans, derr = decodeSpans(spans, r.seq, r.payload); derr == nil {
				continue
			}
			rr.seek(r.off)
		}
		bad := rr.at()
		ok, err := rr.resync(func(h header) bool { return h.kind == kindSettle })
		if err != nil {
			return nil, 0, fmt.Errorf("store: read %s: %w", path, err)
		}
		reason := "corrupt settle record"
		if !ok {
			reason = "torn settle log tail"
		}
		rec.Damage = append(rec.Damage, Damage{Log: l.id, File: path, Offset: bad, Bytes: rr.at() - bad, Reason: reason})
		if !ok {
			break
		}
	}
	spans = mergeSpans(spans)
	var maxSettled uint64
	if n := len(spans); n > 0 {
		maxSettled = spans[n-1].end() - 1
	}
	return spans, maxSettled, nil
}

// scanSegment reads every record of a segment, checking each checksum, to
// learn its range, build its sparse index and find damage. A torn tail is
// cut off; a segment that is not the last and lost its seal gets a new one,
// so the next start-up need not scan it again.
func (l *Log) scanSegment(f File, seg *segment, nextFirst uint64, unsettled func(lo, hi uint64) uint64, rec *Recovery) error {
	rr := newRecordReader(f, 0, seg.size, nil)
	expect := seg.first
	goodEnd := int64(0)
	sealed := false
	for !sealed {
		r, st, err := rr.next()
		if err != nil {
			return fmt.Errorf("store: read %s: %w", seg.path, err)
		}
		if st == readEnd {
			break
		}
		if st == readOK {
			switch {
			case r.kind == kindEnqueue && r.seq >= expect:
				if r.seq > expect {
					rec.dropRange(expect, r.seq)
				}
				seg.noteOffset(r.seq, r.off)
				expect = r.seq + 1
				goodEnd = rr.at()
				continue
			case r.kind == kindSeal && r.seq+1 >= expect && r.seq+1 > seg.first:
				if r.seq+1 > expect {
					rec.dropRange(expect, r.seq+1)
				}
				expect = r.seq + 1
				goodEnd = rr.at()
				sealed = true
				continue
			}
			rr.seek(r.off)
		}
		bad := rr.at()
		ok, err := rr.resync(func(h header) bool {
			return h.kind == kindEnqueue && h.seq >= expect ||
				h.kind == kindSeal && h.seq+1 >= expect && h.seq+1 > seg.first
		})
		if err != nil {
			return fmt.Errorf("store: read %s: %w", seg.path, err)
		}
		d := Damage{Log: l.id, File: seg.path, Offset: bad, Bytes: rr.at() - bad, Reason: "corrupt records"}
		if ok {
			// The record found next says how many were lost.
			r, _, _ := rr.peek()
			lost := r.seq
			if r.kind == kindSeal {
				lost = r.seq + 1
			}
			d.Records = unsettled(expect, lost)
			d.First, d.End = expect, lost
		} else {
			d.Reason = "torn or corrupt tail"
			if nextFirst > expect {
				d.Records = unsettled(expect, nextFirst)
				d.First, d.End = expect, nextFirst
			}
		}
		rec.Damage = append(rec.Damage, d)
		if !ok {
			break
		}
	}
	if !sealed && nextFirst > expect && (len(rec.Damage) == 0 || rec.Damage[len(rec.Damage)-1].File != seg.path) {
		rec.Damage = append(rec.Damage, Damage{Log: l.id, File: seg.path, Offset: goodEnd,
			Records: unsettled(expect, nextFirst), First: expect, End: nextFirst,
			Reason: "segment ends early, without its seal record"})
	}
	if sealed && goodEnd < seg.size {
		rec.Damage = append(rec.Damage, Damage{Log: l.id, File: seg.path, Offset: goodEnd,
			Bytes: seg.size - goodEnd, Reason: "bytes after the seal record"})
	}
	seg.count = expect - seg.first
	changed := false
	if goodEnd < seg.size {
		changed = true
		if err := f.Truncate(goodEnd); err != nil {
			return fmt.Errorf("store: cut %s: %w", seg.path, err)
		}
		seg.size = goodEnd
	}
	if nextFirst != 0 && !sealed && seg.count > 0 {
		tr := sealRecord(nil, seg.first, seg.count)
		if _, err := f.WriteAt(tr, seg.size); err != nil {
			return fmt.Errorf("store: seal %s: %w", seg.path, err)
		}
		seg.size += int64(len(tr))
		sealed, changed = true, true
	}
	if changed {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("store: sync %s: %w", seg.path, err)
		}
	}
	seg.sealed = sealed
	return nil
}

// dropRange notes sequence numbers lost in the middle of a segment: they are
// settled once the segments are known.
func (r *Recovery) dropRange(lo, hi uint64) {
	for q := lo; q < hi; q++ {
		r.dropped = append(r.dropped, q)
	}
}

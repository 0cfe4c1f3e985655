package store

import (
	"fmt"
	"io"
)

// Record is one enqueued record handed out by a Reader.
type Record struct {
	// Seq is the record's sequence number.
	Seq uint64
	// Flags are the flags given to Append.
	Flags uint8
	// Data is the payload given to Append. It aliases the Reader's buffer
	// and is valid until the next call to Next.
	Data []byte
	// Recovered is true for records found on disk at open: the queue must
	// deliver them as redelivered, as RabbitMQ does for every recovered
	// message.
	Recovered bool
}

// Reader reads a log's records that are not settled, in sequence order,
// from the disk, holding one buffer (256 KiB, or one record if larger) in
// memory. A queue uses it to page bodies in from the head of its backlog.
// A Reader is not safe for concurrent use; a log can have several.
type Reader struct {
	l    *Log
	next uint64
	seg  *segment
	gen  uint64
	f    File
	rr   *recordReader
	buf  []byte
}

// NewReader returns a Reader that starts at the sequence number from.
func (l *Log) NewReader(from uint64) *Reader {
	return &Reader{l: l, next: from}
}

// Close releases the Reader's file.
func (r *Reader) Close() error {
	if r.f != nil {
		err := r.f.Close()
		r.f, r.seg, r.rr = nil, nil, nil
		return err
	}
	return nil
}

// Position returns the sequence number the Reader looks at next.
func (r *Reader) Position() uint64 { return r.next }

// Next returns the next record not settled, or io.EOF when the reader has
// caught up with the end of the log (more may be appended later: call again).
// Damaged records are skipped, settled and reported to Options.OnDamage.
func (r *Reader) Next() (Record, error) {
	l := r.l
	for {
		l.mu.Lock()
		if l.closed || l.closing {
			l.mu.Unlock()
			return Record{}, ErrClosed
		}
		if r.next >= l.next {
			l.mu.Unlock()
			return Record{}, io.EOF
		}
		seg := l.segAtOrAfter(r.next)
		if seg == nil {
			l.mu.Unlock()
			return Record{}, io.EOF
		}
		if r.next < seg.first {
			r.next = seg.first
		}
		if seg != r.seg || seg.gen != r.gen {
			if err := r.open(seg); err != nil {
				l.mu.Unlock()
				return Record{}, err
			}
		}
		active := seg == l.segs[len(l.segs)-1] && !seg.sealed
		if active {
			if r.next >= l.written {
				if err := l.flushLocked(); err != nil {
					l.mu.Unlock()
					return Record{}, err
				}
			}
			r.rr.limit = l.activeOff
		} else {
			r.rr.limit = seg.size
		}
		l.mu.Unlock()

		rec, st, err := r.rr.next()
		if err != nil {
			return Record{}, fmt.Errorf("store: read %s: %w", seg.path, err)
		}
		switch st {
		case readEnd:
			if !active {
				r.lose(seg, seg.end(), r.rr.at(), 0, "segment ends early")
				r.next = seg.end()
			}
			continue // for the active segment: look again at the limits
		case readOK:
			if rec.kind == kindEnqueue {
				r.noteOffset(seg, rec.seq, rec.off)
			}
			switch {
			case rec.kind == kindSeal:
				if rec.seq+1 > r.next {
					r.lose(seg, rec.seq+1, rec.off, 0, "missing records")
				}
				r.next = seg.end()
				continue
			case rec.kind != kindEnqueue:
				r.rr.seek(rec.off)
			case rec.seq < r.next:
				continue // before the start: skip
			default:
				if rec.seq > r.next {
					r.lose(seg, rec.seq, rec.off, 0, "missing records")
				}
				r.next = rec.seq + 1
				l.mu.Lock()
				settled := seg.isSettled(rec.seq)
				l.mu.Unlock()
				if settled {
					continue
				}
				return Record{Seq: rec.seq, Flags: rec.flags, Data: rec.payload, Recovered: rec.seq < l.recovered}, nil
			}
		}
		// Damaged bytes: find the next good record.
		bad := r.rr.at()
		want := r.next
		ok, err := r.rr.resync(func(h header) bool {
			return h.kind == kindEnqueue && h.seq >= want || h.kind == kindSeal && h.seq+1 >= want
		})
		if err != nil {
			return Record{}, fmt.Errorf("store: read %s: %w", seg.path, err)
		}
		if ok {
			next, _, _ := r.rr.peek()
			upTo := next.seq
			if next.kind == kindSeal {
				upTo = next.seq + 1
			}
			r.lose(seg, upTo, bad, r.rr.at()-bad, "corrupt records")
			r.next = upTo
		} else if !active {
			r.lose(seg, seg.end(), bad, r.rr.at()-bad, "corrupt records")
			r.next = seg.end()
		} else {
			l.mu.Lock()
			upTo := l.written
			l.mu.Unlock()
			r.lose(seg, upTo, bad, r.rr.at()-bad, "corrupt records")
			r.next = upTo
		}
	}
}

// noteOffset fills in seg's sparse index with the offset of record seq
// as the reader passes it. A segment recovered sealed has no index (its
// records were not scanned at open), so without this every read that
// starts inside it would scan from the segment's start; reading it once
// in order, as a recovery does, indexes it. Only every indexEvery-th
// record takes the lock, and a file replaced by compaction meanwhile is
// not indexed from the old one.
func (r *Reader) noteOffset(seg *segment, seq uint64, off int64) {
	if seq < seg.first || (seq-seg.first)%indexEvery != 0 {
		return
	}
	r.l.mu.Lock()
	if seg.gen == r.gen {
		seg.noteOffset(seq, off)
	}
	r.l.mu.Unlock()
}

// open switches the reader to seg; l.mu is held.
func (r *Reader) open(seg *segment) error {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	f, err := r.l.fs.Open(seg.path)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", seg.path, err)
	}
	r.f, r.seg, r.gen = f, seg, seg.gen
	if r.rr == nil {
		r.rr = newRecordReader(f, seg.offsetFor(r.next), seg.size, r.buf)
		r.buf = r.rr.buf
	} else {
		r.rr.reset(f, seg.offsetFor(r.next), seg.size)
	}
	return nil
}

// lose settles the records of seg in [r.next, upTo) that are not settled
// yet, because the reader found them missing or damaged, and reports them.
func (r *Reader) lose(seg *segment, upTo uint64, off, n int64, reason string) {
	l := r.l
	l.mu.Lock()
	var lost uint64
	l.spans = l.spans[:0]
	for q := r.next; q < upTo && q < seg.end(); q++ {
		if q >= seg.first && seg.settle(q) {
			lost++
			l.spans = spansOf(l.spans, []uint64{q})
		}
	}
	l.ackBuf = appendSpans(l.ackBuf, l.spans)
	if seg.live == 0 && !l.closing {
		l.reclaimLocked(seg)
	}
	l.mu.Unlock()
	if lost == 0 && n == 0 {
		return
	}
	l.st.markDirty(l)
	first, end := r.next, min(upTo, seg.end())
	if end < first {
		end = first
	}
	l.st.reportDamage(Damage{Log: l.id, File: seg.path, Offset: off, Bytes: n, Records: lost,
		First: first, End: end, Reason: reason})
}

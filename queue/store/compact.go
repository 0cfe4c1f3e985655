package store

import (
	"fmt"

	"go.uber.org/zap"
)

// A sealed segment in which at most a quarter of the records are still live
// is rewritten with only those records, keeping its name, range and
// sequence numbers, so a few long-unacked messages cannot pin whole
// segments to the disk. The copy runs on the store's compactor goroutine,
// without the log's lock; only the swap (rename and directory sync) holds it.

// compactReq asks the compactor to rewrite one segment.
type compactReq struct {
	l   *Log
	seg *segment
}

// compactWorthy reports whether seg should be rewritten.
func (l *Log) compactWorthy(seg *segment) bool {
	if !seg.sealed || seg.compacting || seg.live == 0 {
		return false
	}
	if seg.packedLive > 0 { // compacted before: again once half of that died
		return seg.live*2 <= seg.packedLive
	}
	return seg.live*4 <= seg.count
}

// maybeCompactLocked queues seg for compaction when it is worth it.
func (l *Log) maybeCompactLocked(seg *segment) {
	if l.closing || !l.compactWorthy(seg) {
		return
	}
	seg.compacting = true
	l.busy++
	select {
	case l.st.compactQ <- compactReq{l, seg}:
	default: // the compactor is behind; a later settle will ask again
		seg.compacting = false
		l.doneBusyLocked()
	}
}

func (l *Log) doneBusyLocked() {
	l.busy--
	l.cond.Broadcast()
}

// compactor rewrites segments queued by maybeCompactLocked.
func (s *Store) compactor() {
	defer close(s.compactDone)
	for req := range s.compactQ {
		if err := req.l.compactSegment(req.seg); err != nil {
			req.l.zl.Warn("segment compaction failed; the segment is kept as it is",
				zap.String("file", req.seg.path), zap.Error(err))
		}
	}
}

// compactSegment copies the live records of seg into a new file and swaps it
// in.
func (l *Log) compactSegment(seg *segment) (err error) {
	l.mu.Lock()
	path, size, first, count := seg.path, seg.size, seg.first, seg.count
	ok := !l.closing && segIndex(l.segs, seg) >= 0
	l.mu.Unlock()
	finish := func() {
		l.mu.Lock()
		seg.compacting = false
		l.doneBusyLocked()
		l.mu.Unlock()
	}
	if !ok {
		finish()
		return nil
	}
	tmp := path + ".compact"
	defer func() {
		if err != nil {
			_ = l.fs.Remove(tmp)
			finish()
		}
	}()
	src, err := l.fs.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := l.fs.Create(tmp)
	if err != nil {
		return err
	}
	defer dst.Close()
	rr := newRecordReader(src, 0, size, nil)
	var out []byte
	var index []int64
	var off int64
	var kept uint64
	for {
		rec, st, err := rr.next()
		if err != nil {
			return err
		}
		if st == readEnd {
			break
		}
		if st == readBad {
			return fmt.Errorf("damaged record at offset %d: left for the reader to report", rr.at())
		}
		if rec.kind == kindSeal {
			break
		}
		if rec.kind != kindEnqueue {
			continue
		}
		l.mu.Lock()
		settled := seg.isSettled(rec.seq)
		l.mu.Unlock()
		if settled {
			continue
		}
		pos := off + int64(len(out))
		for first+uint64(len(index))*indexEvery <= rec.seq {
			index = append(index, pos)
		}
		kept++
		out = appendRecord(out, kindEnqueue, rec.flags, rec.seq, rec.payload)
		if len(out) >= 1<<20 {
			if _, err := dst.WriteAt(out, off); err != nil {
				return err
			}
			off += int64(len(out))
			out = out[:0]
		}
	}
	out = sealRecord(out, first, count)
	if _, err := dst.WriteAt(out, off); err != nil {
		return err
	}
	newSize := off + int64(len(out))
	if err := dst.Sync(); err != nil {
		return err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	seg.compacting = false
	defer l.doneBusyLocked()
	if l.closing || segIndex(l.segs, seg) < 0 {
		_ = l.fs.Remove(tmp)
		return nil
	}
	// The settles of the records left out must be durable before the
	// records are gone, or a crash would count them as live but missing.
	if err := l.flushLocked(); err != nil {
		_ = l.fs.Remove(tmp)
		return err
	}
	if err := l.ack.Sync(); err != nil {
		_ = l.fs.Remove(tmp)
		return l.failLocked(fmt.Errorf("store: sync settle log: %w", err))
	}
	if err := l.fs.Rename(tmp, path); err != nil {
		_ = l.fs.Remove(tmp)
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		// The rename may or may not survive a crash; either file is whole.
		l.zl.Warn("directory sync after compaction failed", zap.Error(err))
	}
	seg.size, seg.index = newSize, index
	seg.packedLive = max(kept, 1)
	seg.gen++
	err = nil
	return nil
}

// segIndex returns the position of seg in segs, or -1.
func segIndex(segs []*segment, seg *segment) int {
	for i, s := range segs {
		if s == seg {
			return i
		}
	}
	return -1
}

package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dirBytes is the size of the files in dir, as on disk.
func dirBytes(t *testing.T, dir string) (int64, int) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	segs := 0
	for _, e := range es {
		fi, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		n += fi.Size()
		if _, ok := parseSegName(e.Name()); ok {
			segs++
		}
	}
	return n, segs
}

// Under steady publish and ack the disk does not grow: segments whose
// records are all settled are deleted, even while an old message at the
// head stays unacked (no head-of-line blocking), and the settle log is
// rewritten before it grows past its limit.
func TestSpaceReclaimedAfterAcks(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{SegmentSize: 64 << 10})
	l, _ := openLog(t, s, "q")
	qdir := filepath.Join(dir, "q")
	const total, lag, size = 200_000, 1000, 100
	var written, maxDisk int64
	var maxSegs int
	for i := uint64(1); i <= total; i++ {
		seq, err := l.Append(0, payload(i, size))
		if err != nil {
			t.Fatal(err)
		}
		written += hdrSize + size
		// Ack what is lag behind, one at a time as a consumer would, but
		// never the very first message.
		if seq > lag && seq-lag != 1 {
			if err := l.Settle(seq - lag); err != nil {
				t.Fatal(err)
			}
		}
		if i%10_000 == 0 {
			wait(t, l, seq)
			n, segs := dirBytes(t, qdir)
			maxDisk, maxSegs = max(maxDisk, n), max(maxSegs, segs)
		}
	}
	wait(t, l, total)
	t.Logf("wrote %d MB of records; disk peaked at %d KB in %d segments", written>>20, maxDisk>>10, maxSegs)
	if maxSegs > 6 {
		t.Fatalf("%d segment files kept for %d live records", maxSegs, lag+1)
	}
	if maxDisk > minAckLimit+8*(64<<10) {
		t.Fatalf("disk grew to %d bytes", maxDisk)
	}
	if l.Len() != lag+1 {
		t.Fatalf("Len %d, want %d", l.Len(), lag+1)
	}
	l.Close()
	l, rec := openLog(t, s, "q")
	if rec.Count != lag+1 || rec.First != 1 {
		t.Fatalf("after reopen: %+v", rec)
	}
	// Settling the rest leaves at most the active segment.
	l.SettleRange(1, total)
	l.Close()
	n, segs := dirBytes(t, qdir)
	if segs > 1 || n > 64<<10 {
		t.Fatalf("after settling everything: %d segments, %d bytes", segs, n)
	}
}

// One message left unacked in every segment does not pin the segments'
// bytes: mostly-dead segments are rewritten with their live records only,
// which read back intact, in order, before and after a restart.
func TestCompactionOfMostlyDeadSegments(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{SegmentSize: 64 << 10})
	l, _ := openLog(t, s, "q")
	qdir := filepath.Join(dir, "q")
	const total, size, keepEvery = 50_000, 200, 500
	var kept []uint64
	for i := uint64(1); i <= total; i++ {
		seq, err := l.Append(0, payload(i, size))
		if err != nil {
			t.Fatal(err)
		}
		if seq%keepEvery == 0 {
			kept = append(kept, seq)
		} else if err := l.Settle(seq); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, l, total)
	written := int64(total * (hdrSize + size))
	// The compactor runs behind the settles: poll for the disk to shrink.
	var n int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n, _ = dirBytes(t, qdir); n < written/8 {
			break
		}
	}
	_, segs := dirBytes(t, qdir)
	t.Logf("wrote %d KB, %d live records in %d segments take %d KB", written>>10, len(kept), segs, n>>10)
	if n >= written/8 {
		t.Fatalf("disk holds %d bytes of %d written for %d live records", n, written, len(kept))
	}
	check := func(l *Log) {
		t.Helper()
		recs := readAll(t, l, 1)
		if len(recs) != len(kept) {
			t.Fatalf("read %d records, want %d", len(recs), len(kept))
		}
		for i, r := range recs {
			if r.Seq != kept[i] || !bytes.Equal(r.Data, payload(r.Seq, size)) {
				t.Fatalf("record %d: got seq %d or wrong data", kept[i], r.Seq)
			}
		}
		// A reader starting in the middle of a compacted segment.
		mid := readAll(t, l, kept[len(kept)/2]-3)
		if len(mid) == 0 || mid[0].Seq != kept[len(kept)/2] {
			t.Fatalf("reader from the middle starts at %v", mid)
		}
	}
	check(l)
	l.Close()
	l, rec := openLog(t, s, "q")
	if rec.Count != uint64(len(kept)) || len(rec.Damage) != 0 {
		t.Fatalf("after reopen: %+v", rec)
	}
	check(l)
}

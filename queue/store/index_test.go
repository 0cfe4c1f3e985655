package store

import (
	"testing"
)

// A segment recovered sealed is not scanned at open, so it has no sparse
// index; reading it once in order indexes it, so that a later reader
// starting inside it (the quorum WAL reading one entry) starts near its
// record instead of scanning from the segment's start.
func TestReaderIndexesRecoveredSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := openLog(t, s, "q")
	var last uint64
	for i := uint64(1); i <= 12000; i++ {
		if last, err = l.Append(0, payload(i, 16)); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, l, last)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, Options{SegmentSize: 128 << 10})
	l, _ = openLog(t, s, "q")
	sealed := l.segs[:len(l.segs)-1]
	if len(sealed) < 2 {
		t.Fatalf("%d sealed segments, want several", len(sealed))
	}
	for _, seg := range sealed {
		if seg.count <= 2*indexEvery {
			t.Fatalf("segment of %d records: too few to index", seg.count)
		}
		if len(seg.index) > 1 {
			t.Fatalf("sealed segment indexed at open (%d entries): the test shows nothing", len(seg.index))
		}
	}
	if n := len(readAll(t, l, 1)); n != 12000 {
		t.Fatalf("read %d records, want 12000", n)
	}
	for _, seg := range sealed {
		want := int((seg.count + indexEvery - 1) / indexEvery)
		if len(seg.index) != want {
			t.Fatalf("segment %d: %d index entries after reading it, want %d", seg.first, len(seg.index), want)
		}
		mid := seg.first + seg.count - 10
		if off := seg.offsetFor(mid); off == 0 {
			t.Fatalf("segment %d: record %d still read from the segment's start", seg.first, mid)
		}
		recs := readAll(t, l, mid)
		if len(recs) == 0 || recs[0].Seq != mid || string(recs[0].Data) != string(payload(mid, 16)) {
			t.Fatalf("reading from %d: got %+v", mid, recs[:min(1, len(recs))])
		}
	}
}

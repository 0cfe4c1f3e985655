package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// payload is the deterministic body of the record tagged key.
func payload(key uint64, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.LittleEndian.PutUint64(b, key)
	for i := 8; i < len(b); i++ {
		b[i] = byte(key*31 + uint64(i))
	}
	return b
}

func openStore(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openLog(t testing.TB, s *Store, id string) (*Log, *Recovery) {
	t.Helper()
	l, rec, err := s.OpenLog(id, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l, rec
}

// readAll returns the records a new reader finds, copying their data.
func readAll(t testing.TB, l *Log, from uint64) []Record {
	t.Helper()
	r := l.NewReader(from)
	defer r.Close()
	var out []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Data = bytes.Clone(rec.Data)
		out = append(out, rec)
	}
}

func wait(t testing.TB, l *Log, seq uint64) {
	t.Helper()
	select {
	case err := <-l.Wait(seq):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("record %d not durable after 10s", seq)
	}
}

// A queue's messages come back after a restart in order, settled ones
// excepted, and every one of them is marked recovered.
func TestAppendSettleReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{SegmentSize: 4096})
	l, rec := openLog(t, s, "q1")
	if rec.Count != 0 || rec.Next != 1 {
		t.Fatalf("fresh log: %+v", rec)
	}
	var last uint64
	for i := uint64(1); i <= 500; i++ {
		seq, err := l.Append(uint8(i), payload(i, int(i%200)))
		if err != nil {
			t.Fatal(err)
		}
		if seq != i {
			t.Fatalf("seq %d, want %d", seq, i)
		}
		last = seq
	}
	wait(t, l, last)
	// Settle every third, and a range.
	var settle []uint64
	for i := uint64(3); i <= 500; i += 3 {
		settle = append(settle, i)
	}
	if err := l.Settle(settle...); err != nil {
		t.Fatal(err)
	}
	if err := l.SettleRange(100, 199); err != nil {
		t.Fatal(err)
	}
	want := map[uint64]bool{}
	for i := uint64(1); i <= 500; i++ {
		if i%3 != 0 && (i < 100 || i > 199) {
			want[i] = true
		}
	}
	if got := l.Len(); got != uint64(len(want)) {
		t.Fatalf("Len %d, want %d", got, len(want))
	}
	check := func(l *Log, recovered bool) {
		t.Helper()
		recs := readAll(t, l, 1)
		if len(recs) != len(want) {
			t.Fatalf("read %d records, want %d", len(recs), len(want))
		}
		prev := uint64(0)
		for _, r := range recs {
			if !want[r.Seq] || r.Seq <= prev {
				t.Fatalf("unexpected record %d after %d", r.Seq, prev)
			}
			prev = r.Seq
			if !bytes.Equal(r.Data, payload(r.Seq, int(r.Seq%200))) || r.Flags != uint8(r.Seq) {
				t.Fatalf("record %d: wrong data or flags", r.Seq)
			}
			if r.Recovered != recovered {
				t.Fatalf("record %d: recovered %v", r.Seq, r.Recovered)
			}
		}
	}
	check(l, false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, rec = openLog(t, s, "q1")
	if rec.Count != uint64(len(want)) || rec.Next != 501 || rec.First != 1 || len(rec.Damage) != 0 {
		t.Fatalf("recovery %+v, want count %d", rec, len(want))
	}
	check(l, true)
	seq, err := l.Append(0, []byte("after"))
	if err != nil || seq != 501 {
		t.Fatalf("append after reopen: %d %v", seq, err)
	}
	recs := readAll(t, l, 501)
	if len(recs) != 1 || recs[0].Recovered || string(recs[0].Data) != "after" {
		t.Fatalf("new record read back as %+v", recs)
	}
}

// A reader started in the middle of a long log finds its place through the
// sparse index and returns only what follows.
func TestReaderFromMiddle(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{SegmentSize: 64 << 10})
	l, _ := openLog(t, s, "q")
	for i := uint64(1); i <= 5000; i++ {
		if _, err := l.Append(0, payload(i, 16)); err != nil {
			t.Fatal(err)
		}
	}
	recs := readAll(t, l, 3333)
	if len(recs) != 5000-3333+1 || recs[0].Seq != 3333 || recs[len(recs)-1].Seq != 5000 {
		t.Fatalf("read %d records from 3333 (first %d)", len(recs), recs[0].Seq)
	}
	// A reader that caught up sees records appended later.
	r := l.NewReader(5001)
	defer r.Close()
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("caught-up reader: %v", err)
	}
	seq, _ := l.Append(0, []byte("x"))
	rec, err := r.Next()
	if err != nil || rec.Seq != seq {
		t.Fatalf("reader after append: %+v %v", rec, err)
	}
}

// A settle that reached the disk while the enqueue it names did not (lost in
// a crash) must not hit a new record that reuses the number.
func TestSequenceNumbersNeverReused(t *testing.T) {
	fs := newMemFS()
	s := openStore(t, "/data", Options{FS: fs})
	l, _ := openLog(t, s, "q")
	a, _ := l.Append(0, []byte("a"))
	wait(t, l, a)
	// Appended and settled, the settle synced, the enqueue not: write the
	// settle log by hand the way a sync round would, then crash.
	b, _ := l.Append(0, []byte("b"))
	l.mu.Lock()
	seg := l.segFor(b)
	seg.settle(b)
	l.ackBuf = appendSpans(l.ackBuf, []span{{b, 1}})
	l.buf = l.buf[:0] // the enqueue never reached the file
	l.next = b        // keep the log consistent for the final sync
	seg.count--
	if _, err := l.ack.WriteAt(l.ackBuf, l.ackOff); err != nil {
		t.Fatal(err)
	}
	l.ack.Sync()
	l.mu.Unlock()
	crashed := fs.crash()

	s2 := openStore(t, "/data", Options{FS: crashed})
	l2, rec := openLog(t, s2, "q")
	if rec.Count != 1 || rec.Next <= b {
		t.Fatalf("recovery %+v: next must be past the settled %d", rec, b)
	}
	c, _ := l2.Append(0, []byte("c"))
	wait(t, l2, c)
	l2.Close()
	l3, rec := openLog(t, s2, "q")
	if rec.Count != 2 {
		t.Fatalf("new record lost to an old settle: %+v", rec)
	}
	recs := readAll(t, l3, 1)
	if len(recs) != 2 || string(recs[0].Data) != "a" || string(recs[1].Data) != "c" {
		t.Fatalf("records %+v", recs)
	}
}

// A full disk fails the write with an error to the caller and the
// durability callback, corrupts nothing, and a reopen keeps every record
// that was confirmed.
func TestDiskFull(t *testing.T) {
	fs := newMemFS()
	fs.capacity = 64 << 10
	s := openStore(t, "/data", Options{FS: fs})
	var cbErr error
	done := make(chan struct{}, 1)
	l, _, err := s.OpenLog("q", LogOptions{OnDurable: func(upTo uint64, err error) {
		if err != nil && cbErr == nil {
			cbErr = err
			done <- struct{}{}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var confirmed uint64
	var appendErr error
	for i := uint64(1); i < 10000; i++ {
		seq, err := l.Append(0, payload(i, 1000))
		if err != nil {
			appendErr = err
			break
		}
		if err := <-l.Wait(seq); err != nil {
			appendErr = err
			break
		}
		confirmed = seq
	}
	if !errors.Is(appendErr, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v", appendErr)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("OnDurable not told about the failure")
	}
	if !errors.Is(cbErr, syscall.ENOSPC) {
		t.Fatalf("OnDurable error %v", cbErr)
	}
	if _, err := l.Append(0, []byte("x")); err == nil {
		t.Fatal("append after failure succeeded")
	}
	l.Close()
	fs.capacity = 0 // space returns
	l, rec := openLog(t, s, "q")
	if rec.Count != confirmed || len(rec.Damage) != 0 {
		t.Fatalf("recovery %+v, want %d records and no damage", rec, confirmed)
	}
	recs := readAll(t, l, 1)
	for i, r := range recs {
		if r.Seq != uint64(i+1) || !bytes.Equal(r.Data, payload(r.Seq, 1000)) {
			t.Fatalf("record %d wrong after disk full", i+1)
		}
	}
	if _, err := l.Append(0, []byte("x")); err != nil {
		t.Fatalf("append after space returned: %v", err)
	}
}

// Deleting a queue's log removes its files.
func TestDelete(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	l, _ := openLog(t, s, "gone")
	l.Append(0, []byte("x"))
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	ids, _ := s.IDs()
	if len(ids) != 0 {
		t.Fatalf("ids after delete: %v", ids)
	}
	if _, err := l.Append(0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after delete: %v", err)
	}
	_ = filepath.Join
}

func TestLogID(t *testing.T) {
	a, b := LogID("/", "q"), LogID("/", "q2")
	if a == b || !validID(a) || LogID("/", "q") != a || LogID("/q", "") == LogID("/", "q") {
		t.Fatalf("LogID not a stable, distinct, valid name: %s %s", a, b)
	}
}

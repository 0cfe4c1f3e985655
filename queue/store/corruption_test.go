package store

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// layout is where every record of a closed log sits on disk.
type layout struct {
	segs    []string // segment paths, in order
	recs    map[uint64]recLoc
	size    map[uint64]int // payload size by seq
	settled map[uint64]bool
	last    uint64
}

type recLoc struct {
	seg      int
	off, end int64
}

// buildTemplate writes a closed log with many small segments and some
// settled records, and maps it.
func buildTemplate(t *testing.T) (string, *layout) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := s.OpenLog("q", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lay := &layout{recs: map[uint64]recLoc{}, size: map[uint64]int{}, settled: map[uint64]bool{}}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := uint64(1); i <= 1500; i++ {
		n := rng.IntN(300)
		seq, err := l.Append(0, payload(i, n))
		if err != nil || seq != i {
			t.Fatal(seq, err)
		}
		lay.size[seq] = max(n, 8)
		if i%7 == 0 && i > 20 {
			l.Settle(i - 20)
			lay.settled[i-20] = true
		}
	}
	lay.last = 1500
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	qdir := filepath.Join(dir, "q")
	names, _ := os.ReadDir(qdir)
	for _, e := range names {
		if _, ok := parseSegName(e.Name()); ok {
			lay.segs = append(lay.segs, filepath.Join(qdir, e.Name()))
		}
	}
	for i, p := range lay.segs {
		f, _ := OSFS{}.Open(p)
		size, _ := f.Size()
		rr := newRecordReader(f, 0, size, nil)
		for {
			r, st, err := rr.next()
			if err != nil || st == readBad {
				t.Fatalf("template %s damaged: %v", p, err)
			}
			if st == readEnd {
				break
			}
			if r.kind == kindEnqueue {
				lay.recs[r.seq] = recLoc{i, r.off, r.off + r.size()}
			}
		}
		f.Close()
	}
	if len(lay.segs) < 10 {
		t.Fatalf("template has only %d segments", len(lay.segs))
	}
	return dir, lay
}

// copyTemplate copies the template store into a fresh directory.
func copyTemplate(t *testing.T, src string) string {
	dst := filepath.Join(t.TempDir(), "s")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// damageRun opens a damaged copy and returns what it recovered, by seq, and
// every damage report, at open and while reading.
func damageRun(t *testing.T, dir string, verify bool) (map[uint64][]byte, *Recovery, []Damage) {
	var mu sync.Mutex
	var reports []Damage
	s, err := Open(dir, Options{SegmentSize: 8 << 10, Verify: verify, OnDamage: func(d Damage) {
		mu.Lock()
		reports = append(reports, d)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, rec, err := s.OpenLog("q", LogOptions{})
	if err != nil {
		t.Fatalf("open after damage: %v", err)
	}
	got := map[uint64][]byte{}
	prev := uint64(0)
	for _, r := range readAll(t, l, 1) {
		if r.Seq <= prev {
			t.Fatalf("out of order: %d after %d", r.Seq, prev)
		}
		prev = r.Seq
		got[r.Seq] = r.Data
	}
	if rec.Count < uint64(len(got)) {
		t.Fatalf("recovery counted %d records, reader found %d", rec.Count, len(got))
	}
	// A second open sees the repaired log: no new losses.
	after := l.Len()
	if after != uint64(len(got)) {
		t.Fatalf("after reading, Len %d but %d records found", after, len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	return got, rec, append([]Damage(nil), reports...)
}

// checkSurvivors checks that exactly the records not settled and not lost
// came back, with their data intact.
func checkSurvivors(t *testing.T, lay *layout, got map[uint64][]byte, lost map[uint64]bool) {
	t.Helper()
	for seq := uint64(1); seq <= lay.last; seq++ {
		data, ok := got[seq]
		want := !lay.settled[seq] && !lost[seq]
		if ok != want {
			t.Fatalf("record %d: recovered %v, want %v (lost %v, settled %v)", seq, ok, want, lost[seq], lay.settled[seq])
		}
		if ok && !bytes.Equal(data, payload(seq, lay.size[seq])) {
			t.Fatalf("record %d came back with wrong data", seq)
		}
	}
}

func reportedRecords(ds []Damage) uint64 {
	var n uint64
	for _, d := range ds {
		n += d.Records
	}
	return n
}

// Truncating any segment at any offset loses only the records at and after
// the cut in that segment, reports them (their exact number when a later
// segment bounds the range), and keeps everything else.
func TestRecoverTruncatedSegments(t *testing.T) {
	tmpl, lay := buildTemplate(t)
	rng := rand.New(rand.NewPCG(42, 1))
	iters := 60
	if testing.Short() {
		iters = 15
	}
	for it := range iters {
		dir := copyTemplate(t, tmpl)
		si := rng.IntN(len(lay.segs))
		path := filepath.Join(dir, "q", filepath.Base(lay.segs[si]))
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		cut := rng.Int64N(fi.Size())
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		lost := map[uint64]bool{}
		var lostUnsettled uint64
		for seq, lc := range lay.recs {
			if lc.seg == si && lc.end > cut {
				lost[seq] = true
				if !lay.settled[seq] {
					lostUnsettled++
				}
			}
		}
		got, rec, reports := damageRun(t, dir, it%2 == 1)
		checkSurvivors(t, lay, got, lost)
		if si < len(lay.segs)-1 && reportedRecords(reports) != lostUnsettled {
			t.Fatalf("iteration %d: cut segment %d at %d: reported %d lost records, lost %d: %+v",
				it, si, cut, reportedRecords(reports), lostUnsettled, reports)
		}
		if lostUnsettled > 0 && len(rec.Damage) == 0 {
			t.Fatalf("iteration %d: %d records lost and nothing reported", it, lostUnsettled)
		}
		// Repaired: a second open reports nothing new and keeps the same.
		got2, rec2, _ := damageRun(t, dir, false)
		if len(rec2.Damage) != 0 || len(got2) != len(got) {
			t.Fatalf("iteration %d: second open reports %+v, %d records (first: %d)", it, rec2.Damage, len(got2), len(got))
		}
	}
}

// Flipping random bytes anywhere in the segments drops exactly the records
// whose bytes were hit, reports that many (at open or when the reader
// reaches them) and keeps every other record intact.
func TestRecoverFlippedBytes(t *testing.T) {
	tmpl, lay := buildTemplate(t)
	rng := rand.New(rand.NewPCG(42, 2))
	iters := 80
	if testing.Short() {
		iters = 20
	}
	for it := range iters {
		dir := copyTemplate(t, tmpl)
		flips := 1 + it%3
		lost := map[uint64]bool{}
		hit := map[[2]int64]bool{}
		for range flips {
			si := rng.IntN(len(lay.segs))
			path := filepath.Join(dir, "q", filepath.Base(lay.segs[si]))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off := rng.Int64N(int64(len(b)))
			if hit[[2]int64{int64(si), off}] {
				continue // a second flip of one byte may undo the first
			}
			hit[[2]int64{int64(si), off}] = true
			b[off] ^= byte(1 + rng.IntN(255))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			for seq, lc := range lay.recs {
				if lc.seg == si && off >= lc.off && off < lc.end {
					lost[seq] = true
				}
			}
		}
		var lostUnsettled uint64
		for seq := range lost {
			if !lay.settled[seq] {
				lostUnsettled++
			}
		}
		got, _, reports := damageRun(t, dir, it%2 == 1)
		checkSurvivors(t, lay, got, lost)
		if reportedRecords(reports) != lostUnsettled {
			t.Fatalf("iteration %d: reported %d lost records, lost %d: %+v", it, reportedRecords(reports), lostUnsettled, reports)
		}
		for seq := range lost {
			if !lay.settled[seq] && !reportsCover(reports, seq) {
				t.Fatalf("iteration %d: record %d lost, outside every report's range: %+v", it, seq, reports)
			}
		}
	}
}

// Damage to the settle log only brings settled messages back (at-least-once);
// it never loses a message.
func TestRecoverDamagedSettleLog(t *testing.T) {
	tmpl, lay := buildTemplate(t)
	rng := rand.New(rand.NewPCG(42, 3))
	for it := range 20 {
		dir := copyTemplate(t, tmpl)
		path := filepath.Join(dir, "q", ackName)
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			t.Fatalf("settle log: %d bytes, %v", len(b), err)
		}
		if it%2 == 0 {
			b[rng.IntN(len(b))] ^= 0x5a
		} else {
			b = b[:rng.IntN(len(b))]
		}
		os.WriteFile(path, b, 0o644)
		got, _, _ := damageRun(t, dir, false)
		for seq := uint64(1); seq <= lay.last; seq++ {
			if _, ok := got[seq]; !ok && !lay.settled[seq] {
				t.Fatalf("iteration %d: record %d lost to settle-log damage", it, seq)
			}
		}
	}
}

// reportsCover reports whether seq lies in the range of one of the reports.
func reportsCover(reports []Damage, seq uint64) bool {
	for _, d := range reports {
		if seq >= d.First && seq < d.End {
			return true
		}
	}
	return false
}

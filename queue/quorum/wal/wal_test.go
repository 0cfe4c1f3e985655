package wal

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue/quorum/internal/holdfs"
)

// Entries, deletions and stable keys of several groups come back after a
// restart, and Close leaves no goroutine behind.
func TestRestartKeepsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	dir := t.TempDir()
	w, err := Open(dir, Options{SegmentSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	a, b := group(t, w, "a"), group(t, w, "b")
	if err := a.StoreLogs(entries("a", 1, 100, 1)); err != nil {
		t.Fatal(err)
	}
	if err := b.StoreLogs(entries("b", 5, 50, 2)); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteRange(1, 40); err != nil { // a snapshot
		t.Fatal(err)
	}
	if err := b.DeleteRange(31, 50); err != nil { // a conflict
		t.Fatal(err)
	}
	if err := b.StoreLogs(entries("b", 31, 35, 3)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := a.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUint64([]byte("CurrentTerm"), 8); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoGoroutines(t, base)

	w = openWAL(t, dir, Options{SegmentSize: 4 << 10})
	a, b = group(t, w, "a"), group(t, w, "b")
	checkRange(t, a, 41, 100)
	checkEntries(t, a, "a", 41, 100, 1)
	checkRange(t, b, 5, 35)
	checkEntries(t, b, "b", 5, 30, 2)
	checkEntries(t, b, "b", 31, 35, 3)
	if v, err := a.GetUint64([]byte("CurrentTerm")); err != nil || v != 8 {
		t.Fatalf("CurrentTerm = %d, %v; want 8", v, err)
	}
	if v, err := a.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("LastVoteCand = %q, %v", v, err)
	}
	if _, err := b.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("a key never set: %v, want hashicorp/raft's \"not found\"", err)
	}
	var l raft.Log
	if err := a.GetLog(40, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog of a deleted entry: %v", err)
	}
}

// Deleting a group removes its entries and keys for good; other groups
// keep theirs, and a group of the same name starts empty.
func TestDeleteGroup(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{SegmentSize: 4 << 10})
	a, b := group(t, w, "a"), group(t, w, "b")
	for i := uint64(1); i <= 60; i += 10 {
		if err := a.StoreLogs(entries("a", i, i+9, 1)); err != nil {
			t.Fatal(err)
		}
		if err := b.StoreLogs(entries("b", i, i+9, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteGroup("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LastIndex(); !errors.Is(err, ErrClosed) {
		t.Fatalf("a deleted group's store answers %v, want ErrClosed", err)
	}
	w.Close()
	w = openWAL(t, dir, Options{SegmentSize: 4 << 10})
	if _, total := w.Groups(); total != 1 {
		t.Fatalf("%d groups after deleting one of two", total)
	}
	a = group(t, w, "a")
	checkRange(t, a, 0, 0)
	if _, err := a.GetUint64([]byte("CurrentTerm")); err == nil {
		t.Fatal("a deleted group's key came back")
	}
	b = group(t, w, "b")
	checkRange(t, b, 1, 60)
	checkEntries(t, b, "b", 1, 60, 1)
}

// Deleting entries from the front gives the WAL's segments back.
func TestFrontDeletionReclaimsSegments(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{SegmentSize: 8 << 10, CacheEntries: -1})
	gs := []*GroupStore{group(t, w, "a"), group(t, w, "b")}
	var peak int
	for round := uint64(0); round < 40; round++ {
		for _, g := range gs {
			first := round*50 + 1
			if err := g.StoreLogs(entries(g.Name(), first, first+49, 1)); err != nil {
				t.Fatal(err)
			}
			if round >= 2 { // keep the last two rounds, as after a snapshot
				if err := g.DeleteRange(first-100, first-51); err != nil {
					t.Fatal(err)
				}
			}
		}
		peak = max(peak, w.Segments())
	}
	for _, g := range gs {
		checkRange(t, g, 1901, 2000)
		checkEntries(t, g, g.Name(), 1901, 2000, 1)
	}
	// 4,000 entries of ~70 bytes went through: ~35 segments of 8 KiB.
	if n := w.Segments(); n > 6 {
		t.Fatalf("%d segments hold 200 live entries (peak %d)", n, peak)
	}
}

// Requests a LogStore must refuse leave the log as it was.
func TestRefusedRequests(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{})
	g := group(t, w, "a")
	if err := g.StoreLogs(entries("a", 1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"DeleteRange of the middle", func() error { return g.DeleteRange(4, 6) }},
		{"StoreLogs with a gap inside the batch", func() error {
			return g.StoreLogs([]*raft.Log{entry("a", 11, 2), entry("a", 13, 2)})
		}},
		{"Set of a key over 64 KiB", func() error { return g.Set(make([]byte, 1<<16), nil) }},
	} {
		if err := tc.do(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	checkRange(t, g, 1, 10)
	checkEntries(t, g, "a", 1, 10, 1)
}

// Raft uses a group's store from several goroutines at once (appending,
// replicating, compacting after a snapshot); every read sees an entry as
// stored or not at all.
func TestConcurrentUseOfOneGroup(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{SegmentSize: 8 << 10, CacheEntries: 8})
	g := group(t, w, "a")
	const n = 600
	var appended atomic.Uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint64(1); i <= n; i += 5 {
			if err := g.StoreLogs(entries("a", i, i+4, 1)); err != nil {
				t.Error(err)
				return
			}
			appended.Store(i + 4)
		}
	})
	wg.Go(func() { // compaction, keeping the last 50
		for appended.Load() < n {
			if last := appended.Load(); last > 100 {
				first, _ := g.FirstIndex()
				if first < last-50 {
					if err := g.DeleteRange(first, last-50); err != nil {
						t.Error(err)
						return
					}
				}
			}
			runtime.Gosched()
		}
	})
	wg.Go(func() { // replication reading behind the head
		for appended.Load() < n {
			last := appended.Load()
			for i := last; i > 0 && i+30 > last; i-- {
				var l raft.Log
				err := g.GetLog(i, &l)
				if errors.Is(err, raft.ErrLogNotFound) {
					continue
				}
				if err != nil || string(l.Data) != string(entry("a", i, 1).Data) {
					t.Errorf("GetLog(%d) = %q, %v", i, l.Data, err)
					return
				}
			}
			runtime.Gosched()
		}
	})
	wg.Wait()
	if last, _ := g.LastIndex(); last != n {
		t.Fatalf("last index %d, want %d", last, n)
	}
}

// An idle group costs little memory (under 4 KiB): 10,000 groups, each with a few small
// entries and Raft's three stable keys, as idle quorum queues hold.
func TestIdleGroupMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,000 groups")
	}
	w := openWAL(t, t.TempDir(), Options{})
	const groups = 10_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	gs := make([]*GroupStore, groups)
	var wg sync.WaitGroup
	for p := range 50 { // 50 at a time, sharing fsyncs
		wg.Go(func() {
			for i := p; i < groups; i += 50 {
				name := fmt.Sprintf("queue-%05d", i)
				g, err := w.Group(name)
				if err == nil {
					err = g.StoreLogs(entries(name, 1, 4, 1))
				}
				for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
					if err == nil {
						err = g.SetUint64([]byte(k), 1)
					}
				}
				if err == nil {
					err = g.Set([]byte("LastVoteCand"), []byte("warren@node-1"))
				}
				if err != nil {
					t.Error(err)
					return
				}
				gs[i] = g
			}
		})
	}
	wg.Wait()
	// heapPer checks the heap each group holds now against most.
	heapPer := func(what string, most float64) {
		t.Helper()
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(after.HeapAlloc-before.HeapAlloc) / groups
		t.Logf("%.0f bytes of heap per %s group", per, what)
		if per > most {
			t.Fatalf("a %s group costs %.0f bytes", what, per)
		}
	}
	// About 2.8 KiB, most of it the cache of 16 recent entries.
	heapPer("idle", 4096)
	// A resting replica's group releases its cache, and reads its entries
	// from the file.
	for _, g := range gs {
		g.Release()
	}
	heapPer("released", 1024)
	var l raft.Log
	if err := gs[7].GetLog(3, &l); err != nil || l.Index != 3 || string(l.Data) != string(entry("queue-00007", 3, 1).Data) {
		t.Fatalf("entry 3 of a released group: %+v, %v", l, err)
	}
	runtime.KeepAlive(gs)
}

// TestAppendLogsReturnsBeforeTheDisk: AppendLogs returns while its
// entries' fsync is held back, the entries read back at once, and
// DurableIndex and Sync tell when they are on disk.
func TestAppendLogsReturnsBeforeTheDisk(t *testing.T) {
	fs := &holdfs.FS{}
	w, err := Open(t.TempDir(), Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer fs.Release()
	g := group(t, w, "a")
	if err := g.StoreLogs(entries("a", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	if d := g.DurableIndex(); d != 3 {
		t.Fatalf("durable index %d after StoreLogs of 1-3, want 3", d)
	}

	fs.Hold()
	if err := g.AppendLogs(entries("a", 4, 6, 1)); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := g.GetLog(6, &got); err != nil || string(got.Data) != string(entries("a", 6, 6, 1)[0].Data) {
		t.Fatalf("entry 6 before its fsync: %+v, %v", got, err)
	}
	synced := make(chan error, 1)
	go func() { synced <- g.Sync(5) }()
	deadline := time.Now().Add(10 * time.Second)
	for fs.Waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no fsync of entries 4-6 was started")
		}
		time.Sleep(time.Millisecond)
	}
	if d := g.DurableIndex(); d != 3 {
		t.Fatalf("durable index %d while the fsync of 4-6 is held, want 3", d)
	}
	select {
	case err := <-synced:
		t.Fatalf("Sync(5) returned (%v) while its fsync was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	fs.Release()
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if d := g.DurableIndex(); d < 5 {
		t.Fatalf("durable index %d after Sync(5)", d)
	}
	if err := g.Sync(6); err != nil || g.DurableIndex() != 6 {
		t.Fatalf("after Sync(6): durable index %d, %v", g.DurableIndex(), err)
	}
}

package wal

import (
	"errors"
	"runtime"
	"testing"

	"github.com/hashicorp/raft"
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

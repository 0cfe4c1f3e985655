package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/warrenmq/warren/queue/quorum/internal/crashcopy"
)

// segFiles lists the WAL's segment files in order.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, logID, "*.seg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	sort.Strings(files)
	return files
}

// flip changes one byte inside the first occurrence of needle in the
// WAL's segments.
func flip(t testing.TB, dir, needle string) {
	t.Helper()
	for _, f := range segFiles(t, dir) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, []byte(needle)); i >= 0 {
			b[i+len(needle)-1] ^= 0x40
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%q is in no segment", needle)
}

// A kill -9 while groups append keeps every entry acknowledged before it,
// and a torn record at the end is cut.
func TestKillKeepsAcknowledgedEntries(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{})
	const groups = 8
	var acked [groups]atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for gi := range groups {
		name := fmt.Sprintf("g%d", gi)
		g := group(t, w, name)
		wg.Go(func() {
			for i := uint64(1); ; i += 3 {
				select {
				case <-stop:
					return
				default:
				}
				if err := g.StoreLogs(entries(name, i, i+2, 1)); err != nil {
					t.Errorf("%s: StoreLogs: %v", name, err)
					return
				}
				acked[gi].Store(i + 2)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for acked[groups-1].Load() < 300 && !t.Failed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var before [groups]uint64
	for gi := range before {
		before[gi] = acked[gi].Load()
	}
	killed := t.TempDir()
	crashcopy.Copy(t, dir, killed) // writers still running: what kill -9 leaves
	close(stop)
	wg.Wait()
	if before[groups-1] < 300 {
		t.Fatalf("the writers made too little progress: %v", before)
	}
	// A record torn half-way at the end of the log.
	segs := segFiles(t, killed)
	torn := appendEntry(nil, groupID("g0"), 0, entry("g0", 1<<40, 1))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{'W', 'Q', 1, flagEntry, byte(len(torn)), 0, 0, 0})
	f.Write(torn[:len(torn)/2])
	f.Close()

	w2 := openWAL(t, killed, Options{})
	for gi := range groups {
		name := fmt.Sprintf("g%d", gi)
		g := group(t, w2, name)
		last, err := g.LastIndex()
		if err != nil {
			t.Fatal(err)
		}
		if last < before[gi] {
			t.Fatalf("%s: %d entries survive, %d were acknowledged before the kill", name, last, before[gi])
		}
		checkRange(t, g, 1, last)
		checkEntries(t, g, name, 1, last, 1)
		// The group goes on where it was.
		if err := g.StoreLogs(entries(name, last+1, last+1, 2)); err != nil {
			t.Fatal(err)
		}
		before[gi] = last + 1
	}
	w2.Close()
	w3 := openWAL(t, killed, Options{})
	for gi := range groups {
		name := fmt.Sprintf("g%d", gi)
		g := group(t, w3, name)
		checkRange(t, g, 1, before[gi])
		checkEntries(t, g, name, before[gi], before[gi], 2)
	}
}

// Damaged bytes in the middle of the WAL stop the group whose entry they
// held, found by the link of its next record, and that group only; the stop
// survives a restart.
func TestCorruptEntryStopsItsGroupOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		victim string // the entry damaged
		aLast  uint64 // a writes 1..aLast, b 1..200, interleaved
	}{
		{"entry followed by its group's next", "a-entry-000050", 200},
		{"last entry of a group, others wrote after it", "a-entry-000100", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, Options{SegmentSize: 4 << 10})
			if err != nil {
				t.Fatal(err)
			}
			a, b := group(t, w, "a"), group(t, w, "b")
			for i := uint64(1); i <= 200; i++ {
				if i <= tc.aLast {
					if err := a.StoreLog(entry("a", i, 1)); err != nil {
						t.Fatal(err)
					}
				}
				if err := b.StoreLog(entry("b", i, 1)); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.SetUint64([]byte("CurrentTerm"), 4); err != nil {
				t.Fatal(err)
			}
			w.Close()
			flip(t, dir, tc.victim)

			for range 2 { // the second open no longer sees the damage itself
				w := openWAL(t, dir, Options{SegmentSize: 4 << 10})
				if _, err := w.Group("a"); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Group(a) after its entry was damaged: %v, want ErrCorrupt", err)
				}
				b := group(t, w, "b")
				checkRange(t, b, 1, 200)
				checkEntries(t, b, "b", 1, 200, 1)
				if v, err := b.GetUint64([]byte("CurrentTerm")); err != nil || v != 4 {
					t.Fatalf("b's CurrentTerm = %d, %v", v, err)
				}
				w.Close()
			}
		})
	}
}

// Damage found while the WAL runs (by GetLog reading an entry that is not
// in memory) stops the group that owns the damaged record, and the stop
// survives a restart; deleting the stopped group lets it start again
// empty, as a replica rebuilt from its peers. Other groups go on.
func TestCorruptionFoundWhileRunning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		index uint64 // a's entry damaged
	}{
		{"entry in an early segment", 20},
		{"entry near the end of the log", 95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, Options{SegmentSize: 4 << 10, CacheEntries: -1})
			if err != nil {
				t.Fatal(err)
			}
			gs := map[string]*GroupStore{"a": group(t, w, "a"), "b": group(t, w, "b")}
			for i := uint64(1); i <= 100; i++ {
				for _, n := range []string{"a", "b"} {
					if err := gs[n].StoreLog(entry(n, i, 1)); err != nil {
						t.Fatal(err)
					}
				}
			}
			flip(t, dir, fmt.Sprintf("a-entry-%06d", tc.index))
			var l raft.Log
			if err := gs["a"].GetLog(tc.index, &l); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("GetLog of a damaged entry: %v, want ErrCorrupt", err)
			}
			if _, err := gs["a"].LastIndex(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("the group goes on after damage: %v", err)
			}
			checkEntries(t, gs["b"], "b", 1, 100, 1)
			if err := gs["b"].StoreLog(entry("b", 101, 1)); err != nil {
				t.Fatal(err)
			}
			w.Close()

			w = openWAL(t, dir, Options{SegmentSize: 4 << 10})
			if _, err := w.Group("a"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("after a restart: %v, want ErrCorrupt", err)
			}
			checkEntries(t, group(t, w, "b"), "b", 1, 101, 1)
			if err := w.DeleteGroup("a"); err != nil {
				t.Fatal(err)
			}
			checkRange(t, group(t, w, "a"), 0, 0)
		})
	}
}

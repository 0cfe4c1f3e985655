package wal

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/warrenmq/warren/queue/store"
)

// openCountFS counts the read-only opens of files and how many of them are
// still open.
type openCountFS struct {
	noSyncFS
	opens, open atomic.Int64
}

type countedFile struct {
	store.File
	fs     *openCountFS
	closed atomic.Bool
}

func (f *countedFile) Close() error {
	if f.closed.CompareAndSwap(false, true) {
		f.fs.open.Add(-1)
	}
	return f.File.Close()
}

func (fs *openCountFS) Open(name string) (store.File, error) {
	f, err := fs.noSyncFS.Open(name)
	if err != nil {
		return nil, err
	}
	fs.opens.Add(1)
	fs.open.Add(1)
	return &countedFile{File: f, fs: fs}, nil
}

// After a restart Raft reads every entry since its snapshot in index
// order (to find configurations, then to apply them): those reads go
// through the WAL's file once, in order, rather than opening and scanning
// the file for each entry, with another group's records in between; reads
// out of order still answer right; and nothing stays open once the group
// is read to its end and once the WAL is closed.
func TestReadInOrderAfterRestart(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 64 << 10, CacheEntries: -1, FS: noSyncFS{}}
	w := openWAL(t, dir, o)
	a, b := group(t, w, "a"), group(t, w, "b")
	const n = 3000
	for i := uint64(1); i <= n; i++ {
		for _, g := range []*GroupStore{a, b} {
			if err := g.StoreLogs([]*raft.Log{entry(g.Name(), i, 1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	fs := &openCountFS{}
	o.FS = fs
	w = openWAL(t, dir, o)
	if w.Segments() < 3 {
		t.Fatalf("%d segments: the test wants several", w.Segments())
	}
	a = group(t, w, "a")
	before := fs.opens.Load()
	checkEntries(t, a, "a", 1, n, 1)
	if opens := fs.opens.Load() - before; opens > int64(2*w.Segments()) {
		t.Fatalf("reading %d entries in order opened files %d times (%d segments)", n, opens, w.Segments())
	}
	if open := fs.open.Load(); open != 0 {
		t.Fatalf("%d files left open once the group was read to its end", open)
	}

	for _, i := range []uint64{n / 2, 10, n - 1, n / 2} { // back, far back, far ahead
		checkEntries(t, a, "a", i, i, 1)
	}
	checkEntries(t, group(t, w, "b"), "b", 1, 5, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if open := fs.open.Load(); open != 0 {
		t.Fatalf("%d files left open after Close", open)
	}
	var l raft.Log
	if err := a.GetLog(1, &l); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetLog after Close: %v, want ErrClosed", err)
	}
}

package wal

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/warrenmq/warren/queue/store"
)

// openWAL opens a WAL in dir and closes it when the test ends.
func openWAL(t testing.TB, dir string, o Options) *WAL {
	t.Helper()
	w, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// group returns the group name of w, failing the test on error.
func group(t testing.TB, w *WAL, name string) *GroupStore {
	t.Helper()
	g, err := w.Group(name)
	if err != nil {
		t.Fatalf("Group(%q): %v", name, err)
	}
	return g
}

// entry makes a Raft log entry whose data names its group and index.
func entry(name string, index, term uint64) *raft.Log {
	return &raft.Log{
		Index: index, Term: term, Type: raft.LogCommand,
		Data:       fmt.Appendf(nil, "%s-entry-%06d", name, index),
		AppendedAt: time.Unix(1700000000, int64(index)),
	}
}

// entries makes the entries from first to last of a group.
func entries(name string, first, last, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := first; i <= last; i++ {
		ls = append(ls, entry(name, i, term))
	}
	return ls
}

// checkRange asserts a group's first and last index.
func checkRange(t testing.TB, g *GroupStore, first, last uint64) {
	t.Helper()
	f, err := g.FirstIndex()
	if err != nil {
		t.Fatalf("%s: FirstIndex: %v", g.Name(), err)
	}
	l, err := g.LastIndex()
	if err != nil {
		t.Fatalf("%s: LastIndex: %v", g.Name(), err)
	}
	if f != first || l != last {
		t.Fatalf("%s: holds %d..%d, want %d..%d", g.Name(), f, l, first, last)
	}
}

// checkEntries asserts that every entry from first to last reads back as
// entry(name, i, term) did.
func checkEntries(t testing.TB, g *GroupStore, name string, first, last, term uint64) {
	t.Helper()
	for i := first; i <= last; i++ {
		var got raft.Log
		if err := g.GetLog(i, &got); err != nil {
			t.Fatalf("%s: GetLog(%d): %v", name, i, err)
		}
		want := entry(name, i, term)
		if got.Index != i || got.Term != term || string(got.Data) != string(want.Data) || !got.AppendedAt.Equal(want.AppendedAt) {
			t.Fatalf("%s: GetLog(%d) = %+v, want %+v", name, i, got, want)
		}
	}
}

// checkNoGoroutines polls until the goroutine count is back to base.
func checkNoGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines outlive Close (base %d):\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noSyncFS is the operating system's file system with every sync a no-op,
// for tests whose crashes are process kills (a copy of the directory, the
// page cache included), where syncing changes nothing but the time taken.
type noSyncFS struct{ store.OSFS }

type noSyncFile struct{ store.File }

func (noSyncFile) Sync() error { return nil }

func (noSyncFS) SyncDir(string) error { return nil }

func (fs noSyncFS) Create(name string) (store.File, error) {
	f, err := fs.OSFS.Create(name)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (fs noSyncFS) OpenFile(name string) (store.File, error) {
	f, err := fs.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

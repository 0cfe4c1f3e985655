package store

import (
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
)

// event is one operation seen by recordFS, in the order it happened.
type event struct {
	kind  string // "write", "sync-start", "sync-end", "dirsync-start", "dirsync-end", "create", "notify"
	file  string
	off   int64
	n     int64
	upTo  uint64
	index int
}

// recordFS wraps the real file system and logs every write and sync.
type recordFS struct {
	OSFS
	mu     sync.Mutex
	events []event
}

func (r *recordFS) add(e event) {
	r.mu.Lock()
	e.index = len(r.events)
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recordFS) Create(name string) (File, error) {
	f, err := r.OSFS.Create(name)
	if err != nil {
		return nil, err
	}
	r.add(event{kind: "create", file: name})
	return &recordFile{File: f, fs: r, name: name}, nil
}

func (r *recordFS) OpenFile(name string) (File, error) {
	f, err := r.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return &recordFile{File: f, fs: r, name: name}, nil
}

func (r *recordFS) SyncDir(dir string) error {
	r.add(event{kind: "dirsync-start", file: dir})
	err := r.OSFS.SyncDir(dir)
	r.add(event{kind: "dirsync-end", file: dir})
	return err
}

type recordFile struct {
	File
	fs   *recordFS
	name string
}

func (f *recordFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.fs.add(event{kind: "write", file: f.name, off: off, n: int64(n)})
	return n, err
}

func (f *recordFile) Sync() error {
	f.fs.add(event{kind: "sync-start", file: f.name})
	err := f.File.Sync()
	f.fs.add(event{kind: "sync-end", file: f.name})
	return err
}

// A durability notification never precedes the fsync that covers its
// record: for every record up to a notified mark, the write that put its
// bytes in the file was followed by a sync of that file (started after the
// write, finished before the notification), and the directory entry of a
// file created for it was synced too. This is what makes a publisher
// confirm a promise; kill -9 alone cannot tell the page cache from the disk.
func TestNotifyNeverPrecedesFsync(t *testing.T) {
	fs := &recordFS{}
	dir := t.TempDir()
	s := openStore(t, dir, Options{FS: fs, SegmentSize: 32 << 10})
	l, _, err := s.OpenLog("q", LogOptions{OnDurable: func(upTo uint64, err error) {
		if err != nil {
			t.Errorf("OnDurable error: %v", err)
		}
		fs.add(event{kind: "notify", upTo: upTo})
	}})
	if err != nil {
		t.Fatal(err)
	}
	const appenders, each = 16, 200
	var wg sync.WaitGroup
	for g := range appenders {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range each {
				seq, err := l.Append(0, payload(uint64(g), rng.IntN(600)))
				if err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(4) == 0 { // some appenders wait, like confirm-window-1 publishers
					if err := <-l.Wait(seq); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	last := l.Next() - 1
	wait(t, l, last)

	// Where each record lives, from the files themselves.
	type loc struct {
		file     string
		off, end int64
	}
	where := map[uint64]loc{}
	ids, _ := fs.ReadDir(filepath.Join(dir, "q"))
	for _, n := range ids {
		if _, ok := parseSegName(n); !ok {
			continue
		}
		path := filepath.Join(dir, "q", n)
		f, err := fs.OSFS.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		size, _ := f.Size()
		rr := newRecordReader(f, 0, size, nil)
		for {
			r, st, err := rr.next()
			if err != nil || st == readBad {
				t.Fatalf("%s: %v %d", path, err, st)
			}
			if st == readEnd {
				break
			}
			if r.kind == kindEnqueue {
				where[r.seq] = loc{path, r.off, r.off + r.size()}
			}
		}
		f.Close()
	}
	if uint64(len(where)) != last {
		t.Fatalf("found %d records on disk, want %d", len(where), last)
	}

	fs.mu.Lock()
	events := append([]event(nil), fs.events...)
	fs.mu.Unlock()
	checked := uint64(0)
	notifies := 0
	for _, n := range events {
		if n.kind != "notify" {
			continue
		}
		notifies++
		for seq := checked + 1; seq <= n.upTo; seq++ {
			lc := where[seq]
			// The last write before the notification that covered the record.
			w, created := -1, -1
			for _, e := range events[:n.index] {
				if e.file != lc.file {
					continue
				}
				if e.kind == "create" {
					created = e.index
				}
				if e.kind == "write" && e.off <= lc.off && e.off+e.n >= lc.end {
					w = e.index
				}
			}
			if w < 0 {
				t.Fatalf("record %d notified (event %d) before it was written", seq, n.index)
			}
			if !syncedBetween(events, "sync", lc.file, w, n.index) {
				t.Fatalf("record %d notified (event %d) without an fsync of %s after its write (event %d)", seq, n.index, lc.file, w)
			}
			if created >= 0 && !syncedBetween(events, "dirsync", filepath.Dir(lc.file), created, n.index) {
				t.Fatalf("record %d notified before the directory entry of %s was synced", seq, lc.file)
			}
		}
		checked = max(checked, n.upTo)
	}
	if checked != last {
		t.Fatalf("notifications covered %d of %d records", checked, last)
	}
	st := s.Stats()
	t.Logf("%d records, %d notifications, %d rounds, %d fsyncs", last, notifies, st.Rounds, st.Fsyncs)
	if st.Rounds >= last {
		t.Errorf("no group commit: %d rounds for %d records", st.Rounds, last)
	}
}

// syncedBetween reports whether a sync of file started after event after
// and ended before event before.
func syncedBetween(events []event, kind, file string, after, before int) bool {
	started := false
	for _, e := range events[after+1 : before] {
		if e.file != file {
			continue
		}
		switch e.kind {
		case kind + "-start":
			started = true
		case kind + "-end":
			if started {
				return true
			}
		}
	}
	return false
}

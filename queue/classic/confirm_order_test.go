package classic

import (
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// syncFS is the real file system keeping, for every file, how many of its
// bytes an fsync has covered: a sync makes durable what had been written
// when it started. Files here are only appended to, so the durable part of
// a file is a prefix of its final content.
type syncFS struct {
	store.OSFS
	mu      sync.Mutex
	written map[string]int64
	durable map[string]int64
}

func newSyncFS() *syncFS {
	return &syncFS{written: map[string]int64{}, durable: map[string]int64{}}
}

func (f *syncFS) Create(name string) (store.File, error) {
	file, err := f.OSFS.Create(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.written[name], f.durable[name] = 0, 0
	f.mu.Unlock()
	return &syncFile{File: file, fs: f, name: name}, nil
}

func (f *syncFS) OpenFile(name string) (store.File, error) {
	file, err := f.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return &syncFile{File: file, fs: f, name: name}, nil
}

// snapshot returns the durable length of every file now.
func (f *syncFS) snapshot() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.durable)
}

type syncFile struct {
	store.File
	fs   *syncFS
	name string
}

func (f *syncFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.fs.mu.Lock()
	f.fs.written[f.name] = max(f.fs.written[f.name], off+int64(n))
	f.fs.mu.Unlock()
	return n, err
}

func (f *syncFile) Sync() error {
	f.fs.mu.Lock()
	upTo := f.fs.written[f.name]
	f.fs.mu.Unlock()
	err := f.File.Sync()
	if err == nil {
		f.fs.mu.Lock()
		f.fs.durable[f.name] = max(f.fs.durable[f.name], upTo)
		f.fs.mu.Unlock()
	}
	return err
}

func (f *syncFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	f.fs.written[f.name] = min(f.fs.written[f.name], size)
	f.fs.durable[f.name] = min(f.fs.durable[f.name], size)
	f.fs.mu.Unlock()
	return f.File.Truncate(size)
}

// snapConfirms records, with every confirm, what was durable at that moment.
type snapConfirms struct {
	fs    *syncFS
	mu    sync.Mutex
	snaps map[uint64]map[string]int64
	nacks int
}

func (c *snapConfirms) Confirmed(seq uint64, ok bool) {
	snap := c.fs.snapshot()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.snaps[seq]; dup {
		panic("confirmed twice")
	}
	if !ok {
		c.nacks++
	}
	c.snaps[seq] = snap
}

func (c *snapConfirms) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.snaps)
}

// A publisher confirm never precedes the fsync of its message: at the moment
// the queue confirms a persistent publish, a copy of the disk holding only
// what had been fsynced then recovers that message. Publishes go through
// the queue's API, in memory and paged, with a consumer acking some.
func TestConfirmNeverPrecedesFsync(t *testing.T) {
	fs := newSyncFS()
	dir := t.TempDir()
	st := openTestStore(t, dir, fs)
	h := newDurableHarness(t, st, nil, 50, nil)
	cf := &snapConfirms{fs: fs, snaps: map[uint64]map[string]int64{}}
	const n = 3000
	var ackMu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	const publishers = 3
	for p := range publishers {
		wg.Go(func() {
			for i := p; i < n; i += publishers {
				m := h.pmsg("m"+strconv.Itoa(i), "")
				h.q.Publish(m, queue.Confirm{To: cf, Seq: uint64(i)})
				if i%7 == 0 { // a consumer taking and acking a few
					if d, _, ok := h.q.Get(false); ok {
						ackMu.Lock()
						acked[string(d.Message.Body)] = true
						ackMu.Unlock()
						h.q.Settle(queue.Ack, []uint64{d.ID})
					}
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every confirm", func() bool { return cf.n() == n })
	if cf.nacks != 0 {
		t.Fatalf("%d nacks", cf.nacks)
	}
	h.q.Close()

	// Check a sample of confirms against the disk as it was then. Acked
	// messages may be missing (their settles were durable too); every
	// other confirmed message must be there.
	logDir := filepath.Join(dir, store.LogID("/", "q"))
	for _, seq := range []uint64{0, 1, 2, 10, 100, 500, 1000, 1500, 2000, 2500, n - 1} {
		present := recoverSnapshot(t, logDir, cf.snaps[seq])
		body := "m" + strconv.Itoa(int(seq))
		if !present[body] && !acked[body] {
			t.Errorf("confirm %d preceded the fsync of %q (%d messages durable)", seq, body, len(present))
		}
	}
}

// recoverSnapshot copies the durable prefix of every file of logDir into a
// new store and returns the bodies that store recovers.
func recoverSnapshot(t *testing.T, logDir string, snap map[string]int64) map[string]bool {
	t.Helper()
	root := t.TempDir()
	id := filepath.Base(logDir)
	if err := os.MkdirAll(filepath.Join(root, id), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range snap {
		if !strings.HasPrefix(name, logDir+string(filepath.Separator)) {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			if os.IsNotExist(err) {
				continue // reclaimed since: its records were all settled
			}
			t.Fatal(err)
		}
		if int64(len(data)) < n {
			t.Fatalf("%s shrank below its durable size", name)
		}
		if err := os.WriteFile(filepath.Join(root, id, filepath.Base(name)), data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(root, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lg, rec, err := st.OpenLog(id, store.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	present := map[string]bool{}
	r := lg.NewReader(rec.First)
	defer r.Close()
	for {
		rc, err := r.Next()
		if err != nil {
			break
		}
		m, err := queue.DecodeMessage(rc.Data)
		if err != nil {
			t.Fatal(err)
		}
		present[string(m.Body)] = true
	}
	return present
}

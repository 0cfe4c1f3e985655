package classic

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// openTestStore opens a store in dir and closes it when the test ends.
func openTestStore(t testing.TB, dir string, fs store.FS) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openSpillStore opens a volatile store in dir, for paged transient
// messages, and closes it when the test ends.
func openSpillStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{Volatile: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// durableHarness is a harness whose queue is durable, in st, paging past
// window messages.
func newDurableHarness(t *testing.T, st *store.Store, args protocol.Table, window int, clock *fakeClock) *harness {
	t.Helper()
	return newPagingHarness(t, st, nil, true, args, window, clock)
}

// newPagingHarness is a harness whose queue pages past window messages:
// durable or not, with the durable store st and the spill store sp (either
// may be nil).
func newPagingHarness(t *testing.T, st, sp *store.Store, durable bool, args protocol.Table, window int, clock *fakeClock) *harness {
	t.Helper()
	a, err := queue.ParseArgs(args, "q", "/")
	if err != nil {
		t.Fatalf("ParseArgs: %v", err)
	}
	if clock == nil {
		clock = newClock()
	}
	h := &harness{t: t, clock: clock}
	q, err := New("q", Options{VHost: "/", Durable: durable, Args: a}, Env{
		DeadLetter: func(ms []*queue.Message) {
			h.mu.Lock()
			h.dead = append(h.dead, ms...)
			h.mu.Unlock()
		},
		Now:            clock.Now,
		AfterFunc:      clock.AfterFunc,
		Store:          st,
		Spill:          sp,
		WindowMessages: window,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.q = q
	t.Cleanup(func() { q.Close() })
	return h
}

// pmsg is a persistent message; expiration may be empty.
func (h *harness) pmsg(body, expiration string) *queue.Message {
	m := h.msg(body)
	m.Props.Flags = protocol.FlagDeliveryMode
	m.Props.DeliveryMode = 2
	if expiration != "" {
		m.Props.Flags |= protocol.FlagExpiration
		m.Props.Expiration = expiration
	}
	return m
}

// publishMixed publishes bodies; those starting with 'p' are persistent.
func (h *harness) publishMixed(bodies ...string) {
	for _, b := range bodies {
		if b[0] == 'p' {
			h.q.Publish(h.pmsg(b, ""), queue.Confirm{})
		} else {
			h.q.Publish(h.msg(b), queue.Confirm{})
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// count returns how many confirms arrived and how many were nacks.
func (c *confirms) count() (n, nacks int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ok := range c.got {
		n++
		if !ok {
			nacks++
		}
	}
	return n, nacks
}

func (c *confirms) has(seq uint64) (ok, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok, found = c.got[seq]
	return ok, found
}

// failFS is the real file system whose writes and syncs fail once fail is
// set, as a full or broken disk does.
type failFS struct {
	store.OSFS
	mu   sync.Mutex
	fail bool
}

var errDiskFull = errors.New("no space left on device")

func (f *failFS) failing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail
}

func (f *failFS) setFail(v bool) {
	f.mu.Lock()
	f.fail = v
	f.mu.Unlock()
}

func (f *failFS) Create(name string) (store.File, error) {
	if f.failing() {
		return nil, errDiskFull
	}
	file, err := f.OSFS.Create(name)
	if err != nil {
		return nil, err
	}
	return &failFile{File: file, fs: f}, nil
}

func (f *failFS) OpenFile(name string) (store.File, error) {
	file, err := f.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return &failFile{File: file, fs: f}, nil
}

type failFile struct {
	store.File
	fs *failFS
}

func (f *failFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.failing() {
		return 0, errDiskFull
	}
	return f.File.WriteAt(p, off)
}

func (f *failFile) Sync() error {
	if f.fs.failing() {
		return errDiskFull
	}
	return f.File.Sync()
}

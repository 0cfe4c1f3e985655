package wal

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/queue/store"
	"go.uber.org/zap"
)

// ErrCorrupt is wrapped by the error of a group whose records were damaged:
// the group is stopped rather than served with a hole in its log.
var ErrCorrupt = errors.New("wal: group's records are damaged")

// ErrClosed is returned by a GroupStore once its WAL is closed or the group
// deleted.
var ErrClosed = errors.New("wal: closed")

// logID is the one store log that holds every group's records.
const logID = "wal"

// Options configure a WAL.
type Options struct {
	// Logger receives damage reports and failures; nil means no logging.
	Logger *zap.Logger
	// SegmentSize is the size of the WAL's segment files; zero means the
	// store's 64 MiB. Space is reclaimed a segment at a time.
	SegmentSize int64
	// CacheEntries is how many of its most recent entries each group keeps
	// decoded in memory (allocated on the group's first append), so that
	// replication and applying, which read entries just stored, rarely read
	// the file; zero means 16, negative none. The data of these entries
	// stays in memory: a node's cost is groups × CacheEntries × entry size.
	CacheEntries int
	// FS is the file system; nil means the operating system's.
	FS store.FS
}

// Stats are the WAL's counters since Open.
type Stats struct {
	// Rounds is the number of group-commit rounds that synced something.
	Rounds uint64
	// Fsyncs counts file and directory syncs.
	Fsyncs uint64
	// Records counts records made durable (entries, stable keys, barriers).
	Records uint64
}

// WAL is one node's write-ahead log for the Raft groups of its quorum
// queues: one store log, one group-commit loop, shared by every group.
type WAL struct {
	st     *store.Store
	log    *store.Log
	zl     *zap.Logger
	cacheN int

	mu     sync.Mutex
	groups map[uint64]*GroupStore
	closed bool

	ready  atomic.Bool // recovery is over
	dmu    sync.Mutex
	damage []store.Damage // reported during recovery
}

// Open opens (creating if needed) the WAL in dir and recovers every group's
// entries and stable keys. Groups whose records were damaged are stopped:
// Group returns their error.
func Open(dir string, o Options) (*WAL, error) {
	w := &WAL{zl: o.Logger, cacheN: o.CacheEntries, groups: make(map[uint64]*GroupStore)}
	if w.zl == nil {
		w.zl = zap.NewNop()
	}
	switch {
	case w.cacheN == 0:
		w.cacheN = 16
	case w.cacheN < 0:
		w.cacheN = 0
	}
	st, err := store.Open(dir, store.Options{FS: o.FS, Logger: w.zl, SegmentSize: o.SegmentSize, OnDamage: w.noteDamage})
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	w.st = st
	l, rec, err := st.OpenLog(logID, store.LogOptions{})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("wal: %w", err)
	}
	w.log = l
	if err := w.recover(rec.First); err != nil {
		w.Close()
		return nil, err
	}
	w.ready.Store(true)
	return w, nil
}

// noteDamage takes the store's damage reports: during recovery it keeps
// them for recover to pin on groups; afterwards, when a Reader finds damage
// (GetLog, of any group, reading past the damaged bytes), the groups that
// own the lost records are known exactly and are stopped at once.
func (w *WAL) noteDamage(d store.Damage) {
	if !w.ready.Load() {
		w.dmu.Lock()
		w.damage = append(w.damage, d)
		w.dmu.Unlock()
		return
	}
	if d.End <= d.First || d.Records == 0 {
		return
	}
	w.mu.Lock()
	groups := make([]*GroupStore, 0, len(w.groups))
	for _, g := range w.groups {
		groups = append(groups, g)
	}
	w.mu.Unlock()
	reason := describe([]store.Damage{d})
	for _, g := range groups {
		g.mu.Lock()
		var poison uint64
		if !g.closed && g.ownsLocked(d.First, d.End) {
			poison = g.stopLocked(reason)
		}
		g.mu.Unlock()
		w.waitPoison(poison)
	}
}

// waitPoison waits until the poison record seq (0: none) is on disk.
func (w *WAL) waitPoison(seq uint64) {
	if seq == 0 {
		return
	}
	if err := <-w.log.Wait(seq); err != nil {
		w.zl.Error("cannot record a damaged group's stop", zap.Error(err))
	}
}

// takeDamage returns the damage reported since the last call.
func (w *WAL) takeDamage() []store.Damage {
	w.dmu.Lock()
	defer w.dmu.Unlock()
	d := w.damage
	w.damage = nil
	return d
}

// Group returns the store of the Raft group name, creating it (empty) when
// the WAL holds nothing of it. The same *GroupStore is returned for the
// same name until the group is deleted. A group whose records were found
// damaged returns an error wrapping ErrCorrupt.
func (w *WAL) Group(name string) (*GroupStore, error) {
	id := groupID(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	g := w.groups[id]
	if g == nil {
		g = w.newGroup(id)
		w.groups[id] = g
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.name = name
	if g.failed != nil {
		return nil, g.failed
	}
	return g, nil
}

// newGroup makes the in-memory state of a group.
func (w *WAL) newGroup(id uint64) *GroupStore {
	return &GroupStore{w: w, id: id, stable: make(map[string]stableRec)}
}

// DeleteGroup removes every entry and stable key of the group name (its
// queue was deleted), durably: once it returns, a restart does not bring
// any of them back. The group's store is closed. Deleting a group the WAL
// does not hold does nothing.
func (w *WAL) DeleteGroup(name string) error {
	id := groupID(name)
	return w.deleteGroups(func(g uint64) bool { return g == id })
}

// Retain deletes, as DeleteGroup does, every group not named in keep
// (their queues were deleted while the node was down).
func (w *WAL) Retain(keep []string) error {
	ids := make(map[uint64]bool, len(keep))
	for _, name := range keep {
		ids[groupID(name)] = true
	}
	return w.deleteGroups(func(g uint64) bool { return !ids[g] })
}

// deleteGroups durably deletes the groups whose ids drop reports.
func (w *WAL) deleteGroups(drop func(id uint64) bool) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	var gone []*GroupStore
	for id, g := range w.groups {
		if drop(id) {
			gone = append(gone, g)
			delete(w.groups, id)
		}
	}
	w.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	var seqs []uint64
	for _, g := range gone {
		g.mu.Lock()
		seqs = append(seqs, g.liveSeqsLocked()...)
		g.closed = true
		g.mu.Unlock()
		g.closeReader()
	}
	slices.Sort(seqs)
	return w.settleDurably(seqs)
}

// Groups returns the names of the groups opened through Group since Open
// (recovered groups are known by id until then) and how many groups the
// WAL holds in all.
func (w *WAL) Groups() (named []string, total int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range w.groups {
		g.mu.Lock()
		if g.name != "" {
			named = append(named, g.name)
		}
		g.mu.Unlock()
	}
	return named, len(w.groups)
}

// Stats returns the WAL's counters.
func (w *WAL) Stats() Stats {
	s := w.st.Stats()
	return Stats{Rounds: s.Rounds, Fsyncs: s.Fsyncs, Records: s.Records}
}

// DiskSize returns the bytes the WAL's segments and settle log take.
func (w *WAL) DiskSize() int64 { return w.log.DiskSize() }

// Segments returns how many segment files the WAL has.
func (w *WAL) Segments() int { return w.log.Segments() }

// Close syncs what is pending and closes the WAL; every GroupStore fails
// with ErrClosed afterwards. It waits for nothing else: Raft groups using
// the WAL should be shut down first.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	groups := w.groups
	w.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		g.closeReader()
	}
	var errs []error
	if w.log != nil {
		errs = append(errs, w.log.Close())
	}
	errs = append(errs, w.st.Close())
	return errors.Join(errs...)
}

// settleDurably settles seqs and returns once the settles are on disk: the
// store writes settles lazily, so a barrier record is appended after them
// and waited for, which the sync round that covers it makes durable
// together with every settle written before it.
func (w *WAL) settleDurably(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	if err := w.log.Settle(seqs...); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return w.barrier()
}

// barrier appends an empty record, waits until it is durable, and settles
// it.
func (w *WAL) barrier() error {
	seq, err := w.log.Append(flagBarrier, nil)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if err := <-w.log.Wait(seq); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if err := w.log.Settle(seq); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return nil
}

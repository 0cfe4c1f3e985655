package wal

import (
	"errors"
	"fmt"
	"slices"

	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue/store"
)

// GroupStore is the storage of one Raft group in the node's WAL: a
// raft.LogStore and raft.StableStore for hashicorp/raft. Its entries are
// contiguous from FirstIndex to LastIndex. Every method is safe for
// concurrent use; writes return once they are on disk, but for AppendLogs.
type GroupStore struct {
	w  *WAL
	id uint64

	mu     sync.Mutex
	name   string
	first  uint64   // the index of seqs[0]
	seqs   []uint64 // seqs[i] is the WAL record of entry first+i
	stable map[string]stableRec
	last   uint64 // the group's most recent record, any kind (the prev of the next)
	poison uint64 // the poison record, when the group is stopped
	failed error
	closed bool
	cache  []cached // recent entries by index modulo its length
	buf    []byte

	breaks []uint64 // during recovery: prevs that are not the record seen before

	// rmu guards rd, the reader of entries not in the cache, kept open
	// between reads so that reading entries in index order (Raft's replay
	// after a restart, a follower catching up) reads the file once in
	// order; rdOpen says whether rd is set.
	rmu    sync.Mutex
	rd     *store.Reader
	rdOpen atomic.Bool
}

// readAhead is how many records past its position the kept reader reads
// forward to reach an entry; farther, a new reader starts at the entry.
const readAhead = 1024

type stableRec struct {
	seq uint64
	val []byte
}

type cached struct {
	ok  bool
	log raft.Log
}

// ErrKeyNotFound is returned by Get and GetUint64 for a key never set. Its
// text is the one hashicorp/raft checks for ("not found").
var ErrKeyNotFound = errors.New("not found")

var (
	_ raft.LogStore    = (*GroupStore)(nil)
	_ raft.StableStore = (*GroupStore)(nil)
)

// Name returns the group's name.
func (g *GroupStore) Name() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.name
}

// usableLocked returns why the group cannot be used, if it cannot.
func (g *GroupStore) usableLocked() error {
	if g.failed != nil {
		return g.failed
	}
	if g.closed {
		return ErrClosed
	}
	return nil
}

// fail stops the group with err (wrapping ErrCorrupt or a write failure).
func (g *GroupStore) failLocked(err error) error {
	if g.failed == nil {
		g.failed = err
		g.w.zl.Error("quorum WAL group stopped", zap.String("group", g.name), zap.Uint64("group_id", g.id), zap.Error(err))
	}
	return g.failed
}

// FirstIndex implements raft.LogStore: the first index stored, 0 when the
// log is empty.
func (g *GroupStore) FirstIndex() (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usableLocked(); err != nil {
		return 0, err
	}
	if len(g.seqs) == 0 {
		return 0, nil
	}
	return g.first, nil
}

// LastIndex implements raft.LogStore: the last index stored, 0 when the log
// is empty.
func (g *GroupStore) LastIndex() (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usableLocked(); err != nil {
		return 0, err
	}
	if len(g.seqs) == 0 {
		return 0, nil
	}
	return g.first + uint64(len(g.seqs)) - 1, nil
}

// GetLog implements raft.LogStore: it fills out with the entry at index, or
// returns raft.ErrLogNotFound. A recent entry comes from memory, any other
// from the WAL's file; an entry whose bytes are found damaged stops the
// group.
func (g *GroupStore) GetLog(index uint64, out *raft.Log) error {
	g.mu.Lock()
	if err := g.usableLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	seq, ok := g.seqLocked(index)
	if !ok {
		g.mu.Unlock()
		return raft.ErrLogNotFound
	}
	if n := len(g.cache); n > 0 {
		if c := &g.cache[index%uint64(n)]; c.ok && c.log.Index == index {
			*out = c.log
			g.mu.Unlock()
			g.closeReader() // caught up: reads come from the cache now
			return nil
		}
	}
	last := index == g.first+uint64(len(g.seqs))-1
	g.mu.Unlock()
	err := g.read(seq, index, out)
	if err == nil {
		if last {
			g.closeReader() // nothing further to read in order
		}
		return nil
	}
	g.mu.Lock()
	if now, ok := g.seqLocked(index); !ok || now != seq {
		g.mu.Unlock()
		return raft.ErrLogNotFound // deleted while it was read
	}
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	poison := g.stopLocked(err.Error())
	err = g.failed
	g.mu.Unlock()
	g.w.waitPoison(poison)
	return err
}

// stopLocked stops the group because its records are damaged and appends
// its poison record, so that it stays stopped across restarts (the store
// reports damage once, then drops the records). It returns the record to
// wait for, 0 when there is none.
func (g *GroupStore) stopLocked(reason string) uint64 {
	if g.failed != nil {
		return 0
	}
	g.failLocked(fmt.Errorf("%w: %s", ErrCorrupt, reason))
	g.buf = appendGroupHdr(g.buf[:0], g.id, g.last)
	g.buf = append(g.buf, reason...)
	seq, err := g.w.log.Append(flagPoison, g.buf)
	if err != nil {
		g.w.zl.Error("cannot record a damaged group's stop", zap.Uint64("group_id", g.id), zap.Error(err))
		return 0
	}
	g.poison, g.last = seq, seq
	return seq
}

// ownsLocked reports whether a live record of the group has a sequence
// number in [first, end).
func (g *GroupStore) ownsLocked(first, end uint64) bool {
	i, _ := slices.BinarySearch(g.seqs, first) // ascending: appended in order
	if i < len(g.seqs) && g.seqs[i] < end {
		return true
	}
	for _, r := range g.stable {
		if r.seq >= first && r.seq < end {
			return true
		}
	}
	return false
}

// seqLocked returns the WAL record of the entry at index.
func (g *GroupStore) seqLocked(index uint64) (uint64, bool) {
	if index < g.first || index-g.first >= uint64(len(g.seqs)) {
		return 0, false
	}
	return g.seqs[index-g.first], true
}

// read reads the entry at index from its record seq in the WAL's file,
// with the kept reader when seq is a little ahead of it.
func (g *GroupStore) read(seq, index uint64, out *raft.Log) error {
	g.rmu.Lock()
	defer g.rmu.Unlock()
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return ErrClosed // no reader is opened after closeReader
	}
	r := g.rd
	if r == nil || r.Position() > seq || seq-r.Position() > readAhead {
		if r != nil {
			r.Close()
		}
		r = g.w.log.NewReader(seq)
		g.rd = r
		g.rdOpen.Store(true)
	}
	rec, err := r.Next()
	for err == nil && rec.Seq < seq {
		rec, err = r.Next() // other groups' records, or settled ones
	}
	if err != nil {
		r.Close()
		g.rd = nil
		g.rdOpen.Store(false)
		return fmt.Errorf("%w: reading entry %d: %v", ErrCorrupt, index, err)
	}
	if rec.Seq != seq || rec.Flags != flagEntry {
		return fmt.Errorf("%w: entry %d (record %d) is missing", ErrCorrupt, index, seq)
	}
	id, _, body, err := parseGroupHdr(rec.Data)
	if err == nil && id != g.id {
		err = fmt.Errorf("record of another group")
	}
	if err == nil {
		err = decodeEntry(body, out)
	}
	if err == nil && out.Index != index {
		err = fmt.Errorf("holds index %d", out.Index)
	}
	if err != nil {
		return fmt.Errorf("%w: entry %d (record %d): %v", ErrCorrupt, index, seq, err)
	}
	return nil
}

// closeReader closes the kept reader, if any, releasing its file.
func (g *GroupStore) closeReader() {
	if !g.rdOpen.Load() {
		return
	}
	g.rmu.Lock()
	if g.rd != nil {
		g.rd.Close()
		g.rd = nil
	}
	g.rdOpen.Store(false)
	g.rmu.Unlock()
}

// StoreLog implements raft.LogStore.
func (g *GroupStore) StoreLog(l *raft.Log) error { return g.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: it appends entries with consecutive
// indexes and returns once they are on disk, sharing the fsync with every
// group that appends at the same time. Entries at indexes already stored
// replace them and everything after them (a Raft conflict); entries that do
// not follow the last one (after a snapshot was installed) replace the
// whole log.
func (g *GroupStore) StoreLogs(logs []*raft.Log) error {
	seq, err := g.appendLogs(logs)
	if err != nil || seq == 0 {
		return err
	}
	return g.wait(seq)
}

// AppendLogs is StoreLogs returning before the entries are on disk;
// Sync waits for them. A Raft leader's log is written so, while its
// followers write theirs (see the quorum package's replicaLog).
func (g *GroupStore) AppendLogs(logs []*raft.Log) error {
	_, err := g.appendLogs(logs)
	return err
}

// appendLogs appends logs' records and returns the last one's sequence
// number, 0 if there are none.
func (g *GroupStore) appendLogs(logs []*raft.Log) (uint64, error) {
	if len(logs) == 0 {
		return 0, nil
	}
	for i, l := range logs[1:] {
		if l.Index != logs[0].Index+uint64(i)+1 {
			return 0, fmt.Errorf("wal: entries %d and %d are not consecutive", logs[i].Index, l.Index)
		}
	}
	g.mu.Lock()
	if err := g.usableLocked(); err != nil {
		g.mu.Unlock()
		return 0, err
	}
	dropped := g.makeRoomLocked(logs[0].Index)
	var seq uint64
	for _, l := range logs {
		g.buf = appendEntry(g.buf[:0], g.id, g.last, l)
		var err error
		if seq, err = g.w.log.Append(flagEntry, g.buf); err != nil {
			err = g.failLocked(fmt.Errorf("wal: append: %w", err))
			g.mu.Unlock()
			return 0, err
		}
		g.last = seq
		g.seqs = append(g.seqs, seq)
		g.cachePutLocked(l)
	}
	if cap(g.buf) > 4<<10 {
		g.buf = nil // an idle group keeps no large buffer
	}
	g.mu.Unlock()
	if err := g.w.log.Settle(dropped...); err != nil {
		return 0, g.fail(fmt.Errorf("wal: %w", err))
	}
	return seq, nil
}

// wait waits until the record seq is on disk; a failed sync stops the
// group.
func (g *GroupStore) wait(seq uint64) error {
	if err := <-g.w.log.Wait(seq); err != nil {
		return g.fail(fmt.Errorf("wal: sync: %w", err))
	}
	return nil
}

// Sync waits until the entry at index, and every record the group
// appended before it, is on disk; for an index the group does not hold,
// until every record it appended is.
func (g *GroupStore) Sync(index uint64) error {
	g.mu.Lock()
	if err := g.usableLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	seq, ok := g.seqLocked(index)
	if !ok {
		seq = g.last
	}
	g.mu.Unlock()
	if seq == 0 {
		return nil
	}
	return g.wait(seq)
}

// DurableIndex returns the index of the last entry that is on disk with
// every entry before it; FirstIndex-1 when none is (0 for an empty log).
func (g *GroupStore) DurableIndex() uint64 {
	durable := g.w.log.Durable()
	g.mu.Lock()
	defer g.mu.Unlock()
	n, _ := slices.BinarySearch(g.seqs, durable)
	if g.first == 0 {
		return 0
	}
	return g.first + uint64(n) - 1
}

// fail takes the lock to stop the group with err.
func (g *GroupStore) fail(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failLocked(err)
}

// makeRoomLocked prepares the log for entries from index on: it drops the
// entries they replace and returns their records.
func (g *GroupStore) makeRoomLocked(index uint64) []uint64 {
	n := uint64(len(g.seqs))
	var dropped []uint64
	switch {
	case n == 0:
		g.first = index
	case index >= g.first && index <= g.first+n-1:
		dropped = slices.Clone(g.seqs[index-g.first:])
		g.seqs = g.seqs[:index-g.first]
	case index != g.first+n:
		dropped = g.seqs
		g.seqs, g.first = nil, index
	}
	return dropped
}

// cachePutLocked keeps a copy of l's header (its data is shared, never
// written) for GetLog.
func (g *GroupStore) cachePutLocked(l *raft.Log) {
	if g.cache == nil && g.w.cacheN > 0 {
		g.cache = make([]cached, g.w.cacheN)
	}
	if n := len(g.cache); n > 0 {
		g.cache[l.Index%uint64(n)] = cached{ok: true, log: *l}
	}
}

// Release drops what the group keeps in memory to spare reads and
// allocations, its cached entries and its encoding buffer, while its
// replica does not run; reads come from the file until entries are
// stored again.
func (g *GroupStore) Release() {
	g.mu.Lock()
	g.cache, g.buf = nil, nil
	g.mu.Unlock()
	g.closeReader()
}

// DeleteRange implements raft.LogStore: it deletes the entries from min to
// max inclusive, which must be a prefix (after a snapshot) or a suffix (a
// Raft conflict) of the log, and returns once the deletion is on disk, so a
// restart does not bring them back. Space comes back as the WAL's segments
// empty.
func (g *GroupStore) DeleteRange(min, max uint64) error {
	g.mu.Lock()
	if err := g.usableLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	n := uint64(len(g.seqs))
	if n == 0 || min > max || max < g.first || min > g.first+n-1 {
		g.mu.Unlock()
		return nil
	}
	last := g.first + n - 1
	var dropped []uint64
	switch {
	case min <= g.first && max >= last:
		dropped, g.seqs = g.seqs, nil
	case min <= g.first:
		k := max - g.first + 1
		dropped = slices.Clone(g.seqs[:k])
		g.seqs = slices.Clone(g.seqs[k:])
		g.first = max + 1
	case max >= last:
		dropped = slices.Clone(g.seqs[min-g.first:])
		g.seqs = g.seqs[:min-g.first]
	default:
		g.mu.Unlock()
		return fmt.Errorf("wal: DeleteRange(%d, %d) would leave a hole in %d..%d", min, max, g.first, last)
	}
	for i := range g.cache {
		if c := &g.cache[i]; c.ok && c.log.Index >= min && c.log.Index <= max {
			*c = cached{} // let the data go
		}
	}
	g.mu.Unlock()
	if err := g.w.settleDurably(dropped); err != nil {
		return g.fail(err)
	}
	return nil
}

// Set implements raft.StableStore; it returns once the value is on disk.
func (g *GroupStore) Set(key, val []byte) error {
	if len(key) >= maxStableKy {
		return fmt.Errorf("wal: stable key of %d bytes", len(key))
	}
	g.mu.Lock()
	if err := g.usableLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	g.buf = appendStable(g.buf[:0], g.id, g.last, key, val)
	seq, err := g.w.log.Append(flagStable, g.buf)
	if err != nil {
		err = g.failLocked(fmt.Errorf("wal: append: %w", err))
		g.mu.Unlock()
		return err
	}
	g.last = seq
	if cap(g.buf) > 4<<10 {
		g.buf = nil
	}
	old, had := g.stable[string(key)]
	g.stable[string(key)] = stableRec{seq: seq, val: slices.Clone(val)}
	g.mu.Unlock()
	if err := <-g.w.log.Wait(seq); err != nil {
		return g.fail(fmt.Errorf("wal: sync: %w", err))
	}
	// The old value goes only once the new one is on disk.
	if had {
		if err := g.w.log.Settle(old.seq); err != nil {
			return g.fail(fmt.Errorf("wal: %w", err))
		}
	}
	return nil
}

// Get implements raft.StableStore; a key never set returns ErrKeyNotFound.
func (g *GroupStore) Get(key []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usableLocked(); err != nil {
		return nil, err
	}
	r, ok := g.stable[string(key)]
	if !ok {
		return nil, ErrKeyNotFound
	}
	return slices.Clone(r.val), nil
}

// SetUint64 implements raft.StableStore.
func (g *GroupStore) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	putUint64(b[:], val)
	return g.Set(key, b[:])
}

// GetUint64 implements raft.StableStore; a key never set returns
// ErrKeyNotFound.
func (g *GroupStore) GetUint64(key []byte) (uint64, error) {
	b, err := g.Get(key)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("wal: stable key %q holds %d bytes, not a uint64", key, len(b))
	}
	return getUint64(b), nil
}

// liveSeqsLocked lists every live record of the group.
func (g *GroupStore) liveSeqsLocked() []uint64 {
	seqs := slices.Clone(g.seqs)
	for _, r := range g.stable {
		seqs = append(seqs, r.seq)
	}
	if g.poison != 0 {
		seqs = append(seqs, g.poison)
	}
	return seqs
}

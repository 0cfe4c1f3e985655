package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// The window's bounds: a replica keeps at most this many bodies, or this
// many body bytes, in memory. Above the 10,000 messages a publisher with
// a confirm window of 1,000 and a consumer with a prefetch of 1,000 keep
// in flight at most (warren-perf's quorum runs), so a queue that keeps up
// never pages; classic queues page past 4,096 messages or 32 MiB.
const (
	windowMessages = 16384
	windowBytes    = 32 << 20
)

// seekAhead is how far forward the random-access Reader reads to reach a
// record rather than start again at it (a Reader starting inside a
// segment reads from the sparse index's nearest entry, at most 1,023
// records before).
const seekAhead = 1024

// bodies holds the bodies of the messages of a replica, by the index that
// enqueued them (the state machine keeps only headers). A body is in
// memory, in the window, or in the replica's page log (pageLog): while
// the window is full, or the log holds bodies not yet read back, an
// enqueue's body is appended to the log, and as the window drains one
// Reader moving forward reads the log's bodies back into it, settling
// each record read. So the log holds a suffix of the queue in enqueue
// order, and the window the bodies before it. A body is dropped, from
// memory or from the log, as its message leaves the queue.
//
// bodies is used under fsm.mu; only the page log's holds (settles kept
// back while a snapshot reads the log) are shared with Raft's snapshot
// goroutine, under pageLog.mu.
type bodies struct {
	mem      map[uint64]*queue.Message
	memBytes int64
	maxMsgs  int
	maxBytes int64

	// open opens an empty page log; nil: bodies are never paged.
	open func() (*store.Log, error)
	log  *zap.Logger
	pl   *pageLog // nil until the first body is paged
	// failed: the page log could not be opened or written; bodies stay
	// in memory from then on.
	failed bool
}

// newBodies returns an empty body store with the window's bounds; open
// opens a page log (nil to keep every body in memory).
func newBodies(open func() (*store.Log, error), log *zap.Logger) *bodies {
	return &bodies{mem: map[uint64]*queue.Message{}, maxMsgs: windowMessages, maxBytes: windowBytes,
		open: open, log: log}
}

// full reports whether the window holds all it may.
func (b *bodies) full() bool { return len(b.mem) >= b.maxMsgs || b.memBytes >= b.maxBytes }

// len returns how many bodies are held, in memory and paged.
func (b *bodies) len() int {
	n := len(b.mem)
	if b.pl != nil {
		n += b.pl.paged
	}
	return n
}

// put adds the message enqueued at index, which is above every index held.
func (b *bodies) put(index uint64, m *queue.Message) {
	if b.pageable() && (b.full() || (b.pl != nil && b.pl.paged > 0)) {
		err := b.pageOut(index, m)
		if err == nil {
			return
		}
		b.fail("cannot page a quorum queue body out; bodies stay in memory", err)
	}
	b.mem[index] = m
	b.memBytes += int64(len(m.Body))
}

// pageable reports whether bodies may go to a page log.
func (b *bodies) pageable() bool { return b.open != nil && !b.failed }

// fail stops paging after err: every body from now on stays in memory.
func (b *bodies) fail(what string, err error) {
	if !b.failed {
		b.log.Error(what, zap.Error(err))
	}
	b.failed = true
}

// pageOut appends m, enqueued at index, to the page log.
func (b *bodies) pageOut(index uint64, m *queue.Message) error {
	if b.pl == nil {
		l, err := b.open()
		if err != nil {
			return err
		}
		b.pl = &pageLog{log: l}
	}
	return b.pl.append(index, m)
}

// get returns the message enqueued at index, or nil: from memory, or read
// from the page log (on Raft's FSM goroutine; see pageLog.read).
func (b *bodies) get(index uint64) *queue.Message {
	if m := b.mem[index]; m != nil {
		return m
	}
	if b.pl == nil {
		return nil
	}
	m, err := b.pl.read(index)
	if err != nil {
		b.log.Error("cannot read a paged quorum queue body", zap.Uint64("index", index), zap.Error(err))
	}
	return m
}

// drop forgets the bodies of messages that left the queue.
func (b *bodies) drop(indexes []uint64) {
	for _, index := range indexes {
		if m, ok := b.mem[index]; ok {
			delete(b.mem, index)
			b.memBytes -= int64(len(m.Body))
			continue
		}
		if b.pl != nil {
			b.pl.drop(index)
		}
	}
}

// refill reads paged bodies back into the window until it is full or the
// log holds none, writing the settles gathered since the last call first
// (the forward Reader must not find the records of bodies dropped since)
// and those of the records it read after.
func (b *bodies) refill() {
	pl := b.pl
	if pl == nil {
		return
	}
	if err := pl.flush(); err != nil {
		b.fail("cannot settle paged quorum queue bodies; bodies stay in memory", err)
	}
	for pl.paged > 0 && !b.full() {
		index, m, err := pl.next()
		if err != nil {
			b.log.Error("cannot read paged quorum queue bodies back; they are lost",
				zap.Int("bodies", pl.paged), zap.Error(err))
			pl.lost()
			break
		}
		b.mem[index] = m
		b.memBytes += int64(len(m.Body))
	}
	if err := pl.flush(); err != nil {
		b.fail("cannot settle paged quorum queue bodies; bodies stay in memory", err)
	}
}

// close deletes the page log once no snapshot reads it.
func (b *bodies) close() {
	if b.pl != nil {
		b.pl.close()
		b.pl = nil
	}
}

// window returns the indexes and messages in memory, sorted by index.
func (b *bodies) window() ([]uint64, []*queue.Message) {
	idx := make([]uint64, 0, len(b.mem))
	for i := range b.mem {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	msgs := make([]*queue.Message, len(idx))
	for i, x := range idx {
		msgs[i] = b.mem[x]
	}
	return idx, msgs
}

// pageLog is a replica's log of paged bodies, in a volatile store: each
// record is a body's index (8 bytes, big endian) and its encoded message.
// Records are appended in index order; runs map an index to its record.
// The log is a cache, never the record of the queue: it does not outlive
// the process, and a replica rebuilds it from its snapshot and Raft log.
type pageLog struct {
	log *store.Log
	// runs map indexes to sequence numbers: run i covers the records
	// from runs[i].seq to runs[i+1].seq (end for the last), of
	// consecutive indexes from runs[i].index. An entry's enqueues take
	// one run, 16 bytes however many they are. Runs before fwd's
	// position are trimmed.
	runs  []run
	end   uint64 // the sequence number the next append gets
	paged int    // records of live bodies not read back yet
	fwd   *store.Reader
	seek  *store.Reader
	// settles gathered during an Apply, written by flush.
	pending []uint64
	buf     []byte

	mu    sync.Mutex
	holds int    // snapshots reading the log
	held  seqSet // settles kept back while a snapshot reads the log
	dead  bool   // replaced or closed: deleted once no snapshot holds it
}

type run struct{ index, seq uint64 }

// append adds m, enqueued at index, at the end of the log.
func (p *pageLog) append(index uint64, m *queue.Message) error {
	p.buf = binary.BigEndian.AppendUint64(p.buf[:0], index)
	p.buf = queue.AppendMessage(p.buf, m)
	seq, err := p.log.Append(0, p.buf)
	if err != nil {
		return err
	}
	if p.fwd == nil {
		p.fwd = p.log.NewReader(seq)
	}
	if n := len(p.runs); n == 0 || seq != p.end || index != p.runs[n-1].index+(seq-p.runs[n-1].seq) {
		p.runs = append(p.runs, run{index: index, seq: seq})
	}
	p.end = seq + 1
	p.paged++
	return nil
}

// seqOf returns the record holding index's body, if the log holds it and
// the forward Reader has not read it back yet.
func (p *pageLog) seqOf(index uint64) (uint64, bool) {
	i, found := slices.BinarySearchFunc(p.runs, index, func(r run, x uint64) int {
		switch {
		case r.index < x:
			return -1
		case r.index > x:
			return 1
		}
		return 0
	})
	if !found {
		if i == 0 {
			return 0, false
		}
		i--
	}
	r := p.runs[i]
	end := p.end
	if i+1 < len(p.runs) {
		end = p.runs[i+1].seq
	}
	seq := r.seq + (index - r.index)
	if seq >= end || p.fwd == nil || seq < p.fwd.Position() {
		return 0, false
	}
	return seq, true
}

// drop settles the record of index's body, whose message left the queue.
func (p *pageLog) drop(index uint64) {
	if seq, ok := p.seqOf(index); ok {
		p.pending = append(p.pending, seq)
		p.paged--
	}
}

// read reads the body of index from the log without moving it to the
// window: a delivery past the window (a high-priority message, a Resend,
// a message returned while paged). It costs one record read when the
// deliveries come in log order, as they do from the head of a paged
// queue, and up to 1,024 records' reads otherwise (the store's sparse
// index has one entry per 1,024 records).
func (p *pageLog) read(index uint64) (*queue.Message, error) {
	seq, ok := p.seqOf(index)
	if !ok {
		return nil, nil
	}
	if p.seek != nil && (p.seek.Position() > seq || seq-p.seek.Position() > seekAhead) {
		p.seek.Close()
		p.seek = nil
	}
	if p.seek == nil {
		p.seek = p.log.NewReader(seq)
	}
	for {
		rec, err := p.seek.Next()
		if err != nil {
			return nil, err
		}
		if rec.Seq < seq {
			continue
		}
		if rec.Seq > seq {
			return nil, fmt.Errorf("record %d missing from the page log", seq)
		}
		at, m, err := decodePaged(rec.Data)
		if err == nil && at != index {
			err = fmt.Errorf("record %d holds index %d, not %d", seq, at, index)
		}
		return m, err
	}
}

// next reads the next live body back with the forward Reader and settles
// its record (at the next flush).
func (p *pageLog) next() (uint64, *queue.Message, error) {
	for {
		rec, err := p.fwd.Next()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%d bodies missing from the page log", p.paged)
		}
		if err != nil {
			return 0, nil, err
		}
		if p.isHeld(rec.Seq) {
			continue // its message left while a snapshot read the log
		}
		index, m, err := decodePaged(rec.Data)
		if err != nil {
			return 0, nil, fmt.Errorf("record %d: %w", rec.Seq, err)
		}
		p.pending = append(p.pending, rec.Seq)
		p.paged--
		p.trim()
		return index, m, nil
	}
}

// trim drops the runs the forward Reader has passed; with nothing paged
// it forgets them all, and the Reader, so that the next append starts
// afresh.
func (p *pageLog) trim() {
	if p.paged == 0 {
		p.fwd.Close()
		p.fwd, p.runs = nil, p.runs[:0]
		return
	}
	pos, i := p.fwd.Position(), 0
	for i+1 < len(p.runs) && p.runs[i+1].seq <= pos {
		i++
	}
	if i > 0 {
		p.runs = p.runs[:copy(p.runs, p.runs[i:])]
	}
}

// lost forgets the bodies the log failed to give back.
func (p *pageLog) lost() {
	p.fwd.Close()
	p.fwd, p.runs, p.paged = nil, p.runs[:0], 0
}

// isHeld reports whether seq's settle is held back by a snapshot.
func (p *pageLog) isHeld(seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held.has(seq)
}

// flush settles the records gathered since the last flush, or holds the
// settles back while a snapshot reads the log.
func (p *pageLog) flush() error {
	if len(p.pending) == 0 {
		return nil
	}
	defer func() { p.pending = p.pending[:0] }()
	p.mu.Lock()
	if p.holds > 0 {
		for _, s := range p.pending {
			p.held.add(s)
		}
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return p.log.Settle(p.pending...)
}

// hold keeps settles back until release, for a snapshot that reads the
// log; it returns the settles held back already (by an earlier
// snapshot), whose records the snapshot must skip.
func (p *pageLog) hold() seqSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holds++
	return p.held.clone()
}

// release ends a hold: the last one writes the settles held back, or
// deletes a log that was replaced meanwhile.
func (p *pageLog) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holds--
	if p.holds > 0 {
		return
	}
	if p.dead {
		p.log.Delete()
		return
	}
	for _, s := range p.held {
		p.log.SettleRange(s.start, s.end-1)
	}
	p.held = nil
}

// close closes the readers and deletes the log, at once or, while a
// snapshot reads it, on its release.
func (p *pageLog) close() {
	for _, r := range []*store.Reader{p.fwd, p.seek} {
		if r != nil {
			r.Close()
		}
	}
	p.fwd, p.seek = nil, nil
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead = true
	if p.holds == 0 {
		p.log.Delete()
	}
}

// diskSize returns the bytes the log takes on disk.
func (p *pageLog) diskSize() int64 { return p.log.DiskSize() }

// decodePaged decodes a page log record.
func decodePaged(data []byte) (uint64, *queue.Message, error) {
	if len(data) < 8 {
		return 0, nil, errors.New("short page log record")
	}
	m, err := queue.DecodeMessage(data[8:])
	return binary.BigEndian.Uint64(data), m, err
}

// seqSet is a set of sequence numbers as sorted, disjoint, non-adjacent
// ranges [start, end).
type seqSet []seqRange

type seqRange struct{ start, end uint64 }

// find returns the position of the first range ending after seq.
func (s seqSet) find(seq uint64) int {
	i, _ := slices.BinarySearchFunc(s, seq, func(r seqRange, x uint64) int {
		if r.end <= x {
			return -1
		}
		return 1
	})
	return i
}

func (s seqSet) has(seq uint64) bool {
	i := s.find(seq)
	return i < len(s) && s[i].start <= seq
}

func (s *seqSet) add(seq uint64) {
	v := *s
	i := v.find(seq)
	if i < len(v) && v[i].start <= seq {
		return
	}
	joinPrev := i > 0 && v[i-1].end == seq
	joinNext := i < len(v) && v[i].start == seq+1
	switch {
	case joinPrev && joinNext:
		v[i-1].end = v[i].end
		v = slices.Delete(v, i, i+1)
	case joinPrev:
		v[i-1].end++
	case joinNext:
		v[i].start--
	default:
		v = slices.Insert(v, i, seqRange{seq, seq + 1})
	}
	*s = v
}

func (s seqSet) clone() seqSet { return slices.Clone(s) }

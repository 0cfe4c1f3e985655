package quorum

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
	"github.com/warrenmq/warren/queue/store"
)

// snapshotEvery is the fewest entries applied between two snapshots. A
// snapshot writes every live body, so one is taken only once at least as
// many entries were applied since the last as there are live bodies, now
// or at the last snapshot, whichever is fewer: a snapshot of L bodies
// then follows at least L/2 entries, so the cost stays O(1) per entry
// however long the queue, and a queue that only grows (no consumer)
// snapshots each time it doubles, so a restart replays at most half of
// it. (Counting the bodies live now only, a growing queue would never
// snapshot again: the entries since the last one are always fewer.)
const snapshotEvery = 16384

// closeSnapshotMin is the fewest entries applied since the last snapshot
// for which a graceful stop takes one, so that the next start restores it
// rather than replaying them; fewer replay in no time, and an idle queue
// writes nothing when its node stops.
const closeSnapshotMin = 1024

// applied is the answer to one proposed command (fsm.Apply answers an
// entry with one per command, as its future's Response).
type applied struct {
	res fifo.Result
	// get is the message a basic.get took.
	get *queue.Message
	err error
}

// fsm is a replica of one quorum queue: the fifo state and the bodies it
// refers to. Raft's FSM goroutine applies; Stats and snapshots read under
// mu.
type fsm struct {
	q *Queue

	mu        sync.Mutex
	state     *fifo.State
	bodies    *bodies
	sinceSnap uint64
	snapLive  int // bodies live at the last snapshot
	broken    error
	batch     []decoded // decoding buffer

	// latency is the nanoseconds from the leader appending the last
	// entry applied to its applying here (metrics.go).
	latency atomic.Int64
}

// newFSM returns the replica of q with state st and no bodies.
func newFSM(q *Queue, st *fifo.State) *fsm {
	f := &fsm{q: q, state: st}
	f.bodies = f.newBodies()
	return f
}

// newBodies returns an empty body store, paging to a log of the node's
// page store when it has one.
func (f *fsm) newBodies() *bodies {
	b := newBodies(nil, f.q.log.With(zap.String("queue", f.q.decl.Name), zap.String("vhost", f.q.decl.VHost)))
	if f.q.t.pages != nil {
		b.open = func() (*store.Log, error) { return f.q.t.openPageLog(f.q.group) }
	}
	if f.q.t.window > 0 {
		b.maxMsgs = f.q.t.window
	}
	return b
}

var _ raft.FSM = (*fsm)(nil)

// Apply applies one committed entry's commands. On the leader it then
// carries out their effects; on a follower it drops them.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if rl := f.q.rlog.Load(); rl != nil {
		// A leader's entry may not be on its disk yet (replicalog.go).
		if err := rl.durable(l.Index); err != nil {
			f.q.stopReplica(fmt.Errorf("entry %d: %w", l.Index, err))
			return nil
		}
	}
	if !l.AppendedAt.IsZero() {
		f.latency.Store(int64(time.Since(l.AppendedAt)))
	}
	f.mu.Lock()
	if f.broken != nil {
		f.mu.Unlock()
		return nil
	}
	var err error
	if local, ok := f.q.prop.takeLocal(l.Data); ok {
		f.batch = append(f.batch[:0], local...)
	} else {
		f.batch, err = decodeEntry(l.Data, f.batch[:0])
	}
	if err != nil {
		f.broken = fmt.Errorf("entry %d: %w", l.Index, err)
		f.mu.Unlock()
		f.q.stopReplica(f.broken)
		return nil
	}
	leading := f.q.leading()
	out := make([]applied, len(f.batch))
	var todo []work
	elected := false
	for i, d := range f.batch {
		index := commandIndex(l.Index, i)
		res, effects := f.state.Apply(index, d.cmd)
		out[i].res = res
		if _, isEnq := d.cmd.(fifo.Enqueue); isEnq && d.msg != nil && res.Outcome == fifo.OK {
			f.bodies.put(index, d.msg)
		}
		if _, isGet := d.cmd.(fifo.Get); isGet && res.Outcome == fifo.OK && leading {
			out[i].get = f.bodies.get(res.Get.Index)
		}
		if len(effects) > 0 && leading {
			todo = f.resolve(todo, effects)
		}
		f.bodies.drop(f.state.Left())
		if _, ok := d.cmd.(fifo.LeaderElected); ok && leading {
			elected = true
		}
		f.sinceSnap++
	}
	clear(f.batch)
	f.bodies.refill()
	snap := f.snapshotDueLocked()
	reconfigure := elected && !fifo.SameConfig(f.state.Config(), f.q.config())
	f.mu.Unlock()
	if reconfigure {
		// A policy changed while the group could not commit, or this
		// replica restarted with arguments its log predates.
		f.q.proposeConfig()
	}
	f.q.carryOut(todo)
	if snap {
		f.q.snapshotSoon()
	}
	return out
}

// snapshotDue reports whether enough entries were applied since the last
// snapshot for the next (see snapshotEvery).
func (f *fsm) snapshotDue() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshotDueLocked()
}

func (f *fsm) snapshotDueLocked() bool {
	return f.sinceSnap >= max(f.q.t.snapshotEvery, uint64(min(f.snapLive, f.bodies.len())))
}

// work is one effect with the messages it needs, resolved under f.mu.
type work struct {
	fifo.Effect
	msgs []*queue.Message // the messages of Deliveries or Dead, in order
}

// resolve appends the effects to ws with the bodies they need. The
// effects' slices are copied: the next command's Apply reuses them.
func (f *fsm) resolve(ws []work, effects []fifo.Effect) []work {
	for _, e := range effects {
		w := work{Effect: e}
		switch e.Kind {
		case fifo.EffectDeliver:
			w.Deliveries = slices.Clone(e.Deliveries)
			w.msgs = make([]*queue.Message, len(e.Deliveries))
			for j, d := range e.Deliveries {
				w.msgs[j] = f.bodies.get(d.Index)
			}
		case fifo.EffectDeadLetter:
			w.Dead = slices.Clone(e.Dead)
			w.msgs = make([]*queue.Message, len(e.Dead))
			for j, d := range e.Dead {
				w.msgs[j] = f.bodies.get(d.Index)
			}
		}
		ws = append(ws, w)
	}
	return ws
}

// counts returns the replica's counters.
func (f *fsm) counts() queue.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return queue.Stats{Ready: uint32(f.state.Ready()), Unacked: uint32(f.state.CheckedOut()),
		Consumers: uint32(f.state.Consumers())}
}

// appliedSinceSnapshot returns how many entries were applied since the
// last snapshot (or the start).
func (f *fsm) appliedSinceSnapshot() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sinceSnap
}

// Snapshot captures the state and the live bodies; Persist writes them on
// Raft's snapshot goroutine. The state is encoded now, into a spool (an
// unlinked file beside the page logs, or memory without a data dir); the
// window's messages are shared (messages are immutable); the paged bodies
// are read from the page log by Persist, which holds the log's settles
// back until Release so that none of them goes meanwhile.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sp, err := f.q.t.newSpool()
	if err != nil {
		return nil, err
	}
	n, err := f.state.WriteSnapshot(sp)
	if err != nil {
		sp.Close()
		return nil, err
	}
	s := &snapshot{state: sp, stateLen: n}
	s.index, s.msgs = f.bodies.window()
	if pl := f.bodies.pl; pl != nil && pl.paged > 0 {
		s.paged = &pagedView{pl: pl, from: pl.fwd.Position(), end: pl.end, n: pl.paged, skip: pl.hold()}
	}
	f.sinceSnap, f.snapLive = 0, s.count()
	return s, nil
}

// Restore replaces the replica with a snapshot's: the state, the first
// bodies into memory and the rest into a fresh page log.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b := f.newBodies()
	st, err := readSnapshot(rc, b)
	if err != nil {
		b.close()
		return err
	}
	f.mu.Lock()
	old := f.bodies
	f.state, f.bodies, f.sinceSnap, f.snapLive, f.broken = st, b, 0, b.len(), nil
	f.mu.Unlock()
	old.close()
	return nil
}

// closeBodies drops the replica's bodies and deletes its page log: the
// replica stopped.
func (f *fsm) closeBodies() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies.close()
	f.bodies = f.newBodies()
}

// bodyStats returns the bodies the replica holds in memory (count and
// bytes), how many are paged, and the bytes its page log takes on disk.
func (f *fsm) bodyStats() (mem int, memBytes int64, paged int, disk int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bodies
	if b.pl != nil {
		paged, disk = b.pl.paged, b.pl.diskSize()
	}
	return len(b.mem), b.memBytes, paged, disk
}

// snapshot is a replica's state at one index and the bodies it refers to:
// the encoded fifo state (uvarint length, bytes), the number of bodies
// (uvarint), then each body's index (uvarint), length (uvarint) and
// encoded message, in index order.
type snapshot struct {
	state    spool
	stateLen int64
	// the window's bodies, by index
	index []uint64
	msgs  []*queue.Message
	paged *pagedView // nil when none is paged
}

// pagedView is the paged bodies of a snapshot: the records of pl from
// from to end, less those settled and those in skip, n of them.
type pagedView struct {
	pl        *pageLog
	from, end uint64
	n         int
	skip      seqSet
}

// count returns how many bodies the snapshot holds.
func (s *snapshot) count() int {
	n := len(s.index)
	if s.paged != nil {
		n += s.paged.n
	}
	return n
}

// Persist writes the snapshot to sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	err := s.write(sink)
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64*1024)
	var scratch [binary.MaxVarintLen64]byte
	bw.Write(binary.AppendUvarint(scratch[:0], uint64(s.stateLen)))
	if _, err := s.state.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if n, err := io.Copy(bw, s.state); err != nil || n != s.stateLen {
		return fmt.Errorf("snapshot state: %d of %d bytes copied: %v", n, s.stateLen, err)
	}
	bw.Write(binary.AppendUvarint(scratch[:0], uint64(s.count())))
	var m []byte
	body := func(idx uint64, enc []byte) {
		bw.Write(binary.AppendUvarint(scratch[:0], idx))
		bw.Write(binary.AppendUvarint(scratch[:0], uint64(len(enc))))
		bw.Write(enc)
	}
	i := 0
	window := func(below uint64) {
		for ; i < len(s.index) && s.index[i] < below; i++ {
			m = queue.AppendMessage(m[:0], s.msgs[i])
			body(s.index[i], m)
		}
	}
	if p := s.paged; p != nil {
		r := p.pl.log.NewReader(p.from)
		defer r.Close()
		for left := p.n; left > 0; {
			rec, err := r.Next()
			if err == nil && rec.Seq >= p.end {
				err = io.EOF
			}
			if err != nil {
				return fmt.Errorf("snapshot: %d paged bodies unread: %w", left, err)
			}
			if p.skip.has(rec.Seq) {
				continue
			}
			if len(rec.Data) < 8 {
				return fmt.Errorf("snapshot: short page log record %d", rec.Seq)
			}
			idx := binary.BigEndian.Uint64(rec.Data)
			window(idx)
			body(idx, rec.Data[8:])
			left--
		}
	}
	window(math.MaxUint64)
	return bw.Flush()
}

// Release implements raft.FSMSnapshot: it closes the spool and ends the
// hold on the page log.
func (s *snapshot) Release() {
	s.state.Close()
	if s.paged != nil {
		s.paged.pl.release()
	}
}

// maxSnapshotField bounds one length read from a snapshot, so that a
// damaged one cannot make Restore allocate without limit.
const maxSnapshotField = 1 << 30

// readSnapshot reads what snapshot.write wrote, putting the bodies in b.
func readSnapshot(r io.Reader, b *bodies) (*fifo.State, error) {
	br := byteReader{r: bufio.NewReaderSize(r, 64*1024)}
	raw := br.field()
	if br.err != nil {
		return nil, br.err
	}
	st, err := fifo.Restore(raw)
	if err != nil {
		return nil, err
	}
	n := br.uvarint()
	var data []byte // reused: DecodeMessage copies what it keeps
	var last uint64
	for i := uint64(0); i < n && br.err == nil; i++ {
		idx := br.uvarint()
		data = br.fieldInto(data)
		if br.err != nil {
			break
		}
		m, err := queue.DecodeMessage(data)
		if err != nil {
			return nil, fmt.Errorf("%w: snapshot body %d: %v", fifo.ErrCorrupt, idx, err)
		}
		if i > 0 && idx <= last {
			return nil, fmt.Errorf("%w: snapshot bodies out of order", fifo.ErrCorrupt)
		}
		last = idx
		b.put(idx, m)
	}
	if br.err != nil {
		return nil, fmt.Errorf("%w: snapshot: %v", fifo.ErrCorrupt, br.err)
	}
	b.refill() // writes the settles the puts gathered; reads nothing
	return st, nil
}

// byteReader reads uvarints and length-prefixed fields, keeping the first
// error.
type byteReader struct {
	r   *bufio.Reader
	err error
}

func (b *byteReader) uvarint() uint64 {
	if b.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(b.r)
	b.err = err
	return v
}

func (b *byteReader) field() []byte { return b.fieldInto(nil) }

// fieldInto reads a length-prefixed field into buf's storage when it is
// large enough, else into a new slice, and returns it.
func (b *byteReader) fieldInto(buf []byte) []byte {
	n := b.uvarint()
	if b.err != nil {
		return buf[:0]
	}
	if n > maxSnapshotField {
		b.err = fmt.Errorf("field of %d bytes", n)
		return buf[:0]
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, b.err = io.ReadFull(b.r, buf)
	return buf
}

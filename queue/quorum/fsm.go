package quorum

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
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

// sweepEvery is how many entries are applied between two drops of the
// bodies below the state's LiveFrom.
const sweepEvery = 256

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
	bodies    bodies
	sinceSnap uint64
	snapLive  int // bodies live at the last snapshot
	sinceDrop int
	broken    error
	batch     []decoded // decoding buffer
}

var _ raft.FSM = (*fsm)(nil)

// Apply applies one committed entry's commands. On the leader it then
// carries out their effects; on a follower it drops them.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
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
		if d.msg != nil {
			f.bodies.put(index, d.msg)
		}
		res, effects := f.state.Apply(index, d.cmd)
		out[i].res = res
		if _, isGet := d.cmd.(fifo.Get); isGet && res.Outcome == fifo.OK {
			out[i].get = f.bodies.get(res.Get.Index)
		}
		if len(effects) > 0 && leading {
			todo = f.resolve(todo, effects)
		}
		if _, ok := d.cmd.(fifo.LeaderElected); ok && leading {
			elected = true
		}
		f.sinceDrop++
		f.sinceSnap++
	}
	clear(f.batch)
	if f.sinceDrop >= sweepEvery {
		f.bodies.dropBelow(f.state.LiveFrom())
		f.sinceDrop = 0
	}
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
// Raft's snapshot goroutine. Messages are immutable, so sharing them is
// safe.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies.dropBelow(f.state.LiveFrom())
	idx, msgs := f.bodies.from(0)
	f.sinceSnap, f.snapLive = 0, len(idx)
	return &snapshot{state: f.state.Snapshot(), index: idx, msgs: msgs}, nil
}

// Restore replaces the replica with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, b, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.state, f.bodies, f.sinceSnap, f.snapLive, f.broken = st, b, 0, b.len(), nil
	f.mu.Unlock()
	return nil
}

// snapshot is a replica's state at one index and the bodies it refers to:
// the encoded fifo state (uvarint length, bytes), the number of bodies
// (uvarint), then each body's index (uvarint), length (uvarint) and
// encoded message.
type snapshot struct {
	state []byte
	index []uint64
	msgs  []*queue.Message
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
	buf := binary.AppendUvarint(make([]byte, 0, 64*1024), uint64(len(s.state)))
	buf = append(buf, s.state...)
	buf = binary.AppendUvarint(buf, uint64(len(s.index)))
	var m []byte
	for i, idx := range s.index {
		m = queue.AppendMessage(m[:0], s.msgs[i])
		buf = binary.AppendUvarint(buf, idx)
		buf = binary.AppendUvarint(buf, uint64(len(m)))
		buf = append(buf, m...)
		if len(buf) >= 64*1024 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// Release implements raft.FSMSnapshot.
func (s *snapshot) Release() {}

// maxSnapshotField bounds one length read from a snapshot, so that a
// damaged one cannot make Restore allocate without limit.
const maxSnapshotField = 1 << 30

// maxSnapshotPrealloc bounds the bodies Restore makes room for ahead of
// reading them (16 bytes each), whatever count a damaged snapshot claims;
// past it the slices grow as bodies are read.
const maxSnapshotPrealloc = 1 << 20

// readSnapshot reads what snapshot.write wrote.
func readSnapshot(r io.Reader) (*fifo.State, bodies, error) {
	br := byteReader{r: bufio.NewReaderSize(r, 64*1024)}
	var b bodies
	raw := br.field()
	if br.err != nil {
		return nil, b, br.err
	}
	st, err := fifo.Restore(raw)
	if err != nil {
		return nil, b, err
	}
	n := br.uvarint()
	if br.err == nil {
		b.index = make([]uint64, 0, min(n, maxSnapshotPrealloc))
		b.msgs = make([]*queue.Message, 0, min(n, maxSnapshotPrealloc))
	}
	var data []byte // reused: DecodeMessage copies what it keeps
	for i := uint64(0); i < n && br.err == nil; i++ {
		idx := br.uvarint()
		data = br.fieldInto(data)
		if br.err != nil {
			break
		}
		m, err := queue.DecodeMessage(data)
		if err != nil {
			return nil, b, fmt.Errorf("%w: snapshot body %d: %v", fifo.ErrCorrupt, idx, err)
		}
		if b.len() > 0 && idx <= b.index[len(b.index)-1] {
			return nil, b, fmt.Errorf("%w: snapshot bodies out of order", fifo.ErrCorrupt)
		}
		b.put(idx, m)
	}
	if br.err != nil {
		return nil, b, fmt.Errorf("%w: snapshot: %v", fifo.ErrCorrupt, br.err)
	}
	return st, b, nil
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

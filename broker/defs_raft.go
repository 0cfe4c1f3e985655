package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
)

// In a cluster the definitions are one hashicorp/raft group over the
// nodes. A command is committed when a majority of the nodes has it in
// its Raft log; each node's raftFSM then keeps it as localLog does on one
// node (appended to definitions.db, fsynced) and applies it through the
// same defsFSM, so that every node carries out the same effects in the
// same order. A node restarts from definitions.db, as a single node
// does, and serves what it has at once; Raft then hands it only the
// entries after its applied index (raftFSM skips the others) or, when it
// fell behind a snapshot, the snapshot, whose difference from the node's
// state (meta.Diff) it carries out.

// raftFSM is the definitions' state machine under Raft. Raft calls
// Apply, Snapshot and Restore one at a time, on its FSM goroutine.
type raftFSM struct {
	log   *zap.Logger
	store defsStore // nil: nothing is kept (Config.InMemory)
	fsm   *defsFSM
	since int // entries since the last local snapshot

	mu       sync.Mutex
	seen     uint64        // the last Raft index handed to Apply or Restore
	changed  chan struct{} // closed and replaced whenever seen moves
	results  [resultRing]result
	storeErr error // the first failed append; later ones are not tried
}

// resultRing is how many recent results a raftFSM keeps for proposers
// waiting to read theirs.
const resultRing = 1024

type result struct {
	index uint64
	a     applied
}

func newRaftFSM(log *zap.Logger, store defsStore, fsm *defsFSM) *raftFSM {
	return &raftFSM{log: log, store: store, fsm: fsm, seen: fsm.state.Applied(), changed: make(chan struct{})}
}

// Apply implements raft.FSM: it keeps and applies one committed entry,
// unless the node's state already has it.
func (f *raftFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || l.Index <= f.fsm.state.Applied() {
		f.advance(l.Index, nil)
		return nil
	}
	cmd, err := meta.Decode(l.Data)
	if err != nil {
		// A newer node's command this one cannot read: its state stops
		// following the cluster's, which the log says loudly.
		f.log.Error("committed definitions entry cannot be decoded; this node's definitions are now behind the cluster's",
			zap.Uint64("index", l.Index), zap.Error(err))
		f.advance(l.Index, nil)
		return nil
	}
	f.keep(l.Index, l.Data)
	a := f.fsm.apply(l.Index, cmd)
	if f.since++; f.since >= snapshotEvery {
		f.saveSnapshot()
	}
	f.advance(l.Index, &a)
	return a
}

// keep appends a committed entry to the local store. A failure is logged
// once and the store is no longer written: the node goes on from memory,
// and its next start takes what it missed from Raft.
func (f *raftFSM) keep(index uint64, entry []byte) {
	if f.store == nil || f.storeErr != nil {
		return
	}
	if err := f.store.Append(index, entry); err != nil {
		f.storeErr = err
		f.log.Error("keeping definitions locally failed; this node takes them from the cluster at its next start",
			zap.Uint64("index", index), zap.Error(err))
	}
}

// saveSnapshot saves the state and drops the local entries it covers.
func (f *raftFSM) saveSnapshot() {
	if f.store == nil || f.storeErr != nil {
		return
	}
	if err := f.store.SaveSnapshot(f.fsm.state.Applied(), f.fsm.state.Snapshot()); err != nil {
		f.log.Warn("saving a definitions snapshot failed; the log keeps the entries", zap.Error(err))
		return
	}
	f.since = 0
}

// advance records that Raft handed the FSM index, with its result.
func (f *raftFSM) advance(index uint64, a *applied) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a != nil {
		f.results[index%resultRing] = result{index: index, a: *a}
	}
	if index > f.seen {
		f.seen = index
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

// wait returns the result of the entry at index once this node applied
// it. An entry this node had applied before (it restarted since) or
// whose result left the ring answers an empty result.
func (f *raftFSM) wait(ctx context.Context, index uint64) (applied, error) {
	for {
		f.mu.Lock()
		seen, changed, r := f.seen, f.changed, f.results[index%resultRing]
		f.mu.Unlock()
		if seen >= index {
			if r.index == index {
				return r.a, nil
			}
			return applied{}, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return applied{}, fmt.Errorf("definitions entry %d committed, not yet applied on this node: %w", index, ctx.Err())
		}
	}
}

// waitSeen waits until Raft has handed this node's FSM index.
func (f *raftFSM) waitSeen(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		seen, changed := f.seen, f.changed
		f.mu.Unlock()
		if seen >= index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot implements raft.FSM: the state as of the last entry applied.
func (f *raftFSM) Snapshot() (raft.FSMSnapshot, error) {
	return defsSnapshot(f.fsm.state.Snapshot()), nil
}

// Restore implements raft.FSM: a snapshot newer than the node's state
// replaces it, and the node carries out the difference; an older one (the
// node's own last snapshot, handed back at start) changes nothing.
func (f *raftFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	next, err := meta.Restore(b)
	if err != nil {
		return err
	}
	if next.Applied() <= f.fsm.state.Applied() {
		f.advance(next.Applied(), nil)
		return nil
	}
	f.log.Info("definitions restored from the cluster's snapshot",
		zap.Uint64("from_index", f.fsm.state.Applied()), zap.Uint64("to_index", next.Applied()))
	effects := meta.Diff(f.fsm.state, next)
	f.fsm.mu.Lock()
	f.fsm.state = next
	f.fsm.mu.Unlock()
	f.fsm.srv.reconcile(effects, &applied{})
	f.saveSnapshot()
	f.advance(next.Applied(), nil)
	return nil
}

// defsSnapshot is a raft.FSMSnapshot of encoded definitions.
type defsSnapshot []byte

// Persist implements raft.FSMSnapshot.
func (s defsSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (defsSnapshot) Release() {}

// Commits that did not complete in time; the client hears 541 with the
// reason (defs_timeout.go).
var (
	// errNoLeader is a commit that found no leader in time: the node is
	// cut off from a majority of the cluster, or an election is under
	// way. Nothing was proposed.
	errNoLeader = errors.New("no majority of the cluster's nodes is reachable")
	// errUnconfirmed is a commit handed to a leader that did not confirm
	// it: the leader lost its majority or did not answer. The change may
	// still take effect, so it is not proposed again.
	errUnconfirmed = errors.New("the definitions leader lost its majority or did not answer before confirming it, which may yet take effect")
)

// raftDefs is the cluster's proposer. A command proposed on the leader
// goes to raft.Apply; on another node it is forwarded to the leader
// (forward), which commits it and answers its index. Either way the
// proposer then waits for its own node to apply that index, so that what
// Propose returns is this node's result and the change is visible here,
// and then (visible) for the other running nodes, so that it is visible
// there too.
type raftDefs struct {
	log     *zap.Logger
	raft    *raft.Raft
	fsm     *raftFSM
	node    string
	timeout time.Duration // the longest a commit may wait for a leader
	// forward sends an encoded command to the leader at addr and returns
	// the index it was committed at.
	forward func(ctx context.Context, addr raft.ServerAddress, entry []byte) (uint64, error)
	// visible, if set, waits until the other running nodes have applied
	// an index this node has applied (defs_visible.go).
	visible func(ctx context.Context, index uint64)

	closeOnce sync.Once
}

// Propose implements proposer.
func (d *raftDefs) Propose(ctx context.Context, cmd meta.Command) (applied, error) {
	entry := meta.Encode(cmd)
	if _, err := meta.Decode(entry); err != nil {
		return applied{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	index, err := d.commit(ctx, entry)
	if err != nil {
		return applied{}, err
	}
	a, err := d.fsm.wait(ctx, index)
	if err == nil && d.visible != nil {
		d.visible(ctx, index)
	}
	return a, err
}

// commit commits entry through the leader, waiting for one to be known.
// A proposal that did not reach a leader (raft.ErrNotLeader before it
// was appended) is tried again; one whose fate is unknown is
// errUnconfirmed, and no leader in time is errNoLeader.
func (d *raftDefs) commit(ctx context.Context, entry []byte) (uint64, error) {
	backoff := 10 * time.Millisecond
	for {
		addr, id := d.raft.LeaderWithID()
		var (
			index uint64
			err   error
		)
		switch {
		case id == raft.ServerID(d.node):
			index, err = d.applyLocal(ctx, entry)
		case addr != "":
			index, err = d.forward(ctx, addr, entry)
		default:
			err = raft.ErrNotLeader
		}
		if err == nil {
			return index, nil
		}
		if errors.Is(err, errNoLeader) || errors.Is(err, raft.ErrRaftShutdown) {
			return 0, err
		}
		if !errors.Is(err, raft.ErrNotLeader) {
			return 0, fmt.Errorf("%w: %v", errUnconfirmed, err)
		}
		select {
		case <-ctx.Done():
			return 0, errNoLeader
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// applyLocal commits entry on this node, the leader.
func (d *raftDefs) applyLocal(ctx context.Context, entry []byte) (uint64, error) {
	timeout := d.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := d.raft.Apply(entry, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrEnqueueTimeout) {
			return 0, errNoLeader
		}
		return 0, err
	}
	nudgeFollowers(d.raft)
	return f.Index(), nil
}

// Close implements proposer: it stops this node's Raft (the others go on
// without it) and saves a local snapshot, so that the next start
// replays nothing.
func (d *raftDefs) Close() error {
	var err error
	d.closeOnce.Do(func() {
		err = d.raft.Shutdown().Error()
		d.fsm.saveSnapshot()
		if d.fsm.store != nil {
			if cerr := d.fsm.store.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}

package broker

import (
	"context"
	"sync"

	"github.com/warrenmq/warren/broker/meta"
	"go.uber.org/zap"
)

// This file is the seam between the broker and its definitions: a
// proposer commits a definitions command and applies it, in commit order,
// through the node's state machine (defsFSM): the pure meta.State, then
// the reconciler (vhost_meta.go) that turns the effects into actions on
// this node. On one node the proposer is localLog, which appends each
// command to definitions.db (defs_bolt.go) before applying it; in a
// cluster it will be hashicorp/raft's Apply, whose FSM calls the same
// defsFSM.apply on every node.

// proposer commits definitions commands. Propose returns once cmd is
// committed and applied on this node, with what Apply answered (Err is
// the AMQP exception for the client); the error is a failed commit (or
// ctx ending before the commit), after which nothing has changed.
type proposer interface {
	Propose(ctx context.Context, cmd meta.Command) (applied, error)
	// Close saves what the next start needs and closes the log.
	Close() error
}

// applied is what the state machine returns for one command: the pure
// result, and what this node did about it.
type applied struct {
	meta.Result
	// queue is the queue a declare started on this node, nil for one that
	// existed or lives on another node.
	queue *queueEntry
	// startErr is why a declared queue could not be started here; the
	// definition exists and the declarer removes it (vhost.declareQueue).
	startErr error
}

// defsFSM is the node's definitions state machine: meta.State, which only
// it touches, and the server whose vhosts the effects update. apply runs
// one command at a time, in commit order (its caller serializes).
type defsFSM struct {
	srv *Server
	// mu guards state against readers other than the applier (read):
	// apply and a restore's swap hold it for writing.
	mu    sync.RWMutex
	state *meta.State
}

// apply applies the command committed at index and carries out its
// effects on this node.
func (f *defsFSM) apply(index uint64, cmd meta.Command) applied {
	f.mu.Lock()
	r, effects := f.state.Apply(index, cmd)
	f.mu.Unlock()
	a := applied{Result: r}
	f.srv.reconcile(effects, &a)
	return a
}

// read calls fn with the state, which it must not keep or change.
func (f *defsFSM) read(fn func(*meta.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// defsStore makes committed commands durable: Append writes one entry
// (fsynced) before it is applied, SaveSnapshot writes the whole state as
// of index and drops the entries it covers, in one transaction.
type defsStore interface {
	Append(index uint64, entry []byte) error
	SaveSnapshot(index uint64, snap []byte) error
	Close() error
}

// snapshotEvery is how many entries the local log holds before it writes
// a snapshot and drops them.
const snapshotEvery = 1024

// localLog is the single-node proposer: commit (append to the store,
// fsynced), then apply. One proposal at a time holds its turn (a channel,
// so that a caller's context can give up waiting); no vhost lock is held
// while the store syncs, so routing never waits for a definitions commit.
type localLog struct {
	log   *zap.Logger
	turn  chan struct{} // holds a token while a proposal commits and applies
	store defsStore     // nil: nothing is kept (Config.InMemory)
	fsm   *defsFSM
	last  uint64 // index of the last entry committed
	since int    // entries since the last snapshot

	closeOnce sync.Once
}

func newLocalLog(log *zap.Logger, store defsStore, fsm *defsFSM) *localLog {
	return &localLog{log: log, turn: make(chan struct{}, 1), store: store, fsm: fsm, last: fsm.state.Applied()}
}

// Propose implements proposer. The entry applied is the one decoded from
// what was committed, exactly what a replay or a replica applies.
func (l *localLog) Propose(ctx context.Context, cmd meta.Command) (applied, error) {
	entry := meta.Encode(cmd)
	cmd, err := meta.Decode(entry)
	if err != nil {
		return applied{}, err
	}
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return applied{}, ctx.Err()
	}
	defer func() { <-l.turn }()
	if err := ctx.Err(); err != nil {
		return applied{}, err
	}
	index := l.last + 1
	if l.store != nil {
		if err := l.store.Append(index, entry); err != nil {
			return applied{}, err
		}
	}
	l.last = index
	a := l.fsm.apply(index, cmd)
	if l.since++; l.since >= snapshotEvery {
		l.snapshot()
	}
	return a, nil
}

// snapshot saves the state and drops the entries it covers; a failure
// only leaves the entries for the next start to replay.
func (l *localLog) snapshot() {
	if l.store == nil {
		return
	}
	if err := l.store.SaveSnapshot(l.fsm.state.Applied(), l.fsm.state.Snapshot()); err != nil {
		l.log.Warn("saving a definitions snapshot failed; the log keeps the entries", zap.Error(err))
		return
	}
	l.since = 0
}

// Close implements proposer: it waits for the proposal under way, saves a
// snapshot so that the next start replays nothing, and closes the store.
func (l *localLog) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.turn <- struct{}{}
		defer func() { <-l.turn }()
		if l.store == nil {
			return
		}
		if l.since > 0 {
			l.snapshot()
		}
		err = l.store.Close()
	})
	return err
}

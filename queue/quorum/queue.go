package quorum

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// Queue is one quorum queue's replica on this node: its Raft group, the
// state machine it applies, and the sessions of this node's channels.
// Commands go through the proposer; the leader carries out the effects.
type Queue struct {
	t     *Type
	decl  queue.Declaration
	args  atomic.Pointer[queue.Args] // the effective arguments (UpdateArgs)
	group string
	hooks queue.Hooks
	log   *zap.Logger
	// observed has a value when the replica's leader changed (in a
	// cluster; observer registered it with Raft).
	observed chan raft.Observation
	observer *raft.Observer

	r     atomic.Pointer[raft.Raft]  // nil on a node that holds no replica
	trans raft.Transport             // the replica's, closed after Raft
	gt    atomic.Pointer[groupTrans] // trans in a cluster, for the rest loop
	rlog  atomic.Pointer[replicaLog] // the replica's log, nil in memory
	hint  atomic.Value               // string: the leader's address, as a peer last said
	fsm   *fsm
	prop  *proposer
	snap  atomic.Bool // a snapshot is being taken

	mu       sync.Mutex
	sessions map[queue.Publisher]*session
	done     bool // deleted or closed
	timers   [2]*time.Timer
	wg       sync.WaitGroup // snapshots and a stopping replica
	expiring bool           // the Expired hook was called
	expiry   sync.WaitGroup // the Expired hook's goroutine

	mem memberState // the members and their worker (members.go)

	// restMu serialises a replica's rest, its waking and its stop
	// (rest.go); stopping is set, under it, once the queue stops.
	restMu   sync.Mutex
	stopping bool
	resting  atomic.Pointer[restState] // set while the replica rests
	watch    restWatch                 // the rest loop's
}

var _ queue.Queue = (*Queue)(nil)

// Name implements queue.Queue.
func (q *Queue) Name() string { return q.decl.Name }

// raft returns the queue's Raft instance, nil until it runs.
func (q *Queue) raft() *raft.Raft { return q.r.Load() }

// raftOrNil is raft, or nil for a nil queue.
func (q *Queue) raftOrNil() *raft.Raft {
	if q == nil {
		return nil
	}
	return q.raft()
}

// leaderAddr returns the cluster address of the group's leader as this
// node knows it: its replica's, else what a peer last said, else a
// member's, which answers with the leader if it is not it.
func (q *Queue) leaderAddr() string {
	if r := q.raft(); r != nil {
		// A replica leaving the group (members.go) may hear from no
		// leader: it asks as a non-member does.
		if addr, _ := r.LeaderWithID(); addr != "" || q.member() {
			return string(addr)
		}
	}
	if h, _ := q.hint.Load().(string); h != "" {
		return h
	}
	members := q.members()
	if q.t.cfg.Net == nil || len(members) == 0 {
		return ""
	}
	m := members[int(time.Now().UnixNano()/int64(retryEvery))%len(members)]
	return q.t.cfg.Net.NodeAddr(m)
}

// Leader returns the name of the node whose replica leads, as this node
// knows it, or "".
func (q *Queue) Leader() string {
	if r := q.raft(); r != nil {
		_, id := r.LeaderWithID()
		return string(id)
	}
	if st := q.resting.Load(); st != nil {
		return st.leaderID
	}
	return ""
}

// setLeaderHint records where a peer said the leader is ("" forgets).
func (q *Queue) setLeaderHint(addr string) { q.hint.Store(addr) }

// leading reports whether this replica is the group's leader.
func (q *Queue) leading() bool {
	r := q.raft()
	return r != nil && r.State() == raft.Leader
}

// propose submits cmd (with m for an Enqueue); done, when set, gets the
// answer on the proposer's waiter goroutine and returns actions for owner.
func (q *Queue) propose(cmd fifo.Command, m *queue.Message, owner queue.SessionOwner, done func(applied) []queue.Action) {
	q.prop.submit(request{cmd: cmd, msg: m, owner: owner, done: done})
}

// call proposes cmd and waits for its answer, or ctx.
func (q *Queue) call(ctx context.Context, cmd fifo.Command) (applied, error) {
	ch := make(chan applied, 1)
	q.propose(cmd, nil, nil, func(a applied) []queue.Action {
		ch <- a
		return nil
	})
	select {
	case a := <-ch:
		return a, a.err
	case <-ctx.Done():
		return applied{}, ctx.Err()
	}
}

// now is the time stamped on a command.
func now() int64 { return time.Now().UnixMilli() }

// NewSession implements queue.Queue.
func (q *Queue) NewSession(o queue.SessionOwner) queue.Session {
	s := &session{q: q, owner: o, ch: *o.Publisher(), consumers: make(map[string]*consumer),
		held: make(map[uint64]held), pubBase: newPubBase()}
	q.mu.Lock()
	if q.done {
		s.closed = true
	} else {
		q.sessions[s.ch] = s
	}
	q.mu.Unlock()
	return s
}

// Publish implements queue.Queue: a message the broker made (a
// dead-lettered copy), which names no publisher.
func (q *Queue) Publish(m *queue.Message, c queue.Confirm) {
	q.propose(enqueueOf(m, queue.Publisher{}, 0), m, nil, func(a applied) []queue.Action {
		if c.To != nil {
			c.To.Confirmed(c.Seq, enqueued(a))
		}
		return nil
	})
}

// enqueueOf returns the Enqueue of m from publisher from, numbered seq in
// its session's contiguous run (see session.pubBase).
func enqueueOf(m *queue.Message, from queue.Publisher, seq uint64) fifo.Enqueue {
	ttl := int64(-1)
	if m.Props.Expiration != "" {
		if ms, err := queue.ParseExpiration(m.Props.Expiration); err == nil {
			ttl = ms
		}
	}
	return fifo.Enqueue{From: from, Seq: seq, Contiguous: from != queue.Publisher{}, Size: uint32(len(m.Body)),
		TTL: ttl, Priority: m.Props.Priority, Now: now()}
}

// Touch implements queue.Queue.
func (q *Queue) Touch() {
	if q.args.Load().Expires > 0 {
		q.propose(fifo.Touch{Now: now()}, nil, nil, nil)
	}
}

// Purge implements queue.Queue.
func (q *Queue) Purge(ctx context.Context) (uint32, error) {
	a, err := q.call(ctx, fifo.Purge{Now: now()})
	if err != nil {
		return 0, q.unavailable(err)
	}
	return uint32(a.res.Purged), nil
}

// Stats implements queue.Queue: this replica's counts, which a follower
// may read slightly behind the leader.
func (q *Queue) Stats(context.Context) queue.Stats { return q.fsm.counts() }

// Delete implements queue.Queue. Quorum queues refuse if-unused and
// if-empty deletes, as RabbitMQ's do.
func (q *Queue) Delete(_ context.Context, ifUnused, ifEmpty bool) (uint32, error) {
	q.mu.Lock()
	switch {
	case q.done:
	case ifUnused:
		q.mu.Unlock()
		return 0, q.notImplemented("if-unused")
	case ifEmpty:
		q.mu.Unlock()
		return 0, q.notImplemented("if-empty")
	}
	if q.done {
		closed := q.sessions == nil
		q.mu.Unlock()
		if closed {
			return 0, protocol.NewError(protocol.NotFound, "no queue '%s' in vhost '%s'", q.decl.Name, q.decl.VHost)
		}
		return 0, nil
	}
	ready := q.fsm.counts().Ready
	sessions := q.endLocked()
	q.sessions = map[queue.Publisher]*session{}
	q.mu.Unlock()
	for _, s := range sessions {
		s.down()
	}
	q.stop()
	if err := q.t.dropGroup(q.group); err != nil {
		q.log.Warn("deleting quorum queue data failed", zap.String("queue", q.decl.Name), zap.Error(err))
	}
	return ready, nil
}

// notImplemented is RabbitMQ's refusal of a conditional delete.
func (q *Queue) notImplemented(flag string) error {
	return protocol.NewError(protocol.NotImplemented,
		"cannot delete queue '%s' in vhost '%s'. queue.delete operations with %s flag set are not supported by quorum queues",
		q.decl.Name, q.decl.VHost, flag)
}

// Close implements queue.Queue: the replica stops, keeping its log and
// snapshots for the next start.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.done {
		q.mu.Unlock()
		return nil
	}
	sessions := q.endLocked()
	q.sessions = nil
	q.mu.Unlock()
	for _, s := range sessions {
		s.close(false)
	}
	q.snapshotOnStop()
	q.stop()
	q.expiry.Wait()
	return nil
}

// snapshotOnStop takes a snapshot before the replica stops gracefully
// when enough entries were applied since the last one (closeSnapshotMin),
// so that the next start restores the queue from it instead of replaying
// those entries, which a queue serves only once it has applied them.
func (q *Queue) snapshotOnStop() {
	r := q.raft()
	if r == nil || q.t.wal == nil || q.fsm.appliedSinceSnapshot() < closeSnapshotMin {
		return
	}
	err := r.Snapshot().Error()
	switch {
	case err == nil, errors.Is(err, raft.ErrNothingNewToSnapshot), errors.Is(err, raft.ErrRaftShutdown):
	default:
		q.log.Warn("quorum queue snapshot at stop", zap.String("queue", q.decl.Name), zap.String("vhost", q.decl.VHost), zap.Error(err))
	}
}

// endLocked marks the queue done and returns its sessions.
func (q *Queue) endLocked() []*session {
	q.done = true
	out := make([]*session, 0, len(q.sessions))
	for _, s := range q.sessions {
		out = append(out, s)
	}
	for _, t := range q.timers {
		if t != nil {
			t.Stop()
		}
	}
	return out
}

// stop shuts the replica down and joins what it started. The proposer
// stops first, while Raft still answers what it has in hand: Raft may
// drop, without an answer, a committed entry it had not yet applied when
// it shuts down, and the proposer's waiter would wait for it for ever.
func (q *Queue) stop() {
	q.restMu.Lock()
	q.stopping = true
	resting := q.resting.Load() != nil
	q.restMu.Unlock()
	q.stopMembers()
	q.prop.close()
	r := q.raft()
	if r != nil {
		if q.observer != nil {
			r.DeregisterObserver(q.observer)
		}
		abortRPCs(q.trans)
		if err := r.Shutdown().Error(); err != nil {
			q.log.Warn("quorum queue raft shutdown", zap.String("queue", q.decl.Name), zap.Error(err))
		}
	}
	if c, ok := q.trans.(raft.WithClose); ok && (r != nil || resting) {
		c.Close()
	}
	q.wg.Wait()
	q.fsm.closeBodies()
	q.t.forget(q)
}

// abortRPCs fails the RPCs a replica's transport has in flight (and
// sends after), so that its Raft's Shutdown does not wait for an append
// to a peer that does not answer: a replica stopping has nothing more to
// say to its group.
func abortRPCs(t raft.Transport) {
	if g, ok := t.(*groupTrans); ok {
		g.abort()
	}
}

// stopReplica stops a replica that met an entry it cannot apply: it must
// not diverge from the others by skipping it.
func (q *Queue) stopReplica(err error) {
	q.log.Error("quorum queue replica stopped: a committed entry cannot be applied",
		zap.String("queue", q.decl.Name), zap.String("vhost", q.decl.VHost), zap.Error(err))
	q.goTracked(func() {
		if r := q.raft(); r != nil {
			r.Shutdown()
		}
	})
}

// goTracked runs f on a goroutine the queue joins when it stops, unless
// the queue is stopping already.
func (q *Queue) goTracked(f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return
	}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		f()
	}()
}

// snapshotSoon takes a snapshot on a goroutine of its own, unless one is
// being taken; that one takes another when it ends if one is due by then,
// so a snapshot asked for while another runs is not lost when no entry
// follows to ask again.
func (q *Queue) snapshotSoon() {
	if !q.snap.CompareAndSwap(false, true) {
		return
	}
	q.goTracked(func() {
		for {
			ok := q.takeSnapshot()
			q.snap.Store(false)
			if !ok || !q.fsm.snapshotDue() || !q.snap.CompareAndSwap(false, true) {
				return
			}
		}
	})
}

// takeSnapshot has Raft take a snapshot and reports whether it did.
func (q *Queue) takeSnapshot() bool {
	r := q.raft()
	if r == nil {
		return false
	}
	if err := r.Snapshot().Error(); err != nil {
		if err != raft.ErrNothingNewToSnapshot {
			q.log.Debug("quorum queue snapshot", zap.String("queue", q.decl.Name), zap.Error(err))
		}
		return false
	}
	return true
}

// unavailable turns a failed proposal into the exception a client sees.
func (q *Queue) unavailable(err error) error {
	return protocol.NewError(protocol.InternalError,
		"timeout waiting for queue '%s' in vhost '%s': %v", q.decl.Name, q.decl.VHost, err)
}

// gone is the error of an operation on a session or queue that is no
// longer there.
func (q *Queue) gone() error {
	return protocol.NewError(protocol.NotFound, "no queue '%s' in vhost '%s'", q.decl.Name, q.decl.VHost)
}

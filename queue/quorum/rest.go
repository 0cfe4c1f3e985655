package quorum

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
)

// An idle group rests: its replicas stop their Raft (a crash and restart
// is always safe for Raft) and start it again when the group is needed,
// so that thousands of idle quorum queues cost a node no goroutines,
// timers or heartbeats of theirs. In a cluster only; a replica rests when
// its group has been idle for Config.RestAfter (restAfter by default):
//
//   - nothing changed its log, commit or applied index or term meanwhile,
//     all of it is applied, and it is a follower that follows a leader
//     or the leader;
//   - the queue has no consumer, no message checked out or waiting to be
//     dead-lettered, and at most restMaxReady ready messages
//     (restMaxBytes of bodies): a replica restores its last snapshot and
//     the entries after it when it wakes, which costs with the backlog;
//   - nothing waits in its proposer, no member change is under way and
//     no snapshot is being taken;
//   - a leader rests only once every follower acknowledged an append
//     carrying its whole log as committed at least restLead ago (half as
//     long again and a second), so that its followers, idle from then
//     on, rested before it: a follower that still runs when its leader's
//     node stops listing the group in its beats stands for election
//     (raftnet_beat.go), which wakes the group.
//
// A node's rest loop looks at every replica each tenth of RestAfter. A
// resting replica keeps its transport (groupTrans): heartbeats that beats
// hand it are taken (its leader's node goes on answering for it from its
// last answer), a heartbeat of the term it rested at is answered as its
// Raft would, and any other request, an append with entries, a vote, a
// snapshot, wakes it before it is served. A command wakes the replica
// that led as the group rested (it stands for election at once, and its
// requests for votes wake the others); on another node the proposer
// forwards to that leader's node as usual, and wakes its own replica, to
// stand at once, only when that node cannot be reached. A member change
// wakes the replica too, and so does the loss of the node it rested led
// from (its link closes, or the cluster reports it down), for the
// group's first voter but for that node's, which stands. The queue's
// timers run while it rests: one that fires proposes, which wakes it.
// Views of a resting replica (Leader, Voters, RaftMetrics) report it as
// it rested.
const (
	restAfter    = 10 * time.Second // Config.RestAfter's default
	restMaxReady = 1024
	restMaxBytes = 1 << 20
)

// keptOpen is what a replica's Raft gets of its groupTrans: all of it but
// Close, which Raft's Shutdown would call. The queue closes the transport
// itself when the replica stops, and keeps it open while it rests.
type keptOpen struct{ preVoteTransport }

type preVoteTransport interface {
	raft.Transport
	raft.WithPreVote
}

// restState is what a resting replica reports, as it was when it rested.
type restState struct {
	leaderAddr string
	leaderID   string
	voters     []string
	metrics    queue.RaftMetrics // metrics.Leader: it led the group
}

// restWatch is the rest loop's view of a running replica: its Raft's
// indexes and term, and since when they are unchanged with the queue
// idle.
type restWatch struct {
	r                           *raft.Raft
	last, commit, applied, term uint64
	since                       time.Time
}

// restLoop has idle replicas rest, every tenth of RestAfter, until stop
// closes.
func (t *Type) restLoop(stop <-chan struct{}) {
	tick := time.NewTicker(t.cfg.RestAfter / 10)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			for _, q := range t.running() {
				q.restIfIdle(now)
			}
		}
	}
}

// restIfIdle has the replica rest if its group has been idle long enough.
func (q *Queue) restIfIdle(now time.Time) {
	r, g := q.raft(), q.gt.Load()
	if r == nil || g == nil {
		return
	}
	w := &q.watch
	cur := restWatch{r: r, last: r.LastIndex(), commit: r.CommitIndex(), applied: r.AppliedIndex(), term: r.CurrentTerm(),
		since: w.since}
	if cur != *w || !q.idle() {
		cur.since = now
		*w = cur
		return
	}
	if now.Sub(w.since) < q.t.cfg.RestAfter || cur.applied != cur.last || cur.commit != cur.last {
		return
	}
	switch r.State() {
	case raft.Follower:
		if addr, _ := r.LeaderWithID(); addr == "" || !g.following(string(addr)) {
			return
		}
	case raft.Leader:
		if !q.followersRested(r, g, cur.last, now) {
			return
		}
	default:
		return
	}
	q.rest(r, g)
	*w = restWatch{} // the stopped Raft is not held
}

// idle reports whether nothing of the queue's needs its Raft running.
func (q *Queue) idle() bool {
	q.mu.Lock()
	done := q.done
	q.mu.Unlock()
	if done || q.snap.Load() || !q.prop.idle() {
		return false
	}
	q.mem.mu.Lock()
	busy := q.mem.busy
	q.mem.mu.Unlock()
	return !busy && q.fsm.restable()
}

// restLead is how long after its followers acknowledged its whole log
// as committed a leader waits before it rests: their own wait, after, and
// half of it again and a second for their applying and their sweeps,
// which a busy node makes late (a leader that rests before a follower
// leaves it to stand for election, which wakes the group).
func restLead(after time.Duration) time.Duration { return after*3/2 + time.Second }

// followersRested reports whether every other server of the leader r's
// configuration acknowledged last as committed at least restLead ago.
func (q *Queue) followersRested(r *raft.Raft, g *groupTrans, last uint64, now time.Time) bool {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	self := raft.ServerID(q.t.cfg.Node)
	for _, s := range f.Configuration().Servers {
		if s.ID == self {
			continue
		}
		a, ok := g.ackedBy(string(s.Address))
		if !ok || a.index < last || now.Sub(a.at) < restLead(q.t.cfg.RestAfter) {
			return false
		}
	}
	return true
}

// rest stops r, the replica's Raft, and its proposer's goroutines,
// keeping its transport and what it reports.
func (q *Queue) rest(r *raft.Raft, g *groupTrans) {
	if q.stopRaft(r, g) {
		// Not under restMu: the proposer's loop may be waking the
		// replica for a command that came meanwhile.
		q.prop.park()
	}
}

// stopRaft stops r for the replica to rest, after a snapshot of what
// was applied since the last, and releases its log's cache; it reports
// whether it stopped r.
func (q *Queue) stopRaft(r *raft.Raft, g *groupTrans) bool {
	q.restMu.Lock()
	defer q.restMu.Unlock()
	if q.stopping || q.raft() != r || !q.prop.idle() {
		return false
	}
	// The replica restores its last snapshot when it wakes: taken now,
	// it holds everything applied, and the replica wakes as it rested
	// rather than behind until it learns the commit index again.
	if q.fsm.appliedSinceSnapshot() > 0 {
		if err := r.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			q.log.Debug("quorum queue snapshot before rest", zap.String("queue", q.decl.Name), zap.Error(err))
			return false
		}
	}
	addr, id := r.LeaderWithID()
	st := &restState{leaderAddr: string(addr), leaderID: string(id), voters: q.Voters()}
	st.metrics, _ = q.RaftMetrics()
	q.resting.Store(st)
	q.r.Store(nil)
	q.setLeaderHint(st.leaderAddr)
	g.rest(func() { q.wake(false) }, r.CurrentTerm(), r.LastIndex())
	if q.observer != nil {
		r.DeregisterObserver(q.observer)
	}
	g.abort()
	if err := r.Shutdown().Error(); err != nil {
		q.log.Warn("quorum queue raft shutdown", zap.String("queue", q.decl.Name), zap.Error(err))
	}
	if q.t.wal != nil {
		if gs, err := q.t.wal.Group(q.group); err == nil {
			gs.Release()
		}
	}
	q.log.Debug("quorum queue replica rests", zap.String("queue", q.decl.Name), zap.String("vhost", q.decl.VHost))
	return true
}

// wake starts a resting replica's Raft again; it stands for election at
// once when stand is set. A replica woken by another's request does not
// stand: that one is a candidate, whose election it would split, or a
// leader.
func (q *Queue) wake(stand bool) {
	q.restMu.Lock()
	defer q.restMu.Unlock()
	st := q.resting.Load()
	if st == nil || q.stopping {
		return
	}
	g := q.gt.Load()
	g.resume()
	if err := q.t.startReplica(q, g, stand); err != nil {
		q.log.Error("quorum queue replica cannot wake", zap.String("queue", q.decl.Name),
			zap.String("vhost", q.decl.VHost), zap.Error(err))
		g.rest(func() { q.wake(false) }, st.metrics.Term, st.metrics.LastIndex)
		return
	}
	q.resting.Store(nil)
	// After resting is cleared: a park under way starts the loop again
	// when it finds the replica awake.
	q.prop.unpark()
	q.log.Debug("quorum queue replica wakes", zap.String("queue", q.decl.Name), zap.String("vhost", q.decl.VHost))
}

// wakeForCommand wakes a resting replica for a command when no other
// node would: it led as it rested, or its leader's node cannot be
// reached (a forward to it failed). It reports whether the replica runs
// now; otherwise the command goes to the leader's node, which wakes its
// replica.
func (q *Queue) wakeForCommand() bool {
	st := q.resting.Load()
	if st == nil {
		return false
	}
	if h, _ := q.hint.Load().(string); !st.metrics.Leader && h != "" && h == st.leaderAddr && q.t.links.dialable(h) {
		return false
	}
	q.wake(true)
	return q.raft() != nil
}

// wakeLedFrom wakes, to stand for election, the resting replicas here
// whose group rested led from the node at addr, now lost, where this
// replica is the group's first voter but for that node's: a group keeps
// a leader, and every view of it a live one, though no command comes.
// The others wake when it asks for their votes.
func (t *Type) wakeLedFrom(addr string) {
	if addr == "" {
		return
	}
	for _, q := range t.running() {
		st := q.resting.Load()
		if st == nil || st.metrics.Leader || st.leaderAddr != addr {
			continue
		}
		first := ""
		for _, v := range st.voters {
			if v != st.leaderID && (first == "" || v < first) {
				first = v
			}
		}
		if first == t.cfg.Node {
			q.goTracked(func() { q.wake(true) })
		}
	}
}

// Resting reports whether the replica rests.
func (q *Queue) Resting() bool { return q.resting.Load() != nil }

// restingLeader returns, for a resting replica, whether it led as it
// rested and the address of its leader then.
func (q *Queue) restingLeader() (resting, led bool, addr string) {
	if q == nil {
		return false, false, ""
	}
	st := q.resting.Load()
	if st == nil {
		return false, false, ""
	}
	return true, st.metrics.Leader, st.leaderAddr
}

// restable reports whether the queue's state lets its replica rest.
func (f *fsm) restable() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.state
	return f.broken == nil && s.Consumers() == 0 && s.CheckedOut() == 0 && s.DeadLetterPending() == 0 &&
		s.Ready() <= restMaxReady && s.ReadyBytes() <= restMaxBytes
}

// idle reports whether the proposer holds nothing: nothing to send or in
// flight.
func (p *proposer) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idleLocked()
}

// idleLocked is idle with p.mu held.
func (p *proposer) idleLocked() bool {
	return !p.stopped && p.inflight == 0 && len(p.retry)+len(p.pending)+len(p.back) == 0
}

// rest marks the replica resting at term with its log up to last: it
// follows no one, and wake is called by the first request that reaches
// it but for a heartbeat at term (answerResting).
func (g *groupTrans) rest(wake func(), term, last uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.wake, g.restTerm, g.restLast = wake, term, last
	g.heartbeat, g.retime, g.chosen, g.ahead = nil, nil, nil, nil
	g.followAddr, g.stood, g.acked = "", false, nil
}

// resume readies the transport of a resting replica for its new Raft,
// which starts with hurried timeouts.
func (g *groupTrans) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.wake, g.hurried = nil, true
	if g.wasAborted {
		g.aborted, g.wasAborted = make(chan struct{}), false
	}
}

// answerResting returns the answer of a resting replica to cmd when it
// is a heartbeat of the term it rested at: the answer its Raft would
// give (success, its last index), without waking it. The first
// heartbeat of a leader's term reaches its followers; one that rested
// meanwhile stays at rest.
func (g *groupTrans) answerResting(cmd any) (*raft.AppendEntriesResponse, bool) {
	if !isHeartbeat(cmd) {
		return nil, false
	}
	a := cmd.(*raft.AppendEntriesRequest)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wake == nil || a.Term != g.restTerm {
		return nil, false
	}
	return &raft.AppendEntriesResponse{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(g.id), Addr: []byte(g.run.net.Addr())},
		Term:      g.restTerm, LastLog: g.restLast, Success: true,
	}, true
}

// wakeIfResting wakes the replica if it rests, before a request is
// handed to it.
func (g *groupTrans) wakeIfResting() {
	g.mu.Lock()
	wake := g.wake
	g.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// noteAcked records that the follower at addr acknowledged commit as
// committed, the first time it does.
func (g *groupTrans) noteAcked(addr string, commit uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a, ok := g.acked[addr]; ok && a.index >= commit {
		return
	}
	if g.acked == nil {
		g.acked = map[string]ackedCommit{}
	}
	g.acked[addr] = ackedCommit{index: commit, at: time.Now()}
}

// ackedBy returns the highest commit index the follower at addr
// acknowledged, and when.
func (g *groupTrans) ackedBy(addr string) (ackedCommit, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, ok := g.acked[addr]
	return a, ok
}

package quorum

import (
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// A quorum queue's members are recorded in its definition. When they
// change, the broker calls SetMembers on every node, and each node's part
// follows on the queue's member worker (one goroutine at a time, started
// on demand, joined by Queue.stop; never the caller's goroutine, since
// SetMembers runs on the definitions' apply goroutine):
//
//   - a node newly a member starts a replica that is not bootstrapped:
//     the leader adds it to the Raft configuration and sends it the
//     group's state (a snapshot, then the entries after it);
//   - the replica that leads makes the Raft configuration match the
//     members: RemoveServer for servers that are no longer members and
//     are down, AddVoter for members it lacks (or whose address
//     changed), then RemoveServer for the other servers no longer
//     members. It does so whenever the members change and whenever it
//     becomes leader (a change may have found no leader, or a leader that
//     lost its place midway), and retries while it leads;
//   - a replica whose node is no longer a member goes on serving the
//     group until the configuration no longer counts it, since the others
//     may need it for a majority until then: a leader removes itself
//     (after which Raft steps it down), a follower waits
//     until its configuration leaves it out. A follower that hears from
//     no leader for leaveGrace while every other server of its
//     configuration is up has been left out without hearing of it (Raft
//     sends the entry that removes a server once, and a node that was
//     down then restarts with the old configuration). Then the replica
//     stops, forgets its state and deletes its log and snapshots, and the
//     node serves the queue's channels as any non-member does, through
//     the leader. A node that starts with a replica's data but is no
//     longer a member starts the replica to leave the same way.
//
// A change that leaves the group without a majority (removing a member
// of two while the other is down) is carried out once the group has a
// leader again.

// memberRetry is how long the member worker waits before it looks again
// at a change it could not finish.
const memberRetry = 500 * time.Millisecond

// memberChangeTimeout bounds how long a configuration change waits to be
// taken by the leader's loop.
const memberChangeTimeout = 10 * time.Second

// leaveGrace is how long a replica that is no longer a member waits,
// hearing from no leader while the rest of its group is up, before it
// concludes that the group left it out (a variable for tests).
var leaveGrace = 10 * time.Second

// memberState is a queue's members and the worker that follows their
// changes.
type memberState struct {
	list atomic.Pointer[[]string] // nil: the declaration's

	mu      sync.Mutex    // guards the fields below; never held while waiting
	busy    bool          // the worker runs
	again   bool          // the worker takes another pass
	stopped bool          // the queue stops: no worker starts, no replica changes
	quit    chan struct{} // closed once stopped; made on first use

	alone time.Time // the worker's: since when a leaving follower has heard from no leader

	// replica is held while the worker starts or drops the replica, and
	// by stopMembers, so that no replica starts after Queue.stop.
	replica sync.Mutex
}

// quitLocked returns the channel closed once the queue stops.
func (m *memberState) quitLocked() chan struct{} {
	if m.quit == nil {
		m.quit = make(chan struct{})
	}
	return m.quit
}

// isStopped reports whether the queue stops.
func (m *memberState) isStopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

// members returns the nodes that hold the queue's replicas, as the
// definitions last said.
func (q *Queue) members() []string {
	if p := q.mem.list.Load(); p != nil {
		return *p
	}
	return q.decl.Members
}

// member reports whether this node is one of the queue's members.
func (q *Queue) member() bool { return slices.Contains(q.members(), q.t.cfg.Node) }

// SetMembers records the queue's new members, as its definition now has
// them, and has this node follow: start a replica, reconcile the group's
// Raft configuration if this replica leads, or leave the group. It never
// blocks. On a single node, where a queue is a group of one, it only
// records them.
func (q *Queue) SetMembers(members []string) {
	members = slices.Clone(members)
	q.mem.list.Store(&members)
	q.log.Info("quorum queue members changed", zap.String("queue", q.decl.Name),
		zap.String("vhost", q.decl.VHost), zap.Strings("members", members))
	q.syncMembersSoon()
}

// Voters returns the voters of the queue's Raft group as this node's
// replica knows them, sorted; nil on a node without a replica.
func (q *Queue) Voters() []string {
	r := q.raft()
	if r == nil {
		if st := q.resting.Load(); st != nil {
			return st.voters
		}
		return nil
	}
	f := r.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []string
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	slices.Sort(out)
	return out
}

// syncMembersSoon has the member worker take a pass, starting it unless
// it runs. A group of one (a single node, or a queue declared before its
// node joined a cluster) has nothing to follow.
func (q *Queue) syncMembersSoon() {
	if q.t.cfg.Net == nil || len(q.members()) == 0 {
		return
	}
	m := &q.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.stopped:
	case m.busy:
		m.again = true
	default:
		m.busy = true
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			q.memberWork()
		}()
	}
}

// memberWork is the member worker: it passes until nothing is left to
// do, waiting memberRetry between passes that could not finish.
func (q *Queue) memberWork() {
	m := &q.mem
	for {
		retry := q.syncMembers()
		m.mu.Lock()
		if m.stopped || (!m.again && !retry) {
			m.busy = false
			m.mu.Unlock()
			return
		}
		again := m.again
		m.again = false
		quit := m.quitLocked()
		m.mu.Unlock()
		if again {
			continue
		}
		t := time.NewTimer(memberRetry)
		select {
		case <-t.C:
		case <-quit:
			t.Stop()
		}
	}
}

// stopMembers stops the member worker's waits and any later change of
// the replica; Queue.stop calls it before it stops the replica.
func (q *Queue) stopMembers() {
	m := &q.mem
	m.replica.Lock()
	defer m.replica.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stopped {
		m.stopped = true
		close(m.quitLocked())
	}
}

// syncMembers takes one pass: it reports whether to look again later.
func (q *Queue) syncMembers() bool {
	// A resting replica wakes, the one that led standing at once: its
	// group may have to change.
	if st := q.resting.Load(); st != nil {
		q.wake(st.metrics.Leader)
	}
	r := q.raft()
	switch member := q.member(); {
	case r == nil && member:
		return q.join()
	case r == nil:
		return false
	case r.State() == raft.Leader:
		if !q.reconfigure(r) {
			return true
		}
		if !member {
			q.dropReplica(r) // reconfigure removed it last
		}
		return false
	case !member:
		if !q.leftOut(r, raft.ServerID(q.t.cfg.Node)) {
			return true
		}
		q.dropReplica(r)
	}
	return false
}

// join starts the replica of a node newly a member, without
// bootstrapping it: the leader adds it and sends it the group's state.
func (q *Queue) join() bool {
	q.mem.replica.Lock()
	defer q.mem.replica.Unlock()
	if q.mem.isStopped() || q.raft() != nil {
		return false
	}
	if err := q.t.startRaft(q, false); err != nil {
		q.log.Warn("quorum queue replica could not start on a new member", zap.String("queue", q.decl.Name),
			zap.String("vhost", q.decl.VHost), zap.Error(err))
		return true
	}
	q.log.Info("quorum queue replica started on a new member; the leader sends it the queue",
		zap.String("queue", q.decl.Name), zap.String("vhost", q.decl.VHost))
	return false
}

// leftOut reports whether the group no longer counts the follower r:
// its configuration leaves it out (or it stopped), or it has heard from
// no leader for leaveGrace while every other server of its
// configuration is up.
func (q *Queue) leftOut(r *raft.Raft, self raft.ServerID) bool {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return true // stopped: it serves the group no more
	}
	servers := f.Configuration().Servers
	if !slices.ContainsFunc(servers, func(s raft.Server) bool { return s.ID == self }) {
		return true
	}
	m := &q.mem
	if addr, _ := r.LeaderWithID(); addr != "" {
		// A leader that removed this replica sends it nothing more,
		// and Raft forgets that leader only after its steady timeout:
		// silence since the last contact counts too.
		if time.Since(r.LastContact()) < leaveGrace {
			m.alone = time.Time{}
			return false
		}
	} else if m.alone.IsZero() {
		m.alone = time.Now()
	}
	if !m.alone.IsZero() && time.Since(m.alone) < leaveGrace {
		return false
	}
	down := q.t.downNodes()
	for _, s := range servers {
		if slices.Contains(down, string(s.ID)) {
			return false
		}
	}
	return true
}

// dropReplica stops r, this node's replica, forgets its state and
// deletes its log and snapshots; the node goes on as a non-member.
func (q *Queue) dropReplica(r *raft.Raft) {
	q.mem.replica.Lock()
	defer q.mem.replica.Unlock()
	if q.mem.isStopped() || q.raft() != r {
		return
	}
	q.r.Store(nil)
	abortRPCs(q.trans)
	if err := r.Shutdown().Error(); err != nil {
		q.log.Warn("quorum queue raft shutdown", zap.String("queue", q.decl.Name), zap.Error(err))
	}
	if c, ok := q.trans.(raft.WithClose); ok {
		c.Close()
	}
	a := q.args.Load()
	q.fsm.reset(fifo.NewState(fifo.ConfigFromArgs(*a, a.DeadLetterStrategy, 0)))
	if err := q.t.dropGroup(q.group); err != nil {
		q.log.Warn("deleting a former member's quorum queue data failed", zap.String("queue", q.decl.Name), zap.Error(err))
	}
	q.mem.alone = time.Time{}
	q.log.Info("quorum queue replica removed from this node, no longer a member",
		zap.String("queue", q.decl.Name), zap.String("vhost", q.decl.VHost))
}

// reconfigure, on the leader, makes the group's Raft configuration match
// the members, removing this node last when it is no longer one (Raft
// then steps it down). It reports whether the configuration matches.
func (q *Queue) reconfigure(r *raft.Raft) bool {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	have := map[string]raft.ServerAddress{}
	for _, s := range f.Configuration().Servers {
		have[string(s.ID)] = s.Address
	}
	members, self, down := q.members(), q.t.cfg.Node, q.t.downNodes()
	var first, last []string // servers to remove before and after the additions
	for id := range have {
		switch {
		case id == self || slices.Contains(members, id):
		case slices.Contains(down, id):
			first = append(first, id)
		default:
			last = append(last, id)
		}
	}
	slices.Sort(first)
	slices.Sort(last)
	for _, id := range first {
		if !q.change(r.RemoveServer(raft.ServerID(id), 0, memberChangeTimeout), "removed", id) {
			return false
		}
	}
	added := true
	for _, m := range members {
		addr := raft.ServerAddress(q.t.cfg.Net.NodeAddr(m))
		cur, ok := have[m]
		if addr == "" || (ok && cur == addr) {
			added = added && ok
			continue
		}
		if !q.change(r.AddVoter(raft.ServerID(m), addr, 0, memberChangeTimeout), "added", m) {
			return false
		}
	}
	for _, id := range last {
		if !q.change(r.RemoveServer(raft.ServerID(id), 0, memberChangeTimeout), "removed", id) {
			return false
		}
	}
	if !added {
		return false // a member's address is not known yet
	}
	if _, in := have[self]; in && !slices.Contains(members, self) {
		return q.change(r.RemoveServer(raft.ServerID(self), 0, memberChangeTimeout), "removed", self)
	}
	return true
}

// change waits for one configuration change and reports whether it was
// made. One that failed because this replica no longer leads is left to
// the next leader.
func (q *Queue) change(f raft.IndexFuture, what, node string) bool {
	err := f.Error()
	switch {
	case err == nil:
		q.log.Info("quorum queue group member "+what, zap.String("queue", q.decl.Name),
			zap.String("vhost", q.decl.VHost), zap.String("node", node))
		return true
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrRaftShutdown):
		q.log.Debug("quorum queue group change left to the next leader", zap.String("queue", q.decl.Name),
			zap.String("node", node), zap.Error(err))
		return false
	}
	q.log.Warn("quorum queue group change failed; retrying", zap.String("queue", q.decl.Name),
		zap.String("vhost", q.decl.VHost), zap.String("node", node), zap.Error(err))
	return false
}

// reset replaces the replica's state with st and forgets its bodies: the
// replica stopped, and a later one starts from nothing.
func (f *fsm) reset(st *fifo.State) {
	f.closeBodies()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.sinceSnap, f.broken = st, 0, nil
}

// keptReplica reports whether the node kept a replica's data for group
// (its snapshot folder, made when a replica starts, deleted with its
// data).
func (t *Type) keptReplica(group string) bool {
	if t.cfg.Dir == "" {
		return false
	}
	_, err := os.Stat(t.snapDir(group))
	return err == nil
}

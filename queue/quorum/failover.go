package quorum

import (
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// A replica in a cluster notices its leader's loss sooner than Raft's own
// timers would. hashicorp/raft's follower checks for a silent leader on a
// timer of a random 1× to 2× HeartbeatTimeout, re-armed at every check,
// so a leader killed just after a check is noticed up to three timeouts
// later; and a survivor's vote goes to no one while it still knows a
// leader. But the link to a killed node's process closes at once: each
// replica keeps a link to its leader's node (followLeader), and when one
// that was up closes (Type.peerLost), every replica following a leader
// there has Raft check its leader a heartbeat timeout later, when the
// check can succeed, since the last contact came before. The survivors
// check one after the other, standStagger apart in the order of their
// names, so that the first stands while the second still has a leader
// (its pre-vote is refused) and the second, a moment later, finds the
// first without one and wins its vote at once; two standing together
// could split the vote and wait an election timeout more. (When the
// second's log is the shorter, the first refuses it and wins when its
// own election timeout runs out, 1× to 2× heartbeat later.) The check is
// Raft's own: a leader still heard from (the link closed but Raft's
// traffic flows) keeps its followers.

const (
	// heartbeat is a cluster group's Raft heartbeat and election timeout.
	heartbeat = 300 * time.Millisecond
	// kickStep is how far kick lowers HeartbeatTimeout below heartbeat
	// (see kick); the leader lease stays at or below the lower value.
	kickStep = time.Millisecond
	// standStagger separates the survivors' checks.
	standStagger = 30 * time.Millisecond
	// standMargin is added to the heartbeat timeout the check waits.
	standMargin = 2 * time.Millisecond
	// standPatience bounds how long after its link closed a leader may
	// still be heard from for the check to wait for it to fall silent.
	standPatience = 3 * heartbeat
)

// followLeader makes sure this node has a link to the node of its
// replica's leader, so that the link's closing says the leader's process
// is gone (Type.peerLost).
func (q *Queue) followLeader() {
	r := q.raft()
	if r == nil || q.t.links == nil {
		return
	}
	if addr, id := r.LeaderWithID(); addr != "" && string(id) != q.t.cfg.Node {
		q.t.links.get(string(addr))
	}
}

// peerLost is called when an established link to the node at addr
// closed: the replicas that follow a leader there check it soon.
func (t *Type) peerLost(addr string) {
	t.mu.Lock()
	qs := make([]*Queue, 0, len(t.queues))
	for _, q := range t.queues {
		qs = append(qs, q)
	}
	t.mu.Unlock()
	for _, q := range qs {
		r := q.raft()
		if r == nil || r.State() != raft.Follower {
			continue
		}
		if leader, id := r.LeaderWithID(); string(leader) == addr {
			q.standSoon(id)
		}
	}
}

// standSoon arms the check of leader dead a heartbeat timeout from now,
// plus the replica's turn among the survivors. The last contact was
// before the link closed, so the check can succeed then; and the
// survivors count from the same instant (the link's closing, which each
// sees within a millisecond or two), not from their last contacts, which
// may be tens of milliseconds apart under load.
func (q *Queue) standSoon(dead raft.ServerID) {
	lost := time.Now()
	wait := heartbeat + standMargin +
		time.Duration(standRank(q.decl.Members, string(dead), q.t.cfg.Node))*standStagger
	q.armStand(wait, func() { q.stand(dead, lost) })
}

// armStand runs f after wait, in place of any check armed before, unless
// the queue is done.
func (q *Queue) armStand(wait time.Duration, f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return
	}
	if q.standTimer != nil {
		q.standTimer.Stop()
	}
	q.standTimer = time.AfterFunc(wait, f)
}

// standRank is self's place among members other than dead, in name
// order; 0 if it is not one.
func standRank(members []string, dead, self string) int {
	others := make([]string, 0, len(members))
	for _, m := range members {
		if m != dead {
			others = append(others, m)
		}
	}
	slices.Sort(others)
	return max(slices.Index(others, self), 0)
}

// stand has Raft check its leader now, if the replica still follows dead
// (whose link closed at lost). A replica that was busy (catching up
// after a restart) may have taken its leader's last messages from its
// queue after the link closed, so its last contact is later: the check
// then waits a heartbeat timeout after that, for as long as contacts
// stop within a few heartbeat timeouts of the link's closing; a leader
// still heard from after that is alive.
func (q *Queue) stand(dead raft.ServerID, lost time.Time) {
	q.mu.Lock()
	if q.done {
		q.mu.Unlock()
		return
	}
	q.wg.Add(1)
	q.mu.Unlock()
	defer q.wg.Done()
	r := q.raft()
	if r == nil || r.State() != raft.Follower {
		return
	}
	if _, id := r.LeaderWithID(); id != dead {
		return
	}
	last := r.LastContact()
	if due := last.Add(heartbeat + standMargin); time.Until(due) > 0 {
		if last.Sub(lost) < standPatience {
			q.armStand(time.Until(due), func() { q.stand(dead, lost) })
		}
		return
	}
	kick(r)
}

// kick makes a follower check for its leader's heartbeat now rather than
// when its timer fires: hashicorp/raft re-arms a follower's timer at once
// when the configuration's HeartbeatTimeout is lowered, so kick sets it
// to heartbeat and then kickStep below. The check itself is unchanged:
// it stands only if the leader was silent for a heartbeat timeout.
func kick(r *raft.Raft) {
	rc := r.ReloadableConfig()
	rc.HeartbeatTimeout = heartbeat
	if err := r.ReloadConfig(rc); err != nil {
		return
	}
	rc.HeartbeatTimeout = heartbeat - kickStep
	r.ReloadConfig(rc)
}

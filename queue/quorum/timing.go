package quorum

import (
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// raftTiming is the Raft timing of the groups of a cluster and of the
// node-level beats that stand in for their heartbeats (raftnet_beat.go).
// Every timing of a cluster's quorum queues is here.
//
// Each timer of a group wakes a goroutine, and on an otherwise idle node
// each wake costs some 20 µs of scheduler work (measured: 300 idle
// groups with a 1 s heartbeat timeout and a 300 ms lease took 5 % of a
// core), so idle groups stay cheap only if their timers are slow: a
// leader's heartbeats and its lease of seconds, not of milliseconds.
// Failover does not wait for them: a follower whose leader's node falls
// silent stands at once (failover.go).
type raftTiming struct {
	// steady is raft's HeartbeatTimeout and ElectionTimeout while a
	// group has a leader whose node beats: its leader heartbeats each
	// follower every steady/10 to steady/5, answered on this node from
	// the follower's last answer while the follower's node acknowledges
	// beats, and a follower stands only after steady without contact.
	steady time.Duration
	// hurry replaces steady while a group has no leader, or its
	// leader's node fell silent: it paces the elections after the first,
	// which did not wait for it; its next leader brings steady back.
	// Raft requires lease <= hurry.
	hurry time.Duration
	// lease is raft's LeaderLeaseTimeout: a leader that heard from no
	// majority for this long steps down. The leader's heartbeats come
	// every steady/5 at most, so steady/5 must stay well below it.
	lease time.Duration
	// commit is raft's CommitTimeout: how often an idle leader repeats
	// its commit index; a repeat a follower acknowledged already is
	// answered on this node like a heartbeat (raftnet_beat.go).
	commit time.Duration
	// beat is how often a node beats on each stream to a peer.
	beat time.Duration
	// silence is how long without a beat (or its acknowledgement) a
	// peer node counts as silent: the groups it leads hurry, and its
	// followers' answers are no longer taken from the last ones. It
	// must outlast the stalls of a busy node (a garbage collection of a
	// node running thousands of groups took 1.4 s): every group a node
	// leads stands for election when it falls silent, and thousands of
	// elections at once stall the nodes again, a storm that did not
	// settle for minutes. A killed node's streams close, which does not
	// wait for it.
	silence time.Duration
	// inject is the least time between two heartbeats handed to a
	// follower from beats: it keeps the follower's contact well within
	// steady.
	inject time.Duration
	// unlisted is how long a beating node may leave a group it led out
	// of its beats (its leader heartbeats every steady/5 at most) before
	// the group's followers stand: its leader stepped down or stopped.
	unlisted time.Duration
	// linger is the least time between two writes on a stream of frames
	// none of which is pressing (raftConn.writeLoop).
	linger time.Duration
}

// clusterTiming is the timing of the quorum queues of a cluster.
var clusterTiming = raftTiming{
	steady:   10 * time.Second,
	hurry:    3 * time.Second,
	lease:    3 * time.Second,
	commit:   3 * time.Second,
	beat:     100 * time.Millisecond,
	silence:  2 * time.Second,
	inject:   2 * time.Second,
	unlisted: 4 * time.Second,
	linger:   time.Millisecond,
}

// configure sets c's timeouts for a new replica, which hurries until
// it hears from a leader or leads.
func (tm raftTiming) configure(c *raft.Config) {
	c.HeartbeatTimeout = tm.hurry
	c.ElectionTimeout = tm.hurry
	c.LeaderLeaseTimeout = tm.lease
	c.CommitTimeout = tm.commit
}

// retimer returns the function that switches r between its hurried and
// its steady timeouts (groupTrans.setRetime).
func (tm raftTiming) retimer(r *raft.Raft, log *zap.Logger) func(hurry bool) {
	return func(hurry bool) {
		rc := r.ReloadableConfig()
		rc.HeartbeatTimeout, rc.ElectionTimeout = tm.steady, tm.steady
		if hurry {
			rc.HeartbeatTimeout, rc.ElectionTimeout = tm.hurry, tm.hurry
		}
		if err := r.ReloadConfig(rc); err != nil {
			log.Error("quorum queue: cannot change the raft timeouts", zap.Error(err))
		}
	}
}

// firstVoter returns the function that reports whether self is the
// voter of r's group, other than the one at the address given and those
// excepted, whose ID sorts first: the one replica of a group that
// stands at once when its leader's node falls silent, so that two do
// not split the vote or depose each other. A replica chosen so whose log
// is behind is refused by the others, of which the first voter but for
// it stands in its stead (groupTrans.standInstead).
func firstVoter(r *raft.Raft, self raft.ServerID) func(silent string, except ...raft.ServerID) bool {
	return func(silent string, except ...raft.ServerID) bool {
		f := r.GetConfiguration()
		if f.Error() != nil {
			return false
		}
		var first raft.ServerID
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter && string(s.Address) != silent && !slices.Contains(except, s.ID) &&
				(first == "" || s.ID < first) {
				first = s.ID
			}
		}
		return first == self
	}
}

// logAhead returns the function that reports whether r's log is further
// on than a candidate's whose last entry is at index and term, as Raft
// judges when it refuses a vote for the candidate's log.
func logAhead(r *raft.Raft) func(index, term uint64) bool {
	return func(index, term uint64) bool {
		st := r.Stats()
		last, err1 := strconv.ParseUint(st["last_log_index"], 10, 64)
		lastTerm, err2 := strconv.ParseUint(st["last_log_term"], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return lastTerm > term || (lastTerm == term && last > index)
	}
}

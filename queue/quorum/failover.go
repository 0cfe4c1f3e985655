package quorum

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// The survivors of a leader's node replace its leader without waiting
// for Raft's timers, which idle groups run long (timing.go) so that they
// cost little; node-level beats (raftnet_beat.go) keep their followers
// content meanwhile.
//
// A leader's node is lost when any of these says so, whichever comes
// first: the link to it closes (each replica keeps a link to its
// leader's node, followLeader, and Type.peerLost hears of its closing),
// the Raft stream it opened to this node breaks (both close at once when
// its process is killed), or its beats stop for timing.silence (a hung
// process, a partition). The one response (raftRun.silent) is nothing if
// a stream from that node still beats (the leader is heard from);
// otherwise every replica here that follows a leader there hurries
// (timing.hurry: a failed election is retried soon) and stands for
// election at once as when a leader hands its leadership over (a
// TimeoutNow handed to the replica: it asks for votes without a
// pre-vote, and the others grant them though they still know the old
// leader), in the order of the group's voters: only the first voter
// other than the lost node's stands at once, so that two survivors do
// not split the vote or depose each other; the others stand standGrace
// later if they still follow that leader and no candidate asked for
// their vote meanwhile (the first is lost as well). A survivor asked for
// its vote by that candidate whose own log is further on refuses it and
// stands in its stead, in the same order: the first voter but for the
// lost node's and the candidate's at once, the others standGrace later
// if no candidate asked for their vote meanwhile; and every replica that
// refuses such a candidate hurries, so that a stand that fails (it may
// depose a leader just elected) is followed by an election within
// timing.hurry (groupTrans.refusedStand). A node that beats
// but leaves a group it led out of its beats for timing.unlisted (its
// leader stepped down or stopped) has that group's followers stand the
// same way.
//
// A replica that starts with a log of its own (its node restarted) and
// is its group's first voter asks the others for pre-votes, Raft's own
// check that none knows a leader and none has a longer log, every
// probeEvery while it has no leader, up to probeTries times, and stands
// at once when a majority would vote for it: after a whole cluster
// restarts, a group elects as soon as a majority of its members runs,
// and a node that restarts into a group that has a leader disturbs
// nothing. A new group's first member (the declaring node) stands at
// once. Otherwise a group without a leader elects on Raft's hurried
// timer.

const (
	// standGrace is how long the other followers of a group give the
	// first voter to stand before they stand too.
	standGrace = 500 * time.Millisecond
	// standRetry is how often a replica whose Raft is busy is offered
	// its stand again, for up to standGrace.
	standRetry = 5 * time.Millisecond
	// probeEvery and probeTries pace a restarted replica's pre-votes.
	probeEvery = 200 * time.Millisecond
	probeTries = 15
	// probeWait bounds one round of pre-vote requests.
	probeWait = time.Second
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
// closed: the replicas that follow a leader there stand, unless it
// still beats, so do resting groups' first voters (rest.go), and the
// node is unreachable (unreachable.go).
func (t *Type) peerLost(addr string) {
	t.raftNet.nodeLost(addr)
	t.wakeLedFrom(addr)
	t.nodeUnreachable(addr)
}

// nodeLost has the replicas that follow a leader at addr stand, unless
// a stream from addr still beats.
func (rn *raftNet) nodeLost(addr string) {
	rn.mu.Lock()
	run := rn.run
	rn.mu.Unlock()
	if run != nil {
		run.silent(addr)
	}
}

// silent has the replicas here that follow a leader at addr, a peer
// that fell silent, stand, unless a stream from it still beats.
func (run *raftRun) silent(addr string) {
	if run.ctx.Err() != nil || run.beatingFrom(addr) {
		return
	}
	var gs []*groupTrans
	for _, g := range run.rn.openGroups() {
		if g.following(addr) {
			gs = append(gs, g)
		}
	}
	run.stand(addr, gs)
}

// stand has the replicas of groups that still follow a leader at addr
// hurry and the first voter of each group stand at once; the others
// stand standGrace later if they still follow that leader and no
// candidate asked for their vote. A tracked goroutine paces them.
func (run *raftRun) stand(addr string, groups []*groupTrans) {
	if len(groups) == 0 {
		return
	}
	now := time.Now()
	run.goTracked(func() {
		var first, later []*groupTrans
		for _, g := range groups {
			g.hurryIfFollowing(addr)
			if g.isChosen(addr) {
				first = append(first, g)
			} else {
				later = append(later, g)
			}
		}
		if !run.offerStands(addr, first, now.Add(standGrace)) {
			return
		}
		t := time.NewTimer(time.Until(now.Add(standGrace)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-run.ctx.Done():
			return
		}
		late := later[:0]
		for _, g := range later {
			if !g.askedSince(now) {
				late = append(late, g)
			}
		}
		run.offerStands(addr, late, now.Add(2*standGrace))
	})
}

// offerStands offers each replica of gs its stand until its Raft takes
// it, it no longer follows the leader at addr, or until passes; it
// reports false if the run stopped.
func (run *raftRun) offerStands(addr string, gs []*groupTrans, until time.Time) bool {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for len(gs) > 0 && time.Now().Before(until) {
		left := gs[:0]
		for _, g := range gs {
			if !g.offerStand(addr) {
				left = append(left, g)
			}
		}
		gs = left
		if len(gs) == 0 {
			break
		}
		t.Reset(standRetry)
		select {
		case <-t.C:
		case <-run.ctx.Done():
			return false
		}
	}
	return true
}

// probe is a restarted replica's pre-votes: every probeEvery, up to
// probeTries times, while it follows no leader, it asks the group's
// other voters whether they would vote for it, and stands at once when
// a majority would. It runs on a goroutine of the run, and ends when the
// group closes.
func (g *groupTrans) probe(r *raft.Raft) {
	t := time.NewTimer(probeEvery)
	defer t.Stop()
	for range probeTries {
		select {
		case <-t.C:
		case <-g.done:
			return
		case <-g.run.ctx.Done():
			return
		}
		if r.State() != raft.Follower {
			return
		}
		if leader, _ := r.LeaderWithID(); leader != "" {
			return
		}
		if preVoteMajority(r, g) && g.standNow() {
			return
		}
		t.Reset(probeEvery)
	}
}

// preVoteMajority asks r's other voters for a pre-vote, as Raft's own
// candidate would, and reports whether a majority (r included) grants
// it.
func preVoteMajority(r *raft.Raft, g *groupTrans) bool {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	st := r.Stats()
	term, err1 := strconv.ParseUint(st["term"], 10, 64)
	last, err2 := strconv.ParseUint(st["last_log_index"], 10, 64)
	lastTerm, err3 := strconv.ParseUint(st["last_log_term"], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	id, addr := string(g.localID()), g.LocalAddr()
	req := raft.RequestPreVoteRequest{
		RPCHeader:    raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: []byte(addr)},
		Term:         term + 1,
		LastLogIndex: last,
		LastLogTerm:  lastTerm,
	}
	var peers []raft.Server
	voters := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			if s.ID != raft.ServerID(id) {
				peers = append(peers, s)
			}
		}
	}
	if voters == len(peers) {
		return false // not a voter itself
	}
	// Asked all at once: a peer whose group is not open yet holds its
	// answer back for a while. The requests are the run's goroutines,
	// joined when it stops; an answer that comes too late is dropped.
	answers := make(chan bool, len(peers))
	deadline := time.Now().Add(probeWait)
	for _, s := range peers {
		asked := g.run.goTracked(func() {
			var resp raft.RequestPreVoteResponse
			_, err := g.roundTripBy(s.Address, kindRequestPreVote, &req, &resp, deadline)
			answers <- err == nil && resp.Granted
		})
		if !asked {
			answers <- false
		}
	}
	t := time.NewTimer(probeWait)
	defer t.Stop()
	granted := 1
	for range peers {
		select {
		case ok := <-answers:
			if ok {
				granted++
			}
		case <-t.C:
			return false
		}
		if granted > voters/2 {
			return true
		}
	}
	return false
}

// startStanding readies a cluster replica's part in failover once its
// Raft runs: a new group's first member stands at once, and a restarted
// replica that is its group's first voter probes for an election.
func (t *Type) startStanding(q *Queue, g *groupTrans, id raft.ServerID, first, restarted bool) {
	r := q.raft()
	if r == nil {
		return
	}
	chosen := firstVoter(r, id)
	g.setAhead(logAhead(r))
	g.setRetime(id, clusterTiming.retimer(r, t.log), chosen)
	switch {
	case first:
		g.standNow()
	case restarted && chosen(""):
		g.run.goTracked(func() { g.probe(r) })
	}
}

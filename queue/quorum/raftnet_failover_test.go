package quorum

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRaftNetFailoverTime measures how long a group of three on the
// shared transport goes without a leader when its leader's node is lost
// (its Raft stopped and its cluster port closed), for each steady
// heartbeat timeout (raft's HeartbeatTimeout and ElectionTimeout; see
// timing.raft for the lease) listed in WARREN_QQ_FAILOVER,
// WARREN_QQ_FAILOVER_ROUNDS times each (default 5). The followers stand
// as soon as the leader's streams break, so the steady timeout should
// not matter. It runs only when asked:
//
//	WARREN_QQ_FAILOVER=300ms,1s,2s,5s go test -run TestRaftNetFailoverTime -v ./queue/quorum/
func TestRaftNetFailoverTime(t *testing.T) {
	list := os.Getenv("WARREN_QQ_FAILOVER")
	if list == "" {
		t.Skip("set WARREN_QQ_FAILOVER to heartbeat timeouts, e.g. 300ms,1s")
	}
	rounds, _ := strconv.Atoi(os.Getenv("WARREN_QQ_FAILOVER_ROUNDS"))
	if rounds <= 0 {
		rounds = 5
	}
	for _, s := range strings.Split(list, ",") {
		hb, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		var took []time.Duration
		for range rounds {
			took = append(took, failoverOnce(t, timing{heartbeat: hb, commit: quick.commit}))
		}
		slices.Sort(took)
		t.Logf("heartbeat timeout %v: no leader for min %v, median %v, max %v over %d rounds",
			hb, took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond),
			took[len(took)-1].Round(time.Millisecond), rounds)
	}
}

// failoverOnce starts a group of three, loses its leader's node and
// returns how long until another replica leads.
func failoverOnce(t *testing.T, tm timing) time.Duration {
	nodes := newRaftNodes(t, 3)
	reps := make([]*replica, 3)
	for i := range reps {
		reps[i] = startReplica(t, nodes, i, "5:/q", tm, true, nil, nil)
	}
	apply(t, reps, "before")
	old := leaderOf(t, reps)
	lost := time.Now()
	reps[old].r.Shutdown().Error()
	nodes[old].tr.Close()
	reps[old].trans.Close()
	reps[old] = nil
	// A follower misses the leader after one to two heartbeat timeouts;
	// a split vote costs another election timeout or two.
	leaderWithin(t, reps, 6*tm.heartbeat+2*time.Second)
	took := time.Since(lost)
	for _, r := range reps {
		if r != nil {
			r.stop()
		}
	}
	for _, n := range nodes {
		n.tr.Close()
	}
	return took
}

package quorum

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// breakStreamsFrom breaks node's streams accepted from the node at addr,
// as they break when that node's process is killed.
func breakStreamsFrom(node *raftNode, addr raft.ServerAddress) {
	for _, c := range conns(node) {
		c.beatMu.Lock()
		from := c.beatIn.addr
		c.beatMu.Unlock()
		if c.peer == nil && from == string(addr) {
			c.fail(errStreamBroken)
		}
	}
}

// TestLeaderNodeLostElectsSoon: when a leader's node is lost (its
// streams break and it falls silent), its followers stand at once, the
// first voter first, and a new leader is elected well within one
// election: no hurried or steady timeout is waited for. Three rounds, on
// fresh nodes each, so that a lucky draw cannot pass it alone.
func TestLeaderNodeLostElectsSoon(t *testing.T) {
	const bound = 300 * time.Millisecond
	for round := range 3 {
		base := runtime.NumGoroutine()
		nodes, gates := newGatedNodes(t, 3)
		gs := startGroups(t, nodes, 3, quick)
		gs.settle(t, nodes)
		who, _ := gs.leaders()
		old := who[0]
		gates[old].cut.Store(true)
		cut := time.Now()
		for i, n := range nodes {
			if i != old {
				breakStreamsFrom(n, nodes[old].addr())
			}
		}
		// The lost leader still leads until its lease runs out: the
		// new leader is another replica leading.
		raftEventually(t, 5*time.Second, "a new leader of every group led on the lost node", func() bool {
			for k, reps := range gs {
				if who[k] == old && !slices.ContainsFunc(reps, func(r *replica) bool {
					return r != reps[old] && r.r.State() == raft.Leader
				}) {
					return false
				}
			}
			return true
		})
		if took := time.Since(cut); took > bound {
			t.Errorf("round %d: new leaders %v after node %d was lost, want within %v", round, took, old, bound)
		}
		t.Logf("round %d: new leaders %v after node %d was lost", round, time.Since(cut).Round(time.Millisecond), old)
		for _, n := range nodes {
			n.tr.Close()
		}
		gs.stop()
		waitGoroutines(t, nodes, base)
	}
}

// TestNodeLostKeepsABeatingLeader: a closed link to a leader's node
// that still beats on its Raft stream changes nothing: no election.
func TestNodeLostKeepsABeatingLeader(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 3)
	gs := startGroups(t, nodes, 2, quick)
	gs.settle(t, nodes)
	who, terms := gs.leaders()
	for i, n := range nodes {
		if i != who[0] {
			n.rn.nodeLost(string(nodes[who[0]].addr()))
		}
	}
	deadline := time.Now().Add(standGrace + testTiming.hurry)
	for time.Now().Before(deadline) {
		now, nowTerms := gs.leaders()
		for k := range gs {
			if now[k] != who[k] || nowTerms[k] != terms[k] {
				t.Fatalf("group %d: leader %d at term %d became %d at term %d though its node beats",
					k, who[k], terms[k], now[k], nowTerms[k])
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	gs.stop()
	waitGoroutines(t, nodes, base)
}

// TestRestartedGroupElectsByProbe: when every replica of a group
// restarts, with its log, and its timers are long, the first voter's
// pre-vote probe elects a leader as soon as the others run, long before
// any timer would; and a replica that restarts into a group that has a
// leader finds the pre-votes refused and deposes no one.
func TestRestartedGroupElectsByProbe(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 3)
	slow := testTiming
	// A leader heartbeats every steady/10 to steady/5: the lease must outlast that.
	slow.hurry, slow.lease, slow.steady = 5*time.Second, 1500*time.Millisecond, 5*time.Second
	type disk struct {
		store *raft.InmemStore
		snaps *raft.InmemSnapshotStore
	}
	disks := make([]disk, 3)
	for i := range disks {
		disks[i] = disk{raft.NewInmemStore(), raft.NewInmemSnapshotStore()}
	}
	start := func(i int, boot, probe bool) *replica {
		c := raft.DefaultConfig()
		c.LocalID = raft.ServerID(fmt.Sprintf("n%d", i))
		c.Logger = hclog.NewNullLogger()
		if os.Getenv("WARREN_RAFT_LOG") != "" {
			c.Logger = hclog.New(&hclog.LoggerOptions{Name: string(c.LocalID), Level: hclog.Debug})
		}
		slow.configure(c)
		trans := nodes[i].open(t, "g")
		d := disks[i]
		if boot {
			var servers []raft.Server
			for k, n := range nodes {
				servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", k)), Address: n.addr()})
			}
			if err := raft.BootstrapCluster(c, d.store, d.store, d.snaps, trans, raft.Configuration{Servers: servers}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := raft.NewRaft(c, &testFSM{}, d.store, d.store, d.snaps, trans)
		if err != nil {
			t.Fatal(err)
		}
		chosen := firstVoter(r, c.LocalID)
		trans.setRetime(c.LocalID, slow.retimer(r, zap.NewNop()), chosen)
		if probe && chosen("") {
			trans.run.goTracked(func() { trans.probe(r) })
		}
		return &replica{r: r, fsm: &testFSM{}, trans: trans}
	}
	reps := make([]*replica, 3)
	for i := range reps {
		reps[i] = start(i, true, false)
	}
	leaderWithin(t, reps, 15*time.Second)
	apply(t, reps, "before the restart")
	// All three at one term with the same log, as a cluster that stops
	// in good order: a replica that voted in a term the first voter did
	// not see refuses its vote in that term (pre-votes do not show it),
	// and the group waits for a timer.
	raftEventually(t, 5*time.Second, "one term and log everywhere", func() bool {
		st := reps[0].r.Stats()
		for _, r := range reps[1:] {
			o := r.r.Stats()
			if o["term"] != st["term"] || o["last_log_index"] != st["last_log_index"] {
				return false
			}
		}
		return true
	})

	// The followers stop first: the leader's replica stopping first
	// would have them stand, and vote, in a new term at once.
	l0 := leaderWithin(t, reps, time.Second)
	for i, r := range reps {
		if i != l0 {
			r.stop()
		}
	}
	reps[l0].stop()
	at := time.Now()
	reps[0] = start(0, false, true)
	// n0 probes alone: no majority runs, no leader.
	time.Sleep(3 * probeEvery)
	if reps[0].r.State() == raft.Leader {
		t.Fatal("n0 leads alone")
	}
	reps[2] = start(2, false, true)
	// Raft's own timers would take 5 s at least.
	l := leaderWithin(t, reps, 2500*time.Millisecond)
	t.Logf("n%d led %v after the restart began", l, time.Since(at).Round(time.Millisecond))
	apply(t, reps, "after the restart")

	// n1 restarts into a group that has a leader: a probe of its
	// would be refused, so it stands for no election.
	term := reps[l].r.CurrentTerm()
	reps[1] = start(1, false, false)
	raftEventually(t, 5*time.Second, "n1 follows the leader", func() bool {
		leader, _ := reps[1].r.LeaderWithID()
		return leader == nodes[l].addr()
	})
	if preVoteMajority(reps[1].r, reps[1].trans) {
		t.Error("a follower's pre-votes granted while the group has a leader")
	}
	if reps[l].r.State() != raft.Leader || reps[l].r.CurrentTerm() != term {
		t.Fatalf("n%d deposed: state %v, term %d, was %d", l, reps[l].r.State(), reps[l].r.CurrentTerm(), term)
	}
	for _, r := range reps {
		r.stop()
	}
	waitGoroutines(t, nodes, base)
}

// TestRefusersOfAStandStandOneAtATime: a replica that refuses its vote
// to a candidate standing for a silent leader stands in its stead only
// when its own log is further on, and of those that refuse it only the
// first voter but for the silent leader's and the candidate's stands at
// once; another stands standGrace later, and not at all if a candidate
// asked for its vote meanwhile (two refusers that stood together
// deposed each other, and the group waited for the loser's steady
// timeout).
func TestRefusersOfAStandStandOneAtATime(t *testing.T) {
	const silent, candidate = "127.0.0.1:1", "127.0.0.1:2"
	voters := []raft.ServerID{"n1", "n2", "n3", "n4"} // n1 at silent, n2 the candidate
	cases := []struct {
		name    string
		self    raft.ServerID
		granted bool
		ahead   bool
		asked   bool          // another candidate asks for its vote meanwhile
		stands  time.Duration // -1: never
	}{
		{name: "first voter left, log ahead", self: "n3", ahead: true, stands: 0},
		{name: "second voter left, log ahead", self: "n4", ahead: true, stands: standGrace},
		{name: "second voter left, asked meanwhile", self: "n4", ahead: true, asked: true, stands: -1},
		{name: "refused for another reason than its log", self: "n3", stands: -1},
		{name: "granted", self: "n3", granted: true, ahead: true, stands: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run := &raftRun{rn: &raftNet{}, peers: map[string]*raftPeer{}, conns: map[*raftConn]bool{}}
			run.ctx, run.cancel = context.WithCancel(context.Background())
			g := newGroupTrans(run, "g")
			g.followAddr, g.followTerm = silent, 3
			g.setRetime(tc.self, nil, func(s string, except ...raft.ServerID) bool {
				for _, v := range voters {
					if v != "n1" && !slices.Contains(except, v) {
						return v == tc.self
					}
				}
				return false
			})
			g.setAhead(func(uint64, uint64) bool { return tc.ahead })
			req := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ID: []byte("n2"), Addr: []byte(candidate)},
				Term: 4, LastLogIndex: 10, LastLogTerm: 2, LeadershipTransfer: true}
			start := time.Now()
			go g.refusedStand(req, &raft.RequestVoteResponse{Term: 4, Granted: tc.granted})
			if tc.asked {
				time.AfterFunc(standGrace/2, func() { g.askedFor(&raft.RequestVoteRequest{}) })
			}
			wait := time.NewTimer(2 * standGrace)
			defer wait.Stop()
			select {
			case rpc := <-g.consumer:
				took := time.Since(start)
				if _, ok := rpc.Command.(*raft.TimeoutNowRequest); !ok {
					t.Fatalf("the replica got %T, want a stand (TimeoutNow)", rpc.Command)
				}
				switch {
				case tc.stands < 0:
					t.Fatalf("the replica stood after %v, want no stand", took)
				case took < tc.stands || took > tc.stands+standGrace/2:
					t.Fatalf("the replica stood after %v, want after %v", took, tc.stands)
				}
			case <-wait.C:
				if tc.stands >= 0 {
					t.Fatalf("the replica did not stand within %v", 2*standGrace)
				}
			}
			g.Close()
			run.cancel()
			run.wg.Wait()
		})
	}
}

package quorum

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// startOn starts node i's replica of group "g" on store, bootstrapped
// with every node when boot is set.
func startOn(t *testing.T, nodes []*raftNode, i int, store *raft.InmemStore, boot bool) *replica {
	t.Helper()
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(fmt.Sprintf("n%d", i))
	c.Logger = hclog.NewNullLogger()
	testTiming.configure(c)
	trans := nodes[i].open(t, "g")
	snaps := raft.NewInmemSnapshotStore()
	if boot {
		var servers []raft.Server
		for k, n := range nodes {
			servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", k)), Address: n.addr()})
		}
		if err := raft.BootstrapCluster(c, store, store, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
	}
	fsm := &testFSM{}
	r, err := raft.NewRaft(c, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	trans.setRetime(c.LocalID, testTiming.retimer(r, zap.NewNop()), firstVoter(r, c.LocalID))
	return &replica{r: r, fsm: fsm, trans: trans}
}

// keptFor reports whether the leader's node keeps an answer of group
// "g" for the node at addr, that is whether heartbeats to it are being
// answered on the leader's node.
func keptFor(n *raftNode, addr raft.ServerAddress) bool {
	n.rn.mu.Lock()
	run := n.rn.run
	n.rn.mu.Unlock()
	if run == nil {
		return false
	}
	c := run.peer(string(addr)).live()
	if c == nil {
		return false
	}
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	e := c.beatOut.groups["g"]
	return e != nil && e.hasHB && !c.beatOut.alive.IsZero()
}

// TestKeptAnswersNeverCommitFalsely tries to make a leader commit on a
// false majority through the answers its node keeps for a follower
// (raftnet_beat.go). The third member is cut off, so the leader and one
// follower are the only majority; once heartbeats to that follower are
// answered on the leader's node, the follower is replaced in ways the
// kept answers do not show: its replica restarts with an empty log, or
// with a higher term, or its node is cut off too. An entry is then
// applied: it may be committed only once the follower's own log holds
// it at the leader's term, and never while the follower cannot have it.
// hashicorp/raft takes nothing but the time of contact from a
// heartbeat's answer, and counts a follower's match only from an
// answered append that carried entries, which always reaches the
// follower; these cases check that it stays so.
func TestKeptAnswersNeverCommitFalsely(t *testing.T) {
	for _, tc := range []struct {
		name string
		// act replaces follower f (node fi) and returns its new replica
		// and store, or nil when it is cut off instead.
		act func(t *testing.T, nodes []*raftNode, gates []*gate, fi int, f *replica, store *raft.InmemStore, term uint64) (*replica, *raft.InmemStore)
		// commits says whether the entry may commit at all.
		commits bool
	}{
		{"follower restarted with an empty log", func(t *testing.T, nodes []*raftNode, _ []*gate, fi int, f *replica, _ *raft.InmemStore, _ uint64) (*replica, *raft.InmemStore) {
			f.stop()
			store := raft.NewInmemStore()
			return startOn(t, nodes, fi, store, false), store
		}, true},
		{"follower restarted at a higher term", func(t *testing.T, nodes []*raftNode, _ []*gate, fi int, f *replica, store *raft.InmemStore, term uint64) (*replica, *raft.InmemStore) {
			f.stop()
			if err := store.SetUint64([]byte("CurrentTerm"), term+5); err != nil {
				t.Fatal(err)
			}
			return startOn(t, nodes, fi, store, false), store
		}, false},
		{"follower cut off", func(_ *testing.T, _ []*raftNode, gates []*gate, fi int, f *replica, store *raft.InmemStore, _ uint64) (*replica, *raft.InmemStore) {
			gates[fi].cut.Store(true)
			return f, store
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			nodes, gates := newGatedNodes(t, 3)
			stores := make([]*raft.InmemStore, 3)
			reps := make([]*replica, 3)
			for i := range reps {
				stores[i] = raft.NewInmemStore()
				reps[i] = startOn(t, nodes, i, stores[i], true)
			}
			l := leaderWithin(t, reps, 5*time.Second)
			apply(t, reps, "first")
			fi, cut := (l+1)%3, (l+2)%3
			gates[cut].cut.Store(true)
			raftEventually(t, 5*time.Second, "heartbeats to the follower answered on the leader's node", func() bool {
				return keptFor(nodes[l], nodes[fi].addr())
			})
			leader := reps[l].r
			term := leader.CurrentTerm()
			reps[fi], stores[fi] = tc.act(t, nodes, gates, fi, reps[fi], stores[fi], term)

			f := leader.Apply([]byte("second"), time.Second)
			err := f.Error()
			switch {
			case err == nil && !tc.commits:
				t.Fatalf("entry %d committed though the follower cannot hold it", f.Index())
			case err == nil:
				var e raft.Log
				if gerr := stores[fi].GetLog(f.Index(), &e); gerr != nil || e.Term != term || string(e.Data) != "second" {
					t.Fatalf("entry %d committed; the follower's log has %+v (%v)", f.Index(), e, gerr)
				}
			case tc.commits:
				t.Fatalf("entry not committed: %v", err)
			}
			if !tc.commits {
				raftEventually(t, 5*time.Second, "the leader steps down", func() bool { return leader.State() != raft.Leader })
			}
			gates[cut].cut.Store(false)
			gates[fi].cut.Store(false)
			for _, r := range reps {
				r.stop()
			}
			for _, n := range nodes {
				n.tr.Close()
			}
			waitGoroutines(t, nodes, base)
		})
	}
}
